"""Training speed of genmod's loop against a loop written like the TensorFlow CVAE tutorial.

Both loops train the *same* model (built by genmod from the same config and seed) with the
same objective (one-sample ELBO, analytic KL) at the same batch size, in this one process:

* reference: ``tf.data.Dataset.from_tensor_slices(images).shuffle(n).batch(b)``, one
  ``@tf.function`` call per optimizer step, an eager Python ``for`` loop over the dataset
  (https://www.tensorflow.org/tutorials/generative/cvae). The tutorial thresholds the images
  once; here the reference binarizes dynamically inside its step, like genmod, so both loops do
  the same work and their test ELBOs are comparable.
* genmod: :class:`genmod.train.trainer.Trainer` (data as one uint8 tensor, in-graph shuffle and
  binarization, ``steps_per_execution`` steps per call, metrics summed on the device).

Part 1 (throughput) prints training images/second of both and their ratio for each model and
batch size, and the time to the first step (tracing + first step). Measurements alternate
between the two loops and are repeated; the best of the repeats is kept for each, so that
short bursts of load from other processes do not decide a ratio. Each repeat also gives a
paired ratio (genmod's epoch over the reference's epoch next to it); their median and range
are printed too, and the targets are judged on the median. Part 2 (convergence) trains
until the test ELBO reaches a target with genmod's defaults and with the tutorial's settings
(Adam 1e-4, batch 32) in the reference loop, within a time limit. Peak RSS is printed last.

After part 1 the script measures a large dense matrix product in float32 and bfloat16 (the
fastest thing TensorFlow does on the machine) and prints, for each row, the ratio genmod could
reach at best if every FLOP of its training step ran at that speed: the ceiling for any loop.

Run ``python bench/throughput.py --help`` for the flags; docs/performance.md has the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from assemble import build, mnist_trainer  # noqa: E402
from flops import layer_flops, matmul_flops_per_second  # noqa: E402

from genmod.config import RunConfig  # noqa: E402
from genmod.evaluate.elbo import evaluate_elbo  # noqa: E402
from genmod_builtins.mnist_loader import MNIST  # noqa: E402


def training_flops_per_image(encoder: str) -> float:
    """FLOPs of one training image: forward, weight gradients and input gradients, except the
    input gradient of the first layer (the images need none)."""
    per_layer = list(layer_flops(build(encoder, "float32").model).values())
    return 3.0 * sum(per_layer) - per_layer[0]


def ceiling(rows: list[dict]) -> dict:
    """The highest ratio any implementation could reach if every FLOP of a training step ran
    at the speed of a large dense matrix product, the fastest thing TensorFlow does here."""
    peaks = {"float32": matmul_flops_per_second(tf.float32)}
    peaks["bfloat16"] = matmul_flops_per_second(tf.bfloat16)
    print(
        "dense 2048x2048 matmul: "
        + ", ".join(f"{k} {v / 1e9:.0f} GFLOP/s" for k, v in peaks.items()),
        flush=True,
    )
    flops = {encoder: training_flops_per_image(encoder) for encoder in {r["model"] for r in rows}}
    for row in rows:
        work = flops[row["model"]]
        row["training_mflop_per_image"] = round(work / 1e6, 2)
        row["reference_gflop_per_s"] = round(work * row["reference_images_per_s"] / 1e9, 1)
        for name, peak in peaks.items():
            row[f"ceiling_ratio_{name}"] = round(peak / (work * row["reference_images_per_s"]), 2)
        print(
            f"{row['model']} batch {row['batch']}: {work / 1e6:.1f} MFLOP/image, reference at "
            f"{row['reference_gflop_per_s']} GFLOP/s; if every FLOP ran at matmul speed, the "
            f"ratio could reach {row['ceiling_ratio_float32']} in float32, "
            f"{row['ceiling_ratio_bfloat16']} in bfloat16",
            flush=True,
        )
    return {name: round(peak / 1e9, 1) for name, peak in peaks.items()}


def check_targets(rows: list[dict]) -> None:
    """Print issue 5's two throughput targets against this run's ratios."""
    key = "paired_ratio_median"
    for row in rows:
        if row["model"] == "cnn" and row["batch"] == 128:
            verdict = "met" if row[key] >= 2.0 else "NOT met"
            print(
                f"target: cnn batch 128 ratio >= 2: median paired ratio {row[key]:.2f} "
                f"(best-of ratio {row['ratio']:.2f}), {verdict}",
                flush=True,
            )
    slowest = min(rows, key=lambda row: row[key])
    verdict = "met" if slowest[key] >= 1.0 else "NOT met"
    print(
        f"target: never slower: lowest median paired ratio {slowest[key]:.3f} "
        f"({slowest['model']} batch {slowest['batch']}; its repeats ranged "
        f"{slowest['paired_ratio_min']:.3f}-{slowest['paired_ratio_max']:.3f}), {verdict}",
        flush=True,
    )


class ReferenceLoop:
    """The tutorial's structure: tf.data pipeline, one tf.function per step, Python loop."""

    def __init__(self, assembled, images: np.ndarray, batch_size: int, learning_rate: float):
        self.model = assembled.model
        self.objective = assembled.objective
        self.optimizer = keras.optimizers.Adam(learning_rate)
        self.variables = self.model.trainable_variables
        unit = images.astype(np.float32) / 255.0
        self.dataset = tf.data.Dataset.from_tensor_slices(unit).shuffle(len(unit)).batch(batch_size)
        self.seeds = tf.random.Generator.from_seed(1)

    @tf.function
    def train_step(self, x):
        x = tf.cast(tf.random.uniform(tf.shape(x)) < x, tf.float32)  # dynamic binarization
        seed = tf.cast(self.seeds.make_seeds(1)[:, 0], tf.int32)
        with tf.GradientTape() as tape:
            loss = self.objective(
                self.model, x, None, seed=seed, step=self.optimizer.iterations
            ).loss
        gradients = tape.gradient(loss, self.variables)
        self.optimizer.apply_gradients(zip(gradients, self.variables, strict=True))
        return loss

    def first_step_seconds(self) -> float:
        started = time.perf_counter()
        for x in self.dataset.take(1):
            self.train_step(x).numpy()
        return time.perf_counter() - started

    def epoch(self) -> tuple[int, float]:
        """One pass (the tutorial keeps the last partial batch); returns (images, seconds)."""
        started = time.perf_counter()
        count = 0
        loss = None
        for x in self.dataset:
            loss = self.train_step(x)
            count += int(x.shape[0])
        float(loss)  # wait for the last step
        return count, time.perf_counter() - started


class GenmodLoop:
    def __init__(self, assembled, images, batch_size, learning_rate, **trainer_options):
        self.model = assembled.model
        self.trainer = mnist_trainer(
            assembled,
            images,
            batch_size=batch_size,
            learning_rate=learning_rate,
            seed=1,
            **trainer_options,
        )

    def first_step_seconds(self) -> float:
        t = self.trainer
        started = time.perf_counter()
        t._train_chunk(tf.range(t.num_items), tf.constant(0), tf.constant(1)).numpy()
        return time.perf_counter() - started

    def epoch(self) -> tuple[int, float]:
        started = time.perf_counter()
        self.trainer.train_epoch()
        seconds = time.perf_counter() - started
        return self.trainer.steps_per_epoch * self.trainer.batch_size, seconds


def throughput(args, images: np.ndarray) -> list[dict]:
    rows = []
    for encoder in args.models:
        for batch in args.batch_sizes:

            def genmod_loop(precision: str, encoder=encoder, batch=batch) -> GenmodLoop:
                return GenmodLoop(
                    build(encoder, precision),
                    images,
                    batch,
                    args.learning_rate,
                    steps_per_execution=args.steps_per_execution,
                    precision=precision,
                    jit_compile=args.jit_compile,
                )

            loops = {
                "reference": ReferenceLoop(
                    build(encoder, args.precision), images, batch, args.learning_rate
                ),
                "genmod": genmod_loop(args.precision),
            }
            if args.also_precision:
                loops[args.also_precision] = genmod_loop(args.also_precision)
            first = {name: loop.first_step_seconds() for name, loop in loops.items()}
            rates: dict[str, list[float]] = {name: [] for name in loops}
            names = list(loops)
            for repeat in range(args.repeats):
                # Alternate the order so that neither loop always runs first in a repeat.
                for name in names if repeat % 2 == 0 else names[::-1]:
                    n, seconds = loops[name].epoch()
                    rates[name].append(n / seconds)
            best = {name: max(values) for name, values in rates.items()}
            paired = sorted(g / r for g, r in zip(rates["genmod"], rates["reference"], strict=True))
            row = {
                "model": encoder,
                "batch": batch,
                "reference_images_per_s": round(best["reference"], 1),
                "genmod_images_per_s": round(best["genmod"], 1),
                "ratio": round(best["genmod"] / best["reference"], 3),
                "paired_ratio_median": round(float(np.median(paired)), 3),
                "paired_ratio_min": round(paired[0], 3),
                "paired_ratio_max": round(paired[-1], 3),
                "reference_first_step_s": round(first["reference"], 2),
                "genmod_first_step_s": round(first["genmod"], 2),
            }
            if args.also_precision:
                p = args.also_precision
                row[f"genmod_{p}_images_per_s"] = round(best[p], 1)
                row[f"genmod_{p}_ratio"] = round(best[p] / best["reference"], 3)
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def time_to_target(args, mnist) -> list[dict]:
    """Wall time (training only; evaluation after each epoch is not counted) to a test ELBO."""
    rows = []
    x_test = mnist.x_test[: args.test_size]
    settings = [
        ("genmod defaults", GenmodLoop, RunConfig().batch_size, RunConfig().learning_rate),
        ("tutorial settings, reference loop", ReferenceLoop, 32, 1e-4),
    ]
    for encoder in args.models:
        target = args.target_elbo[encoder]
        for label, cls, batch, lr in settings:
            assembled = build(encoder, args.precision)
            extra = {}
            if cls is GenmodLoop:
                extra = dict(precision=args.precision, jit_compile=args.jit_compile)
            loop = cls(assembled, mnist.x_train, batch, lr, **extra)
            trained, epochs, elbo, reached = 0.0, 0, float("-inf"), None
            while trained < args.max_seconds:
                _, seconds = loop.epoch()
                trained += seconds
                epochs += 1
                elbo = evaluate_elbo(loop.model, x_test, None, binarize="dynamic")["elbo"]
                print(f"  {encoder} {label}: epoch {epochs} test ELBO {elbo:.2f} at {trained:.0f}s")
                if elbo >= target:
                    reached = trained
                    break
            row = {
                "model": encoder,
                "setting": label,
                "batch": batch,
                "learning_rate": lr,
                "target_elbo": target,
                "seconds_to_target": None if reached is None else round(reached, 1),
                "epochs": epochs,
                "last_test_elbo": round(elbo, 2),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("GENMOD_DATA_DIR"), required=False)
    parser.add_argument("--models", default="cnn,mlp", type=lambda s: s.split(","))
    parser.add_argument(
        "--batch-sizes", default="32,128,512", type=lambda s: [int(b) for b in s.split(",")]
    )
    parser.add_argument(
        "--throughput-images",
        type=int,
        default=12800,
        help="training images per timed epoch in part 1 (the first N of MNIST)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="timed epochs per loop, alternated between the loops (best kept, and paired ratios)",
    )
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--steps-per-execution", type=int, default=RunConfig().steps_per_execution)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--jit-compile", action="store_true")
    parser.add_argument(
        "--also-precision",
        default=None,
        help="also time genmod under this precision (e.g. mixed_bfloat16) against the same "
        "float32 reference",
    )
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument(
        "--no-ceiling",
        action="store_true",
        help="skip the matmul-speed ceiling printed after part 1",
    )
    parser.add_argument("--convergence", action="store_true", help="also run part 2")
    parser.add_argument(
        "--target-elbo",
        default="cnn=-105,mlp=-110",
        type=lambda s: {k: float(v) for k, v in (p.split("=") for p in s.split(","))},
        help="per-model test ELBO targets in nats",
    )
    parser.add_argument(
        "--max-seconds", type=float, default=600, help="training-time limit per run in part 2"
    )
    parser.add_argument("--test-size", type=int, default=10000)
    parser.add_argument("--json", help="write all rows to this file")
    args = parser.parse_args(argv)

    mnist = MNIST().load(args.data_dir)
    print(
        f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU(s), load "
        f"{os.getloadavg()[0]:.2f}, precision {args.precision}, jit_compile {args.jit_compile}",
        flush=True,
    )
    result: dict = {"argv": sys.argv[1:]}
    if not args.skip_throughput:
        result["throughput"] = throughput(args, mnist.x_train[: args.throughput_images])
        check_targets(result["throughput"])
        if not args.no_ceiling:
            result["matmul_gflop_per_s"] = ceiling(result["throughput"])
    if args.convergence:
        result["convergence"] = time_to_target(args, mnist)
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    result["peak_rss_gib"] = round(peak_gib, 2)
    print(f"peak RSS of this process: {peak_gib:.2f} GiB", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
