"""One row of the NLL table in docs/models.md: train a recipe (or the README's defaults) and
evaluate it the way the papers do.

    python bench/recipes.py --recipe cnn-iaf --data-dir ../shared/data/mnist
    python bench/recipes.py --defaults --data-dir ../shared/data/mnist      # README command
    python bench/recipes.py --run runs/bench-cnn-iaf --eval-only ...         # evaluate again

Steps, each timed: ``genmod run --recipe NAME`` (command-line overrides with ``--set``, e.g.
``--set epochs=3`` for a trial), then ``genmod evaluate`` of the run's model (the best
checkpoint when the recipe stops early) with K = ``--samples`` (default 5000) on all 10,000
test images, or, with ``--headline-k 1000``, K = 1000 on all images plus K = 1000 and K = 5000
on the first ``--subset`` (1,000) images, the protocol docs/models.md states for models whose
full K = 5000 evaluation is impractically slow here. Prints one JSON object (command, dates,
wall times, test ELBO, NLL with its K and image count, active units, machine) and writes it to
``--out-json``. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
from pathlib import Path

from commands import cpu_model, genmod, run_timed


def _evaluate(run_dir: str, data_dir: str, samples: int, test_size: int | None) -> dict:
    args = ["evaluate", run_dir, "--samples", str(samples), "--json"]
    if test_size:
        args += ["--test-size", str(test_size)]
    if data_dir:
        args += ["--data-dir", data_dir]
    seconds, out = run_timed(genmod(*args))
    result = json.loads(out[out.index("{") :])
    result["wall_seconds"] = round(seconds, 1)
    print(
        f"  NLL {result['nll']:.2f} nats (K={samples}, {result['test_size']} images) in "
        f"{seconds:.0f}s",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--recipe")
    which.add_argument("--defaults", action="store_true", help="the README's main command")
    which.add_argument("--run", help="an existing run folder (with --eval-only)")
    parser.add_argument("--eval-only", action="store_true")
    parser.add_argument("--data-dir", default=os.environ.get("GENMOD_DATA_DIR"))
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a genmod run option, e.g. epochs=3 (repeatable)",
    )
    parser.add_argument("--samples", type=int, default=5000, help="K on all test images")
    parser.add_argument(
        "--headline-k",
        type=int,
        default=None,
        help="K on all images instead of --samples, plus the subset comparison",
    )
    parser.add_argument("--subset", type=int, default=1000)
    parser.add_argument("--out", default=None, help="run folder (default runs/bench-NAME)")
    parser.add_argument("--out-json", default=None)
    args = parser.parse_args()

    name = args.recipe or ("defaults" if args.defaults else Path(args.run).name)
    run_dir = args.run or args.out or f"runs/bench-{name}"
    report: dict = {
        "name": name,
        "run_dir": run_dir,
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    if not args.eval_only:
        command = ["run", "--out", run_dir, "--overwrite", "--quiet", "--json"]
        if args.recipe:
            command += ["--recipe", args.recipe]
        else:
            command += ["--encoder", "cnn", "--likelihood", "bernoulli"]
        for pair in args.set:
            key, _, value = pair.partition("=")
            command += [f"--{key.replace('_', '-')}", value]
        if args.data_dir:
            command += ["--data-dir", args.data_dir]
        seconds, out = run_timed(genmod(*command))
        trained = json.loads(out.strip().splitlines()[-1])
        report["train_command"] = "genmod " + " ".join(command)
        report["train_wall_seconds"] = round(seconds, 1)
        report["epochs_done"] = trained["epochs_done"]
    summary = json.loads((Path(run_dir) / "summary.json").read_text())
    model_epoch = summary.get("model_epoch") or summary.get("epochs_done")
    metrics = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").open()]
    record = next((r for r in metrics if r["epoch"] == model_epoch), metrics[-1])
    report["model_epoch"] = model_epoch
    report["stopped_early"] = bool(summary.get("stopped_early"))
    report["test_elbo"] = record["test_elbo"]
    report["train_seconds_in_epochs"] = round(sum(r["train_seconds"] for r in metrics), 1)
    evaluations = {}
    if args.headline_k:
        evaluations["headline"] = _evaluate(run_dir, args.data_dir, args.headline_k, None)
        evaluations[f"subset_k{args.headline_k}"] = _evaluate(
            run_dir, args.data_dir, args.headline_k, args.subset
        )
        evaluations["subset_k5000"] = _evaluate(run_dir, args.data_dir, 5000, args.subset)
    else:
        evaluations["headline"] = _evaluate(run_dir, args.data_dir, args.samples, None)
    report["evaluations"] = evaluations
    head = evaluations["headline"]
    report.update(
        nll=head["nll"],
        num_samples=head["num_samples"],
        test_images=head["test_size"],
        active_units=head["active_units"],
        latent_dim=head["latent_dim"],
        cpu=cpu_model(),
        cpu_count=os.cpu_count(),
        finished=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    )
    text = json.dumps(report, indent=2)
    print(text)
    out_json = args.out_json or f"bench/results-recipe-{name}.json"
    Path(out_json).write_text(text + "\n")


if __name__ == "__main__":
    main()
