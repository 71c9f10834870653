"""The example study killed twice and swept again: every run must end trained exactly once.

    python bench/study_kill_restart.py --data-dir ../shared/data/mnist \
        --out studies/beta-sweep-killed

Runs ``genmod sweep docs/examples/beta-sweep.toml`` three times into one study folder:

1. stopped with SIGTERM to the sweep while its third run is between epochs 1 and 3 (the sweep
   relays it; the run saves a checkpoint and exits as interrupted);
2. swept again, then killed like a lost machine: SIGKILL to the sweep and to the run it is
   training, mid-run (no checkpoint is written, the run's lock file is left behind);
3. swept again until the study is done.

With ``--reference DIR`` (the same study swept once without a kill, e.g. by
``genmod sweep docs/examples/beta-sweep.toml --out DIR``) it also compares every run's final
test ELBO, reconstruction and KL with the reference's: a resumed run must end with the very
same numbers. Given an ``--out`` that is already there and a ``--result`` file, it only makes
that comparison and adds it to the file.

Then it reads what is on disk: every run's ``metrics.jsonl`` must hold epochs 1..N exactly once
and its ``summary.json`` must say finished; runs done before a kill must have one attempt only.
Prints one JSON object (command, date, wall time of each phase, attempts per run, the checks,
``genmod runs --group-by beta --json``) and writes it to ``--result`` when given
(docs/studies.md quotes it). Not a test: the checks are reported, and the exit code is 1 when
one fails.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STUDY = ROOT / "docs" / "examples" / "beta-sweep.toml"


def _genmod() -> list[str]:
    """The ``genmod`` script installed beside this Python."""
    return [str(Path(sys.executable).parent / "genmod")]


def _epochs(run: Path) -> list[int]:
    path = run / "metrics.jsonl"
    if not path.is_file():
        return []
    epochs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            epochs.append(int(json.loads(line)["epoch"]))
    return epochs


def _attempts(out: Path) -> dict[str, list[dict]]:
    path = out / "sweep-state.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8")).get("runs", {})


def _run_order(out: Path) -> list[str]:
    return [run["name"] for run in json.loads((out / "study.json").read_text())["runs"]]


def _start(out: Path, data_dir: str, log) -> subprocess.Popen:
    command = [*_genmod(), "sweep", str(STUDY), "--out", str(out), "--data-dir", data_dir]
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for(predicate, sweep: subprocess.Popen, what: str, timeout: float = 3600) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if sweep.poll() is not None:
            raise SystemExit(f"the sweep ended (exit {sweep.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.5)


FINAL_VALUES = ("test_elbo", "test_reconstruction", "test_kl")


def same_finals(out: Path, reference: Path) -> dict:
    """Each run's final test values here and in ``reference`` (a study swept without a kill),
    and whether they are identical to the last bit."""
    runs = {}
    for name in _run_order(out):
        here = json.loads((out / name / "summary.json").read_text())["final"]
        there = json.loads((reference / name / "summary.json").read_text())["final"]
        runs[name] = {
            key: {"killed_and_resumed": here[key], "reference": there[key]} for key in FINAL_VALUES
        }
    identical = all(
        v["killed_and_resumed"] == v["reference"] for r in runs.values() for v in r.values()
    )
    return {"folder": str(reference), "identical": identical, "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="the MNIST folder")
    parser.add_argument("--out", required=True, type=Path, help="a study folder not there yet")
    parser.add_argument("--result", type=Path, help="write the JSON here too")
    parser.add_argument("--reference", type=Path, help="the same study swept without a kill")
    args = parser.parse_args()
    out: Path = args.out.resolve()
    if out.exists() and args.reference and args.result and args.result.is_file():
        result = json.loads(args.result.read_text(encoding="utf-8"))
        result["reference"] = same_finals(out, args.reference.resolve())
        args.result.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(json.dumps(result["reference"], indent=2))
        sys.exit(0 if result["reference"]["identical"] else 1)
    if out.exists():
        raise SystemExit(f"{out} exists: give a study folder that is not there yet")
    out.parent.mkdir(parents=True, exist_ok=True)
    log_path = out.parent / f"{out.name}.sweeps.log"
    phases = []
    started = time.monotonic()
    began = datetime.datetime.now(datetime.UTC)

    with open(log_path, "w", encoding="utf-8") as log:
        # 1: SIGTERM while the third run is mid-training
        t0 = time.monotonic()
        sweep = _start(out, args.data_dir, log)
        _wait_for(lambda: (out / "study.json").is_file(), sweep, "study.json")
        order = _run_order(out)
        third = out / order[2]
        _wait_for(lambda: len(_epochs(third)) >= 1, sweep, f"epoch 1 of {order[2]}")
        time.sleep(5)  # into epoch 2
        done_before_term = [
            n
            for n in order
            if (out / n / "summary.json").is_file()
            and json.loads((out / n / "summary.json").read_text())["status"] == "finished"
        ]
        sweep.send_signal(signal.SIGTERM)
        code = sweep.wait(timeout=600)
        phases.append(
            {
                "phase": "SIGTERM to the sweep mid-run",
                "run_hit": order[2],
                "epochs_of_it_before": _epochs(third),
                "exit_code": code,
                "seconds": round(time.monotonic() - t0, 1),
            }
        )

        # 2: swept again, then SIGKILL to the sweep and the run it trains (a lost machine)
        t0 = time.monotonic()
        sweep = _start(out, args.data_dir, log)
        target = order[4]
        _wait_for(lambda: len(_epochs(out / target)) >= 1, sweep, f"epoch 1 of {target}")
        time.sleep(5)
        attempt = _attempts(out)[target][-1]
        os.kill(sweep.pid, signal.SIGKILL)
        sweep.wait()
        os.kill(attempt["pid"], signal.SIGKILL)
        done_before_kill = [
            n
            for n in order
            if (out / n / "summary.json").is_file()
            and json.loads((out / n / "summary.json").read_text())["status"] == "finished"
        ]
        phases.append(
            {
                "phase": "SIGKILL to the sweep and its run mid-run",
                "run_hit": target,
                "epochs_of_it_before": _epochs(out / target),
                "exit_code": -9,
                "seconds": round(time.monotonic() - t0, 1),
            }
        )
        time.sleep(1)

        # 3: swept again to the end
        t0 = time.monotonic()
        sweep = _start(out, args.data_dir, log)
        code = sweep.wait()
        phases.append(
            {
                "phase": "swept again to the end",
                "exit_code": code,
                "seconds": round(time.monotonic() - t0, 1),
            }
        )

    wall = round(time.monotonic() - started, 1)
    attempts = _attempts(out)
    epochs_expected = json.loads((out / "study.json").read_text())["runs"][0]["config"]["epochs"]
    checks = {
        "every run finished": all(
            json.loads((out / n / "summary.json").read_text())["status"] == "finished"
            for n in order
        ),
        "every run's metrics hold each epoch once": all(
            _epochs(out / n) == list(range(1, epochs_expected + 1)) for n in order
        ),
        "runs done before the first kill were never started again": all(
            len(attempts[n]) == 1 for n in done_before_term
        ),
        "the runs hit were resumed, not started over": all(
            [a["action"] for a in attempts[n]][-1] == "resume" for n in (order[2], order[4])
        ),
        "the last sweep exited 0": phases[-1]["exit_code"] == 0,
    }
    status = subprocess.run(
        [*_genmod(), "sweep", "--status", str(out), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    table = subprocess.run(
        [*_genmod(), "runs", str(out), "--group-by", "beta", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    result = {
        "command": " ".join(["python", "bench/study_kill_restart.py", *sys.argv[1:]]),
        "date": began.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "wall_seconds": wall,
        "phases": phases,
        "done_before_sigterm": done_before_term,
        "done_before_sigkill": done_before_kill,
        "attempts": {
            n: [
                (a["action"], a.get("exit_code"), a.get("interrupted")) for a in attempts.get(n, [])
            ]
            for n in order
        },
        "checks": checks,
        "status": json.loads(status.stdout) if status.returncode == 0 else status.stderr,
        "aggregate": json.loads(table.stdout) if table.returncode == 0 else table.stderr,
    }
    if args.reference:
        result["reference"] = same_finals(out, args.reference.resolve())
    text = json.dumps(result, indent=2)
    print(text)
    if args.result:
        args.result.write_text(text + "\n", encoding="utf-8")
    sys.exit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()
