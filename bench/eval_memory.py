"""Peak memory of `genmod evaluate`'s estimator against the memory budget it was given.

    python bench/eval_memory.py --data-dir PATH --budgets 64,256,1024 --samples 1000

For each budget a fresh process builds the default CNN model (untrained: memory does not
depend on the weights), evaluates the first ``--test-size`` test images with K importance
samples under that budget, and reports the chunk size genmod derived, its estimate of the
working memory, and the growth of the process's peak resident memory during the evaluation
(the peak is reset just before it through ``/proc/self/clear_refs``, Linux only; the model,
data and TensorFlow are loaded before). The
budget holds when the measured growth stays under it.

A first process evaluates with K = 1 and one sample at a time (printed as budget 0): its
growth is what any evaluation costs besides the chunk (tracing the graph, the binarized test
set, the posterior means), which the budget does not cover.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def status_mib(field: str) -> float:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 2**10
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak_rss() -> None:
    """Linux: writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def child(args) -> None:
    from assemble import build  # bench/assemble.py, beside this script; imports TensorFlow

    from genmod.evaluate.loglik import evaluate_log_likelihood
    from genmod_builtins.mnist_loader import MNIST

    images = MNIST().load(args.data_dir).x_test[: args.test_size]
    model = build(args.model).model
    common = dict(binarize="dynamic", batch_size=args.batch_size, seed=0)
    # Trace TensorFlow's kernels once on a tiny problem so that the measurement is the chunk.
    evaluate_log_likelihood(model, images[:2], None, num_samples=2, chunk_size=1, **common)
    reset_peak_rss()
    before = status_mib("VmRSS")
    if args.budget == 0:  # the overhead of any evaluation: K = 1, one sample at a time
        result = evaluate_log_likelihood(model, images, None, num_samples=1, chunk_size=1, **common)
    else:
        result = evaluate_log_likelihood(
            model, images, None, num_samples=args.samples, memory_budget_mib=args.budget, **common
        )
    peak = status_mib("VmHWM")
    print(
        json.dumps(
            {
                "model": args.model,
                "budget_mib": args.budget,
                "chunk_size": result["chunk_size"],
                "estimated_working_mib": result["working_memory_mib"],
                "rss_before_mib": round(before, 1),
                "peak_rss_mib": round(peak, 1),
                "peak_growth_mib": round(peak - before, 1),
                "seconds": result["seconds"],
                "log_likelihood": round(result["log_likelihood"], 2),
            }
        ),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("GENMOD_DATA_DIR"))
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--budgets", default="64,256,1024")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--test-size", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--budget", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.budget is not None:
        child(args)
        return
    for budget in ["0", *args.budgets.split(",")]:
        argv = [a for a in sys.argv[1:]]
        subprocess.run(
            [sys.executable, os.path.abspath(__file__), *argv, "--budget", budget], check=True
        )


if __name__ == "__main__":
    main()
