"""The ``slurm`` executor: each run a Slurm job, through submitit (``pip install 'genmod[slurm]'``).

Each task is submitted with ``submitit`` (https://github.com/facebookincubator/submitit) as a
job that calls :func:`genmod.studies.launch.run_to_end` on its node: the same ``genmod run`` /
``genmod resume`` command line the local pool runs, in the sweep's working folder, with its
output appended to ``RUN/stdout.log`` and ``RUN/stderr.log``. submitit's own files (the pickled
job, its result, and its log of the job, ``JOBID_0_log.out``/``.err``) go to
``STUDY/.submitit/``. The sweep, the study folder, the data and genmod's Python must be at
the same paths on the nodes (a shared filesystem), as Slurm users have them.

``--executor-opt`` (:data:`SlurmExecutor.OPTIONS`): ``partition``, ``account``, ``qos``,
``time_min`` (each job's time limit, default a day), ``gpus_per_node``, ``cpus_per_task``,
``mem_gb``, and ``cluster=local``: submitit's local executor, each job a process on this
machine, to try a study without a cluster (the tests use it).

Stopping: a cancelled job (the sweep got SIGINT/SIGTERM) is ``scancel``-ed; its worker relays
SIGTERM to the run, which saves a checkpoint. A job reaching its time limit gets the signal
submitit asks Slurm for (SIGUSR2, 90 s before), relayed the same way: the run is recorded as
stopped and the next sweep resumes it. A job that the scheduler starts again (requeued after a
preemption) resumes its run instead of starting it afresh (:attr:`Task.resume_argv`).
No TensorFlow here; submitit is imported when the executor is built.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from genmod.contract.errors import ConfigError
from genmod.contract.options import Option
from genmod.studies.cluster import SubmittingExecutor
from genmod.studies.executors import Task
from genmod.studies.launch import Outcome, run_to_end

__all__ = ["SUBMITIT_FOLDER", "SlurmExecutor"]

#: where submitit keeps its files (``JOBID_*``), inside the study folder
SUBMITIT_FOLDER = ".submitit"


class SlurmExecutor(SubmittingExecutor):
    """Submits each task as a Slurm job through submitit (see the module)."""

    name = "slurm"
    #: what ``--executor-opt`` accepts
    OPTIONS: tuple[Option, ...] = (
        Option("partition", "str", None, "the partition (sbatch --partition); unset: Slurm's"),
        Option("account", "str", None, "the account to charge (sbatch --account)"),
        Option("qos", "str", None, "the quality of service (sbatch --qos)"),
        Option(
            "time_min",
            "int",
            1440,
            "each job's time limit in minutes (sbatch --time); a run that reaches it saves a "
            "checkpoint and the next sweep resumes it",
            min=1,
        ),
        Option("gpus_per_node", "int", 0, "GPUs per run (sbatch --gpus-per-node)", min=0),
        Option(
            "cpus_per_task",
            "int",
            None,
            "CPUs per run (sbatch --cpus-per-task); unset: Slurm's",
            min=1,
        ),
        Option(
            "mem_gb", "float", None, "memory per run in GB (sbatch --mem); unset: Slurm's", min=0.1
        ),
        Option(
            "cluster",
            "str",
            "slurm",
            "slurm (sbatch on this login node), or local: submitit's local executor, each job a "
            "process on this machine (to try a study without a cluster)",
            choices=("slurm", "local"),
        ),
    )

    @classmethod
    def from_options(cls, jobs: int | None, options: Mapping[str, Any]) -> SlurmExecutor:
        """Build it from resolved ``--executor-opt`` values (:func:`executor_options`).
        ``cluster=slurm`` where ``sbatch`` is not on the PATH is a :class:`ConfigError`."""
        return cls(jobs, **options)

    def __init__(
        self,
        jobs: int | None = None,
        *,
        partition: str | None = None,
        account: str | None = None,
        qos: str | None = None,
        time_min: int = 1440,
        gpus_per_node: int = 0,
        cpus_per_task: int | None = None,
        mem_gb: float | None = None,
        cluster: str = "slurm",
    ) -> None:
        """``jobs``: at most this many jobs submitted at once (None: all); the others are the
        options of :data:`OPTIONS`. Imports submitit (a missing one is the caller's refusal,
        :func:`genmod.studies.executors.require_extra`)."""
        super().__init__(jobs)
        if cluster == "slurm" and shutil.which("sbatch") is None:
            raise ConfigError(
                "--executor slurm: sbatch is not on the PATH, so this is not a Slurm login node; "
                "sweep from one, or use --executor local (or --executor-opt cluster=local to try "
                "submitit's local executor)."
            )
        import submitit

        self.submitit = submitit
        self.cluster = cluster
        self.time_min = time_min
        self.parameters: dict[str, Any] = {
            "timeout_min": time_min,
            "gpus_per_node": gpus_per_node,
            "cpus_per_task": cpus_per_task,
            "mem_gb": mem_gb,
            "slurm_partition": partition,
            "slurm_account": account,
            "slurm_qos": qos,
        }
        self._executor: Any = None
        self._cwd = os.getcwd()

    def describe(self) -> str:
        """``slurm, partition gpu, 1 GPU and 1440 min per run, all submitted at once``."""
        where = (
            "slurm through submitit's local executor (jobs are processes here)"
            if self.cluster == "local"
            else "slurm"
        )
        partition = self.parameters["slurm_partition"]
        parts = [where] + ([f"partition {partition}"] if partition else [])
        gpus = self.parameters["gpus_per_node"]
        parts.append(f"{gpus} GPU{'s' if gpus != 1 else ''} and {self.time_min} min per run")
        return ", ".join(parts + [self._at_once()])

    @contextlib.contextmanager
    def session(self, tasks: Sequence[Task]) -> Iterator[None]:
        """A submitit executor whose folder is ``STUDY/.submitit`` (the study folder is the
        first task's run folder's parent)."""
        folder = Path(tasks[0].run_dir).parent / SUBMITIT_FOLDER
        self._cwd = os.getcwd()
        self._executor = self.submitit.AutoExecutor(folder=str(folder), cluster=self.cluster)
        self._executor.update_parameters(
            **{key: value for key, value in self.parameters.items() if value is not None}
        )
        try:
            yield
        finally:
            self._executor = None

    def submit(self, task: Task) -> tuple[Any, str]:
        """One job named ``STUDY:RUN`` running :func:`run_to_end` (which relays SIGTERM and
        submitit's time-limit signal to the run)."""
        study = Path(task.run_dir).parent.name
        self._executor.update_parameters(name=f"{study}:{task.name}")
        relay = (int(signal.SIGTERM), int(_time_limit_signal(self.submitit)))
        job = self._executor.submit(run_to_end, task, self._cwd, relay=relay)
        kind = "local submitit job" if self.cluster == "local" else "slurm job"
        return job, f"{kind} {job.job_id}"

    def finished(self, handles: Sequence[Any]) -> list[bool]:
        """Whether each job is done (its result file, else Slurm's accounting, which submitit
        asks at most once a minute for all jobs together)."""
        return [bool(job.done()) for job in handles]

    def outcome(self, handle: Any, *, cancelled: bool) -> Outcome | None:
        """The job's returned :class:`Outcome`; None for a cancelled job that left none."""
        if cancelled and not handle.paths.result_pickle.exists():
            return None
        result = handle.result()
        if not isinstance(result, Outcome):
            raise TypeError(f"the job returned {type(result).__name__}, not an Outcome")
        return result

    def cancel(self, handle: Any) -> None:
        """``scancel`` the job (submitit's local executor: SIGINT to its process)."""
        handle.cancel(check=False)


def _time_limit_signal(submitit: Any) -> int:
    """The signal submitit has Slurm send before a job's time limit (SIGUSR2 unless
    ``SUBMITIT_PREEMPT_SIGNAL`` says otherwise)."""
    name = str(getattr(submitit.JobEnvironment, "USR_SIG", "USR2"))
    return int(getattr(signal, f"SIG{name}", signal.SIGUSR2))
