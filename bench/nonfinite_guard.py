"""What the non-finite guard costs per training step: genmod's trainer against the same trainer
with the guard taken out (no finiteness flags, gradients applied unconditionally), same model,
data, batch and seeds, timed in alternating epochs in one process.

    python bench/nonfinite_guard.py --data-dir ../shared/data/mnist --model cnn --repeats 5

Prints seconds per epoch of each and the median over repeats of the paired ratio
guarded / unguarded (1.00: free). Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402
from assemble import build, mnist_trainer  # noqa: E402

from genmod.train.trainer import Trainer  # noqa: E402
from genmod_builtins.mnist_loader import MNIST  # noqa: E402


class UnguardedTrainer(Trainer):
    """genmod's trainer without the guard: the reference this benchmark compares against."""

    def _nonfinite_flags(self, loss, metrics, grads) -> tf.Tensor:
        return tf.zeros([4], tf.float32)

    def _apply_if_finite(self, finite, pairs) -> None:
        self.optimizer.apply_gradients(pairs)


def _trainer(cls, model: str, images, batch: int):
    assembled = build(model)
    trainer = mnist_trainer(assembled, images, batch_size=batch)
    if cls is Trainer:
        return trainer
    trainer.__class__ = cls  # same weights, data and seeds; only the step differs
    return trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("GENMOD_DATA_DIR"))
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--images", type=int, default=6400)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    images = MNIST().load(args.data_dir).x_train[: args.images]
    trainers = {
        "guarded": _trainer(Trainer, args.model, images, args.batch),
        "unguarded": _trainer(UnguardedTrainer, args.model, images, args.batch),
    }
    for trainer in trainers.values():
        trainer.train_epoch()  # trace and warm up
    seconds: dict[str, list[float]] = {name: [] for name in trainers}
    for _ in range(args.repeats):
        for name, trainer in trainers.items():
            started = time.perf_counter()
            trainer.train_epoch()
            seconds[name].append(time.perf_counter() - started)
    ratios = [g / u for g, u in zip(seconds["guarded"], seconds["unguarded"], strict=True)]
    result = {
        "date": datetime.date.today().isoformat(),
        "model": args.model,
        "batch": args.batch,
        "images": len(images),
        "seconds_per_epoch": {k: [round(s, 3) for s in v] for k, v in seconds.items()},
        "guarded_over_unguarded_median": round(statistics.median(ratios), 3),
        "ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
