"""What the ray executor of genmod sweep costs before any training: importing Ray, starting the
local cluster a study gets (127.0.0.1 only, no dashboard), and the executor's own round trip
for a few stand-in runs (each a Python process that exits at once), then shutting down.

    python bench/ray_executor.py --runs 4

Prints one JSON object: the command, the date, the Ray version and the seconds of each step
(docs/studies.md, "Executors", quotes it). Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from genmod.studies.executors import Task


class _Count:
    """A reporter that only counts the ends."""

    def __init__(self) -> None:
        self.codes: list[int] = []

    def started(self, task: Task, pid: int | None, gpus: str | None, *, job: str | None = None):
        pass

    def ended(self, task: Task, exit_code: int, *, error, interrupted, seconds) -> None:
        self.codes.append(exit_code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4, help="stand-in runs in the sweep")
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    wall = time.perf_counter()
    started = time.perf_counter()
    import ray

    import_s = time.perf_counter() - started

    started = time.perf_counter()
    ray.init(address="local", include_dashboard=False, _node_ip_address="127.0.0.1")
    init_s = time.perf_counter() - started
    started = time.perf_counter()
    ray.get(ray.remote(lambda: 1).remote())
    first_task_s = time.perf_counter() - started
    started = time.perf_counter()
    ray.shutdown()
    shutdown_s = time.perf_counter() - started

    from genmod.studies.ray_cluster import RayExecutor

    with tempfile.TemporaryDirectory() as folder:
        tasks = [
            Task(f"run{i}", "run", (sys.executable, "-c", "pass"), Path(folder) / f"run{i}")
            for i in range(args.runs)
        ]
        reporter = _Count()
        started = time.perf_counter()
        RayExecutor(num_cpus=0.5).execute(tasks, reporter)
        sweep_s = time.perf_counter() - started
    if reporter.codes != [0] * args.runs:
        raise SystemExit(f"the stand-in runs ended with {reporter.codes}")
    print(
        json.dumps(
            {
                "command": " ".join([Path(sys.executable).name, *sys.argv]),
                "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                "ray": ray.__version__,
                "cores": os.cpu_count(),
                "import_s": round(import_s, 2),
                "init_local_cluster_s": round(init_s, 2),
                "first_task_s": round(first_task_s, 2),
                "shutdown_s": round(shutdown_s, 2),
                f"executor_{args.runs}_stand_in_runs_s": round(sweep_s, 2),
                "wall_s": round(time.perf_counter() - wall, 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
