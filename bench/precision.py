"""Does mixed bfloat16 cost quality? Test ELBO after equal training, float32 vs mixed_bfloat16.

Trains the README's main model (``--encoder cnn --likelihood bernoulli``, dynamic binarization,
every other setting at its default) for ``--epochs`` epochs with each seed and each precision,
interleaved (seed 0 float32, seed 0 bfloat16, seed 1 float32, ...) so that load from other
processes hits both alike, and prints per seed the test ELBO (all 10,000 test images, nats)
and the training seconds, then the mean and spread of the differences and the median speed
ratio. Not a test: nothing is asserted. The decision it informs is in docs/performance.md
(``--precision auto``).

    python bench/precision.py --data-dir ../shared/data/mnist --epochs 5 --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("GENMOD_DATA_DIR"))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--encoder", default="cnn")
    parser.add_argument("--precisions", default="float32,mixed_bfloat16")
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--out", default="runs/bench-precision")
    args = parser.parse_args()

    from genmod.api import RunConfig, train
    from genmod.train.precision import hardware_bfloat16

    precisions = args.precisions.split(",")
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        for precision in precisions:
            config = RunConfig(
                encoder=args.encoder,
                likelihood="bernoulli",
                binarize="dynamic",
                epochs=args.epochs,
                seed=seed,
                precision=precision,
                train_size=args.train_size,
            )
            started = time.perf_counter()
            result = train(
                config,
                data_dir=args.data_dir,
                out_dir=f"{args.out}/{precision}-{seed}",
                overwrite=True,
            )
            seconds = sum(r["train_seconds"] for r in result.history)
            row = {
                "seed": seed,
                "precision": precision,
                "test_elbo": result.test["elbo"],
                "train_seconds": round(seconds, 1),
                "wall_seconds": round(time.perf_counter() - started, 1),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    base, other = precisions[0], precisions[-1]
    by = {(r["seed"], r["precision"]): r for r in rows}
    seeds = sorted({r["seed"] for r in rows})
    diffs = [by[s, other]["test_elbo"] - by[s, base]["test_elbo"] for s in seeds]
    speed = [by[s, base]["train_seconds"] / by[s, other]["train_seconds"] for s in seeds]
    summary = {
        "epochs": args.epochs,
        "encoder": args.encoder,
        "seeds": seeds,
        f"test_elbo_{base}": [by[s, base]["test_elbo"] for s in seeds],
        f"test_elbo_{other}": [by[s, other]["test_elbo"] for s in seeds],
        "elbo_difference_mean": statistics.mean(diffs),
        "elbo_difference_stdev": statistics.stdev(diffs) if len(diffs) > 1 else None,
        "seed_to_seed_stdev_base": statistics.stdev([by[s, base]["test_elbo"] for s in seeds])
        if len(seeds) > 1
        else None,
        "speed_ratio_median": statistics.median(speed),
        "speed_ratios": speed,
        "hardware_bfloat16": hardware_bfloat16(),
        "machine": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(summary, indent=2))
    listed = ", ".join(f"{d:+.2f}" for d in diffs)
    print(
        f"{other} - {base} test ELBO over {len(seeds)} seeds after {args.epochs} epochs: "
        f"{summary['elbo_difference_mean']:+.2f} nats (differences {listed}); "
        f"{base} seed-to-seed stdev {summary['seed_to_seed_stdev_base'] or 0:.2f}; "
        f"training {summary['speed_ratio_median']:.2f}x faster (median)"
    )


if __name__ == "__main__":
    main()
