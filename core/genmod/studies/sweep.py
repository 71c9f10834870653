"""``genmod sweep``: run a study's plan in its folder, once per run, resumably.

:func:`sweep` holds the study folder's lock for the whole sweep (one sweep per study; each run
is locked by its own ``genmod`` process), reconciles the plan with the folder's ``study.json``
(:func:`genmod.studies.record.reconcile`), writes ``study.json`` and the runs' config files
before any run starts, then hands the runs that are not done to an executor: ``genmod run
--config STUDY/.plan/NAME.toml --out STUDY/NAME`` for a new run, ``genmod resume STUDY/NAME``
for one that has started (unfinished, interrupted or failed after it began). Done runs are
skipped, so sweeping again after a kill finishes the study with every run trained exactly once.
:func:`study_status` reads the states without locking anything. No TensorFlow here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genmod.config.files import CONFIG_FILE
from genmod.contract.errors import GenmodError, RunDirError
from genmod.runs.folder import OUTPUT_LOGS
from genmod.runs.lock import describe_holder, holder_state, is_lock_file, read_holder, run_lock
from genmod.studies import record as records
from genmod.studies.executors import Executor, Task, exit_description
from genmod.studies.launch import signals_handled
from genmod.studies.plan import Plan, PlannedRun, canonical_json
from genmod.studies.record import STUDY_FILE
from genmod.studies.state import STATE_FILE, STATES, Attempts, RunStatus, run_status

__all__ = [
    "StudyStatus",
    "SweepResult",
    "SweepStopped",
    "default_study_dir",
    "genmod_command",
    "plan_lines",
    "runs_text",
    "study_status",
    "sweep",
    "task_for",
]

#: the exit code of a sweep in which a run failed or was left undone
EXIT_NOT_ALL_DONE = 1


def default_study_dir(plan: Plan) -> Path:
    """``studies/<name>``, relative to the working folder."""
    return Path("studies") / plan.name


def genmod_command() -> list[str]:
    """How to start ``genmod`` in a child: the ``genmod`` script next to this Python when it
    is there (a virtual environment), else ``python -c`` calling its entry point."""
    script = Path(sys.executable).with_name("genmod")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from genmod.cli import main; main()"]


def task_for(plan: Plan, run: PlannedRun, study_dir: Path) -> Task:
    """The command that continues ``run``: ``genmod resume`` when its folder holds a
    ``config.toml`` (the run started), else ``genmod run`` with its planned config file (and
    the ``genmod resume`` command as its :attr:`Task.resume_argv`)."""
    run_dir = Path(study_dir) / run.name
    data = ["--data-dir", plan.data_dir] if plan.data_dir else []
    resume = (*genmod_command(), "resume", str(run_dir), *data)
    if (run_dir / CONFIG_FILE).is_file():
        return Task(run.name, "resume", resume, run_dir)
    recipe = ["--recipe", plan.recipe.partition("@")[0]] if plan.recipe else []
    config = records.run_config_path(study_dir, run.name)
    argv = [*genmod_command(), "run", "--config", str(config), "--out", str(run_dir)]
    return Task(run.name, "run", tuple(argv + data + recipe), run_dir, resume_argv=resume)


@dataclasses.dataclass(frozen=True)
class StudyStatus:
    """The study in a folder: its name, each run's :class:`RunStatus` in plan order, and who
    sweeps it now (None: nobody)."""

    study_dir: Path
    name: str
    runs: tuple[RunStatus, ...]
    sweeper: str | None

    @property
    def counts(self) -> dict[str, int]:
        """Runs per state, every state of :data:`genmod.studies.state.STATES` present."""
        return {state: sum(r.state == state for r in self.runs) for state in STATES}


def study_status(study_dir: str | Path) -> StudyStatus:
    """The state of every run of the study in ``study_dir``; a folder without ``study.json``
    is a :class:`RunDirError`. Reads only: never locks or waits."""
    study_dir = Path(study_dir)
    record = records.read_record(study_dir)
    if record is None:
        raise RunDirError(
            f"{str(study_dir)!r} is not a study folder (no {records.STUDY_FILE}); `genmod sweep "
            "STUDY.toml` makes one."
        )
    attempts = Attempts(study_dir)
    runs = tuple(
        _marked(run_status(study_dir, run["name"], attempts), study_dir, run)
        for run in record["runs"]
    )
    sweeper = None
    if holder_state(study_dir) == "held":
        sweeper = describe_holder(read_holder(study_dir))
    return StudyStatus(study_dir, record["name"], runs, sweeper)


def _marked(status: RunStatus, study_dir: Path, run: dict[str, Any]) -> RunStatus:
    """``status`` with a note when the run's folder is not the planned run (a sweep refuses
    the study until it is moved out)."""
    problem = records.run_folder_problem(study_dir, run["name"], run["config"])
    if problem is None:
        return status
    return dataclasses.replace(
        status, state="foreign", note=f"NOT THE PLANNED RUN: its folder {problem}"
    )


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """What a sweep did: the study's states at its end, the runs it started, and the signal
    that stopped it (None: it ran to the end)."""

    status: StudyStatus
    started: tuple[str, ...]
    stopped_by: int | None
    seconds: float

    @property
    def all_done(self) -> bool:
        """Whether every run of the study is done."""
        return self.status.counts["done"] == len(self.status.runs)

    @property
    def exit_code(self) -> int:
        """0 when every run is done (even if a signal came as the last ones ended), 128 + the
        signal when a signal stopped the sweep before, else 1."""
        if self.stopped_by is not None and not self.all_done:
            return 128 + self.stopped_by
        return 0 if self.all_done else EXIT_NOT_ALL_DONE


class _Reporter:
    """Records attempts in ``sweep-state.json`` and tells the user, one line per event."""

    def __init__(self, attempts: Attempts, total: int, log: Callable[[str], None]) -> None:
        self.attempts, self.total, self.log = attempts, total, log
        self.count = 0
        self.started_names: list[str] = []

    def started(
        self, task: Task, pid: int | None, gpus: str | None, *, job: str | None = None
    ) -> None:
        self.count += 1
        self.started_names.append(task.name)
        extra: dict[str, Any] = {"gpus": gpus} if gpus is not None else {}
        if job is not None:
            extra["job"] = job
        self.attempts.started(task.name, task.action, pid, **extra)
        where = f" on GPU {gpus}" if gpus is not None else ""
        where += f" as {job}" if job is not None else ""
        self.log(f"[{self.count}/{self.total}] {task.action} {task.name}{where}")

    def ended(
        self, task: Task, exit_code: int, *, error: str | None, interrupted: bool, seconds: float
    ) -> None:
        self.attempts.ended(
            task.name, exit_code, error=error, interrupted=interrupted, seconds=seconds
        )
        if exit_code == 0:
            self.log(f"done {task.name} in {seconds:.0f}s")
        elif interrupted:
            self.log(f"stopped {task.name} after {seconds:.0f}s (resumable)")
        else:
            log_file = task.run_dir / OUTPUT_LOGS[1]
            how = exit_description(exit_code)
            said = f"{how}: {error}" if error and error != how else how
            where = f" ({log_file})" if log_file.is_file() and not log_file.is_symlink() else ""
            self.log(f"FAILED {task.name}: {said}{where}")


def sweep(
    plan: Plan,
    study_dir: str | Path,
    executor: Executor,
    *,
    add: bool = False,
    log: Callable[[str], None] = print,
    check: Callable[[list[PlannedRun]], None] | None = None,
) -> SweepResult:
    """Run ``plan`` in ``study_dir`` with ``executor`` and return what happened.

    Refuses, before starting anything, with :class:`~genmod.contract.errors.RunDirError` a
    folder that is not a study folder or that another sweep holds (naming it), and with
    :class:`~genmod.contract.errors.ConfigError` a plan that differs from the folder's
    ``study.json`` (unless ``add`` and the plan only adds runs). ``check(runs)``, when given,
    receives the runs not started yet before anything is written, and refuses the sweep by
    raising (``genmod sweep`` builds each one with :func:`genmod.api.check_run`). ``log``
    receives one line per event. A failed run is recorded and reported; it does not stop the
    others.
    """
    study_dir = Path(study_dir)
    started_at = time.monotonic()
    records.check_study_dir(study_dir)
    created = not study_dir.exists() and not study_dir.is_symlink()
    try:
        return _sweep_locked(plan, study_dir, executor, add, log, check, started_at)
    except (GenmodError, SweepStopped):
        if created:
            _remove_unstarted_study(study_dir)  # refused before any run started: not kept
        raise


class SweepStopped(BaseException):
    """SIGINT or SIGTERM reached the sweep before any run started (while the runs are being
    checked): nothing was started, and a new study folder was not kept. ``signal``: its
    number (the command exits with 128 + it). A :class:`BaseException`, like
    :class:`KeyboardInterrupt`, so that no ``except Exception`` on the way swallows it."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(f"stopped by signal {signal_number} before any run started")
        self.signal = signal_number


def _signals_stop_the_check() -> contextlib.AbstractContextManager[None]:
    """While the block runs in the main thread, SIGINT, SIGTERM and SIGHUP (a closed terminal)
    raise :class:`SweepStopped` (the lock is then released and its record removed, as on any
    refusal)."""

    def stop(signum: int, frame: Any) -> None:
        raise SweepStopped(signum)

    numbers = [signal.SIGINT, signal.SIGTERM]
    numbers += [signal.SIGHUP] if hasattr(signal, "SIGHUP") else []
    return signals_handled(stop, numbers)


def _remove_unstarted_study(study_dir: Path) -> None:
    """Remove the study folder this sweep made when no run of it started: it holds only what
    the sweep wrote (the lock's files, ``study.json``, ``.plan/``); anything else (a run
    folder, ``sweep-state.json``) keeps it."""
    ours = {records.STUDY_FILE, records.PLAN_DIR}
    try:
        entries = list(study_dir.iterdir())
        if not all(
            (p.name in ours or is_lock_file(p.name)) and not p.is_symlink() for p in entries
        ):
            return
        for path in entries:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        study_dir.rmdir()
    except OSError:
        pass  # left as it is: the next sweep of the same study continues in it


def _sweep_locked(
    plan: Plan,
    study_dir: Path,
    executor: Executor,
    add: bool,
    log: Callable[[str], None],
    check: Callable[[list[PlannedRun]], None] | None,
    started_at: float,
) -> SweepResult:
    """:func:`sweep` once the folder has been checked: everything under the study's lock."""
    with run_lock(study_dir, "genmod sweep", create=True, what="study folder"):
        previous = records.read_record(study_dir)
        if previous is not None:
            change = records.reconcile(previous, plan, add=add, study_dir=study_dir)
            if change.added:
                log(f"adding {len(change.added)} run(s) to the study: {', '.join(change.added)}")
            if previous.get("name") != plan.name:
                log(
                    f"note: the study is now named {plan.name!r} ({STUDY_FILE} said "
                    f"{str(previous.get('name'))[:100]!r}); its runs are unchanged"
                )
        records.refuse_foreign_run_folders(study_dir, plan)
        if check is not None:
            fresh = [r for r in plan.runs if not (study_dir / r.name / "config.toml").exists()]
            if fresh:
                with _signals_stop_the_check():
                    check(fresh)
        if previous is None or _comparable(previous) != _comparable(records.plan_record(plan)):
            records.write_record(study_dir, plan)  # a new plan, runs added, or new comments
        records.write_run_configs(study_dir, plan)
        attempts = Attempts(study_dir)
        if attempts.damaged is not None:
            kept = attempts.set_aside()
            log(
                f"note: {STATE_FILE} could not be read ({attempts.damaged}); "
                + (f"kept as {kept.name}; " if kept else "")
                + "the record of attempts starts over (the run folders tell what is done)"
            )
        tasks, done = [], 0
        for run in plan.runs:
            state = run_status(study_dir, run.name, attempts)
            if state.state == "done":
                done += 1
            elif state.state == "running":
                log(f"skipping {run.name}: it is being written by {state.note}")
            else:
                tasks.append(task_for(plan, run, study_dir))
        log(
            f"study {plan.name}: {runs_text(len(plan.runs))}, {done} done, {len(tasks)} to "
            f"start, in {study_dir}; executor {executor.describe()}"
        )
        reporter = _Reporter(attempts, len(tasks), log)
        stopped_by = executor.execute(tasks, reporter) if tasks else None
    status = study_status(study_dir)
    result = SweepResult(
        status, tuple(reporter.started_names), stopped_by, time.monotonic() - started_at
    )
    log(_closing_line(plan, result))
    return result


def runs_text(count: int) -> str:
    """``1 run``, ``12 runs``."""
    return f"{count} run" if count == 1 else f"{count} runs"


def _comparable(record: dict[str, Any]) -> str:
    return canonical_json({k: v for k, v in record.items() if k != "genmod_version"})


def _closing_line(plan: Plan, result: SweepResult) -> str:
    counts = ", ".join(f"{n} {state}" for state, n in result.status.counts.items() if n)
    line = f"study {plan.name}: {counts} in {result.seconds:.0f}s"
    if result.stopped_by is not None and not result.all_done:
        return (
            f"{line}; stopped by a signal: every run is resumable, and the same command "
            "continues the study"
        )
    if result.exit_code:
        return f"{line}; `genmod sweep --status {result.status.study_dir}` shows them"
    return line


def plan_lines(plan: Plan, study_dir: Path, *, add: bool = False) -> list[str]:
    """What ``genmod sweep --dry-run`` prints: the study, its axes, each run with its point
    and what a sweep would do with it (reads the folder when it exists; writes nothing).
    A plan the folder would refuse raises the same :class:`ConfigError` as :func:`sweep`."""
    records.check_study_dir(study_dir)
    previous = records.read_record(study_dir) if study_dir.is_dir() else None
    note = "a new study folder"
    if previous is not None:
        change = records.reconcile(previous, plan, add=add, study_dir=study_dir)
        note = "the same plan" if change.same else f"adds {len(change.added)} run(s)"
        records.refuse_foreign_run_folders(study_dir, plan)
    lines = [
        f"study {plan.name}: {runs_text(len(plan.runs))} in {study_dir} ({note}); plan "
        f"{plan.fingerprint[:12]}"
    ]
    for axis in plan.grid:
        lines.append(f"  grid {axis.setting}: {', '.join(map(repr, axis.values))}")
    if plan.random is not None:
        space = ", ".join(f"{d.setting} {d.form} {list(d.args)}" for d in plan.random.space)
        lines.append(f"  random: {plan.random.count} points, seed {plan.random.seed}: {space}")
    if plan.seeds is not None:
        lines.append(f"  seeds: {', '.join(map(str, plan.seeds))}")
    attempts = Attempts(study_dir)
    for run in plan.runs:
        state = run_status(study_dir, run.name, attempts).state
        action = {"done": "skip (done)", "running": "skip (running)"}.get(
            state, task_for(plan, run, study_dir).action
        )
        point = ", ".join(f"{k}={v!r}" for k, v in run.point.items())
        lines.append(f"{run.name}  {action}  {point}")
    return lines
