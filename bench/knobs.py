"""genmod's images/second under each loop setting, measured in one process, interleaved.

    python bench/knobs.py --data-dir PATH --model cnn --batch 128

Settings: steps_per_execution 1/10/50/200, XLA jit_compile, mixed_bfloat16, and the thread
pools (inter-op 1). Each setting trains ``--images`` images per timed epoch; the timed epochs
rotate over the settings ``--repeats`` times and the best per setting is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402
from assemble import build, mnist_trainer  # noqa: E402  (bench/assemble.py, beside this script)

from genmod_builtins.mnist_loader import MNIST  # noqa: E402

SETTINGS = {
    "spe=1": dict(steps_per_execution=1),
    "spe=10": dict(steps_per_execution=10),
    "spe=50 (default)": dict(steps_per_execution=50),
    "spe=200": dict(steps_per_execution=200),
    "jit_compile": dict(steps_per_execution=50, jit_compile=True),
    "mixed_bfloat16": dict(steps_per_execution=50, precision="mixed_bfloat16"),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=os.environ.get("GENMOD_DATA_DIR"))
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--images", type=int, default=12800)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--settings", default=",".join(SETTINGS), type=lambda s: s.split(","))
    parser.add_argument("--inter-op-threads", type=int, default=0, help="0: TensorFlow's choice")
    args = parser.parse_args()
    if args.inter_op_threads:
        tf.config.threading.set_inter_op_parallelism_threads(args.inter_op_threads)

    images = MNIST().load(args.data_dir).x_train[: args.images]
    trainers = {}
    for name in args.settings:
        options = dict(SETTINGS[name])
        assembled = build(args.model, options.get("precision", "float32"))
        trainers[name] = mnist_trainer(assembled, images, batch_size=args.batch, **options)
    first = {}
    for name, trainer in trainers.items():
        started = time.perf_counter()
        trainer._train_chunk(tf.range(trainer.num_items), tf.constant(0), tf.constant(1)).numpy()
        first[name] = time.perf_counter() - started
    best = dict.fromkeys(trainers, 0.0)
    for _ in range(args.repeats):
        for name, trainer in trainers.items():
            started = time.perf_counter()
            trainer.train_epoch()
            rate = trainer.steps_per_epoch * trainer.batch_size / (time.perf_counter() - started)
            best[name] = max(best[name], rate)
    base = best.get("spe=50 (default)") or next(iter(best.values()))
    print(f"{args.model} batch {args.batch}, load {os.getloadavg()[0]:.2f}")
    for name in trainers:
        row = {
            "setting": name,
            "images_per_s": round(best[name], 1),
            "vs_default": round(best[name] / base, 3),
            "first_step_s": round(first[name], 2),
        }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
