"""Where a training step's time goes: per-op-type CPU time from a ``tf.profiler`` trace, and the
model's FLOPs per image (from the compiled graph's cost analysis where available, and counted
by hand from the layer shapes).

    python bench/profile_step.py --data-dir PATH --model cnn --batch 128 --steps 40

Prints the op types taking most time (summed over the TensorFlow executor's threads, so with
two threads the total can exceed wall time), FLOPs per training image and the achieved FLOP/s.
"""

from __future__ import annotations

import argparse
import collections
import glob
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.tsl.profiler.protobuf import xplane_pb2  # noqa: E402

from genmod.build import build_model  # noqa: E402
from genmod.config import RunConfig  # noqa: E402
from genmod.plugins import get_registry  # noqa: E402
from genmod.precision import precision_policy  # noqa: E402
from genmod.training import Trainer  # noqa: E402
from genmod_builtins.mnist_loader import MNIST  # noqa: E402


def layer_flops(model) -> dict[str, float]:
    """Forward multiply-adds x 2 per image for Dense/Conv2D/Conv2DTranspose layers."""
    flops: dict[str, float] = {}
    x = tf.zeros([1, 28, 28, 1])

    def count(layer, out_shape, in_shape):
        if isinstance(layer, keras.layers.Conv2DTranspose):
            kh, kw, cout, cin = layer.kernel.shape
            return 2.0 * in_shape[1] * in_shape[2] * kh * kw * cin * cout
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape
            return 2.0 * out_shape[1] * out_shape[2] * kh * kw * cin * cout
        if isinstance(layer, keras.layers.Dense):
            return 2.0 * float(np.prod(layer.kernel.shape))
        return 0.0

    originals = {}
    for net in (model.encoder, model.decoder):
        for layer in net._flatten_layers(include_self=False):
            if isinstance(
                layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose, keras.layers.Dense)
            ):
                originals[id(layer)] = layer

                def hook(layer=layer):
                    call = layer.call

                    def wrapped(inputs, *a, **k):
                        out = call(inputs, *a, **k)
                        flops[f"{layer.path}"] = count(layer, out.shape, inputs.shape)
                        return out

                    layer.call = wrapped

                hook()
    q = model.posterior(x)
    model.observation(q.mean())
    return flops


# Trace events that enclose the real ops (the executor and the function call itself).
ENCLOSING = {"Process", "Run", "ParallelFor"}


def op_times(logdir: str) -> collections.Counter:
    (path,) = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    totals: collections.Counter = collections.Counter()
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            for event in line.events:
                name = names.get(event.metadata_id, "?")
                if ":" not in name:  # executor bookkeeping that encloses the ops
                    continue
                op_type = name.split(":")[-1].strip()
                if op_type in ENCLOSING or op_type.startswith("__inference"):
                    continue
                totals[op_type] += event.duration_ps / 1e12
    return totals


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=os.environ.get("GENMOD_DATA_DIR"))
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()

    images = MNIST().load(args.data_dir).x_train[: args.batch * args.steps]
    config = RunConfig(encoder=args.model).resolve(get_registry())
    keras.utils.set_random_seed(0)
    with precision_policy(args.precision):
        assembled = build_model(config, get_registry(), (28, 28, 1))
    flops = layer_flops(assembled.model)
    forward = sum(flops.values())
    trainer = Trainer(
        assembled.model,
        assembled.objective,
        images,
        None,
        binarize="dynamic",
        batch_size=args.batch,
        learning_rate=1e-3,
        seed=0,
        steps_per_execution=args.steps,
        precision=args.precision,
    )
    trainer.train_epoch()  # trace and warm up
    started = time.perf_counter()
    trainer.train_epoch()
    seconds = time.perf_counter() - started
    rate = args.steps * args.batch / seconds
    logdir = tempfile.mkdtemp(prefix="genmod-profile-")
    tf.profiler.experimental.start(logdir)
    trainer.train_epoch()
    tf.profiler.experimental.stop()
    totals = op_times(logdir)
    total = sum(totals.values())
    print(f"{args.model} batch {args.batch} {args.precision}: {rate:.0f} images/s (untraced)")
    print("forward FLOPs per image by layer (2 x multiply-adds):")
    for name, value in flops.items():
        print(f"  {name:60s} {value / 1e6:8.2f} MFLOP")
    print(
        f"forward {forward / 1e6:.1f} MFLOP/image; training ~3x = {3 * forward / 1e6:.1f} "
        f"MFLOP/image -> {3 * forward * rate / 1e9:.1f} GFLOP/s achieved"
    )
    print(f"op time in the profiled epoch (summed over threads, {total:.2f} s):")
    for op, value in totals.most_common(args.top):
        print(f"  {op:45s} {value:7.3f} s  {100 * value / total:5.1f}%")


if __name__ == "__main__":
    main()
