"""Does ex-post density estimation improve the default model's samples? (docs/models.md)

    python bench/expost.py --data-dir ../shared/data/mnist                # train the defaults
    python bench/expost.py --run runs/bench-defaults --data-dir ...       # an existing run

Trains the README's default model (``genmod run --encoder cnn --likelihood bernoulli``, 10
epochs) unless ``--run`` names a finished run, then evaluates FID, KID and precision/recall
(domain-classifier features, ``--samples`` generated images against the 10,000 test images)
twice: with codes from the prior (``--sampler prior``) and from a 10-component Gaussian mixture
fitted to the training codes (``--sampler gmm``, Ghosh et al. 2020). Each evaluation is run
``--repeats`` times with different seeds (``--seed``), so the table can show the spread.
Prints one JSON object (commands, dates, wall times, the values with their methods' key facts,
machine) and writes it to ``--out-json``. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
from pathlib import Path

from commands import cpu_model, genmod, run_timed

METRICS = ("fid", "kid", "precision-recall")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data/mnist")
    parser.add_argument("--run", default=None, help="a finished run to evaluate (no training)")
    parser.add_argument("--out", default="runs/bench-expost-defaults")
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out-json", default="bench/results-expost.json")
    args = parser.parse_args()
    record: dict = {
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"cpu": cpu_model(), "python": platform.python_version()},
        "commands": [],
    }
    run_dir = args.run
    if run_dir is None:
        run_dir = args.out
        command = genmod(
            "run", "--encoder", "cnn", "--likelihood", "bernoulli", "--data-dir", args.data_dir,
            "--out", run_dir, "--overwrite", "--quiet",
        )
        seconds, _ = run_timed(command)
        record["commands"].append({"command": " ".join(command), "seconds": round(seconds, 1)})
    rows = []
    for sampler in ("prior", "gmm"):
        for repeat in range(args.repeats):
            command = genmod(
                "evaluate", run_dir, "--data-dir", args.data_dir, "--sampler", sampler,
                "--seed", str(repeat), "--metric-opt", f"samples={args.samples}", "--json",
                "--quiet", *[a for m in METRICS for a in ("--metric", m)],
            )
            seconds, out = run_timed(command)
            result = json.loads(out)
            values = {k: result["values"][k]["value"] for k in
                      ("fid", "kid", "kid_std", "precision", "recall")}
            extractor = result["values"]["fid"]["method"]["extractor"]
            rows.append({"sampler": sampler, "seed": repeat, **values,
                         "seconds": round(seconds, 1)})
            record["extractor"] = {k: extractor.get(k) for k in
                                   ("name", "weights_sha256", "trained_on", "feature_dims")}
            record["commands"].append({"command": " ".join(command), "seconds": round(seconds, 1)})
            print(json.dumps(rows[-1]), flush=True)
    record["rows"] = rows
    record["finished"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    text = json.dumps(record, indent=2)
    print(text)
    Path(args.out_json).write_text(text + "\n")


if __name__ == "__main__":
    main()
