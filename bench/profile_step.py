"""Where a training step's time goes: per-op-type CPU time from a ``tf.profiler`` trace, and the
model's FLOPs per image (from the compiled graph's cost analysis where available, and counted
by hand from the layer shapes).

    python bench/profile_step.py --data-dir PATH --model cnn --batch 128 --steps 40

Prints the op types taking most time (summed over the TensorFlow executor's threads, so with
two threads the total can exceed wall time), FLOPs per training image and the achieved FLOP/s.

With ``--kernels`` it then runs the same steps again in a child process with
``ONEDNN_VERBOSE=1`` and prints every oneDNN kernel (primitive, implementation, pass and
problem shape) with its time per step and, for convolutions, the GFLOP/s it reached: this is
where the gap between the model's FLOPs and the machine's matrix-product speed comes from.
"""

from __future__ import annotations

import argparse
import collections
import glob
import os
import re
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402
from assemble import build, mnist_trainer  # noqa: E402
from flops import layer_flops  # noqa: E402  (bench/flops.py, beside this script)
from tensorflow.tsl.profiler.protobuf import xplane_pb2  # noqa: E402

from genmod_builtins.mnist_loader import MNIST  # noqa: E402

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


CONV_SHAPE = re.compile(
    r"mb(\d+)_ic(\d+)oc(\d+)_ih\d+oh(\d+)kh(\d+)sh\d+dh\d+ph\d+_iw\d+ow(\d+)kw(\d+)"
)


def conv_flops(problem: str) -> float:
    """2 x multiply-adds of a oneDNN convolution problem (the same for its forward pass, input
    gradient and weight gradient); 0 when ``problem`` is not a 2-D convolution."""
    m = CONV_SHAPE.search(problem)
    if not m:
        return 0.0
    mb, ic, oc, oh, kh, ow, kw = (int(g) for g in m.groups())
    return 2.0 * mb * oh * ow * kh * kw * ic * oc


def kernel_table(argv: list[str], steps: int, top: int) -> None:
    """Re-run this script with oneDNN's verbose log on and sum its kernels' times per step."""
    env = dict(os.environ, ONEDNN_VERBOSE="1")
    child = subprocess.run(
        [sys.executable, os.path.abspath(__file__), *argv],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    totals: dict[tuple[str, str, str, str], list[float]] = collections.defaultdict(lambda: [0, 0])
    for line in child.stdout.splitlines():
        fields = line.split(",")
        if not line.startswith("onednn_verbose,") or "exec" not in fields[:4]:
            continue
        at = fields.index("exec")
        kind, impl, prop = fields[at + 2], fields[at + 3], fields[at + 4]
        problem, ms = fields[-2], float(fields[-1])
        key = (kind, impl, prop, problem if kind == "convolution" else fields[at + 5][:40])
        totals[key][0] += ms
        totals[key][1] += 1
    total = sum(ms for ms, _ in totals.values())
    print(f"oneDNN kernels, per training step (total {total / steps:.2f} ms/step):")
    ranked = sorted(totals.items(), key=lambda item: -item[1][0])[:top]
    for (kind, impl, prop, problem), (ms, _) in ranked:
        flops = conv_flops(problem) if kind == "convolution" else 0.0
        rate = f"{flops * steps / ms / 1e6:6.1f} GFLOP/s" if flops else " " * 13
        print(
            f"  {ms / steps:6.2f} ms {100 * ms / total:5.1f}%  {rate}  {kind} {prop} "
            f"[{impl}] {problem}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=os.environ.get("GENMOD_DATA_DIR"))
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument(
        "--kernels", action="store_true", help="also list oneDNN kernel times (ONEDNN_VERBOSE)"
    )
    args = parser.parse_args()
    kernels_child = os.environ.get("ONEDNN_VERBOSE") == "1"

    images = MNIST().load(args.data_dir).x_train[: args.batch * args.steps]
    assembled = build(args.model, args.precision)
    flops = layer_flops(assembled.model)
    forward = sum(flops.values())
    trainer = mnist_trainer(
        assembled,
        images,
        batch_size=args.batch,
        steps_per_execution=args.steps,
        precision=args.precision,
    )
    trainer.train_epoch()  # trace and warm up
    started = time.perf_counter()
    trainer.train_epoch()
    seconds = time.perf_counter() - started
    rate = args.steps * args.batch / seconds
    if kernels_child:
        return  # the parent reads oneDNN's log of the two epochs above
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
    if args.kernels:
        argv = [a for a in sys.argv[1:] if a != "--kernels"]
        kernel_table(argv, steps=2 * args.steps, top=args.top)


if __name__ == "__main__":
    main()
