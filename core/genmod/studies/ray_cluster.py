"""The ``ray`` executor: each run a Ray task (``pip install 'genmod[ray]'``).

Each task is a Ray remote task that calls :func:`genmod.studies.launch.run_to_end` on a worker:
the same ``genmod run``/``genmod resume`` command line the local pool runs, as a subprocess of
the worker, in the sweep's working folder, with its output appended to ``RUN/stdout.log`` and
``RUN/stderr.log``. Each task reserves ``num_cpus`` CPUs and ``num_gpus`` GPUs (Ray gives the
worker its GPUs through ``CUDA_VISIBLE_DEVICES``, which the run inherits), and is not retried by
Ray (``max_retries=0``: the next sweep retries a failed run, with ``resume``).

``--executor-opt address=...`` joins a running cluster (``ray://HEAD:10001``, ``HEAD:6379``,
or ``auto`` for one started with ``ray start`` here); its nodes must see genmod's Python, the
study folder and the data at the same paths (a shared filesystem). Without it, a local cluster
is started for the study, on 127.0.0.1 only, without the dashboard and with Ray's usage
statistics off (unless ``RAY_USAGE_STATS_ENABLED`` says otherwise), and shut down at its end.

Stopping: a cancelled task (the sweep got SIGINT/SIGTERM) gets Ray's ``KeyboardInterrupt``,
which its worker relays to the run as SIGTERM (it saves a checkpoint). No TensorFlow here; Ray
is imported when the executor is built.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from genmod.contract.errors import ConfigError
from genmod.contract.options import Option
from genmod.studies.cluster import SubmittingExecutor
from genmod.studies.executors import Task
from genmod.studies.launch import Outcome, run_to_end

__all__ = ["LOCAL_ADDRESS", "RayExecutor", "probe_address"]

#: the only address a local cluster started for a study listens on
LOCAL_ADDRESS = "127.0.0.1"
#: the object store of a local cluster: tasks exchange only small outcomes
_LOCAL_OBJECT_STORE_BYTES = 128 * 1024 * 1024


#: how long the probe of a cluster's address waits for its port to answer
PROBE_SECONDS = 5.0


def probe_address(address: str, timeout: float = PROBE_SECONDS) -> None:
    """Refuse, with a one-line :class:`ConfigError`, a cluster ``address`` of the form
    ``HOST:PORT`` or ``ray://HOST:PORT`` whose port does not accept a TCP connection within
    ``timeout`` seconds, or does but does not answer as a gRPC server (Ray itself retries such
    an address for minutes; with ``RAY_USE_TLS=1`` only the connection is checked). Other forms
    (``auto``, ``local``) are left to Ray."""
    rest = address.removeprefix("ray://")
    if address.startswith("ray://") and ":" not in rest.rpartition("]")[2]:
        rest += ":10001"  # Ray Client's default port
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit() or not host:
        if address in ("auto", "local"):
            return
        raise ConfigError(
            f"--executor ray: address={address!r} is not a cluster address; accepted: "
            "HOST:PORT (the head's GCS, e.g. 10.0.0.5:6379), ray://HOST:PORT (Ray Client, "
            "port 10001) or auto (a cluster started here with `ray start`)."
        )
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as peer:
            speaks = os.environ.get("RAY_USE_TLS", "0") in ("1", "true") or _speaks_grpc(
                peer, timeout
            )
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(
            f"--executor ray: nothing answers at {address!r} ({reason}, waited up to "
            f"{timeout:g}s); start the cluster (`ray start --head` on its head node) or give "
            "its address, or leave address out for a local cluster."
        ) from None
    if not speaks:
        raise ConfigError(
            f"--executor ray: something answers at {address!r} but does not speak gRPC, so it "
            "is not a Ray cluster's head (its GCS port, 6379 by default, or Ray Client's, "
            "10001); check the address."
        )


#: the HTTP/2 client preface and an empty SETTINGS frame: a gRPC server (Ray's GCS and Ray
#: Client are) answers with a SETTINGS frame of its own
_HTTP2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def _speaks_grpc(peer: socket.socket, timeout: float) -> bool:
    """Whether the server on ``peer`` answers the HTTP/2 preface with a SETTINGS frame within
    ``timeout`` seconds (a plain TCP service that says nothing, or something else, does not:
    Ray would wait on it for minutes)."""
    peer.settimeout(timeout)
    try:
        peer.sendall(_HTTP2_HELLO)
        answer = b""
        while len(answer) < 9:
            chunk = peer.recv(9 - len(answer))
            if not chunk:
                break
            answer += chunk
    except OSError:
        return False
    return len(answer) == 9 and answer[3] == 4  # frame type 4: SETTINGS


class RayExecutor(SubmittingExecutor):
    """Runs each task as a Ray task (see the module)."""

    name = "ray"
    poll_seconds = 0.5
    #: what ``--executor-opt`` accepts
    OPTIONS: tuple[Option, ...] = (
        Option(
            "address",
            "str",
            None,
            "a running cluster to join (ray://HEAD:10001, HEAD:6379, auto); unset: a local "
            "cluster on 127.0.0.1, started for the study and shut down after it",
        ),
        Option("num_cpus", "float", 1.0, "CPUs each run reserves", min=0),
        Option("num_gpus", "float", 0.0, "GPUs each run reserves", min=0),
    )

    @classmethod
    def from_options(cls, jobs: int | None, options: Mapping[str, Any]) -> RayExecutor:
        """Build it from resolved ``--executor-opt`` values (:func:`executor_options`)."""
        return cls(jobs, **options)

    def __init__(
        self,
        jobs: int | None = None,
        *,
        address: str | None = None,
        num_cpus: float = 1.0,
        num_gpus: float = 0.0,
    ) -> None:
        """``jobs``: at most this many tasks submitted at once (None: all, Ray queues them by
        their resources); the others are the options of :data:`OPTIONS`. Imports Ray (a
        missing one is the caller's refusal, :func:`genmod.studies.executors.require_extra`);
        joins no cluster until :meth:`execute`, but an ``address`` that does not answer on its
        port is refused here (:func:`probe_address`), before the sweep writes anything."""
        super().__init__(jobs)
        import ray

        self.ray = ray
        self.address = address or None
        if self.address:
            probe_address(self.address)
        self.num_cpus, self.num_gpus = float(num_cpus), float(num_gpus)
        self._remote: Any = None
        self._local_resources: dict[str, float] | None = None
        self._cwd = os.getcwd()

    def describe(self) -> str:
        """``ray, a local cluster on 127.0.0.1, 1 CPU and 0 GPU per run, all submitted at
        once`` (or ``ray at ADDRESS, ...``)."""
        where = (
            f"ray at {self.address}" if self.address else f"ray, a local cluster on {LOCAL_ADDRESS}"
        )
        per_run = f"{self.num_cpus:g} CPU and {self.num_gpus:g} GPU per run"
        return f"{where}, {per_run}, {self._at_once()}"

    @contextlib.contextmanager
    def session(self, tasks: Sequence[Task]) -> Iterator[None]:
        """Connected to the cluster of ``address``, or to a local one started here (shut down
        at the end of the block); a process already connected to Ray stays connected."""
        ray = self.ray
        self._cwd = os.getcwd()
        owned = not ray.is_initialized()
        if owned and self.address:
            try:
                ray.init(address=self.address)
            except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError...
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
                raise ConfigError(
                    f"--executor ray: cannot join the Ray cluster at {self.address!r}: {first}"
                ) from None
        elif owned:
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            ray.init(
                address="local",
                include_dashboard=False,
                object_store_memory=_LOCAL_OBJECT_STORE_BYTES,
                _node_ip_address=LOCAL_ADDRESS,
            )
            self._local_resources = dict(ray.cluster_resources())
        self._remote = ray.remote(run_to_end)
        try:
            yield
        finally:
            self._remote = None
            if owned:
                ray.shutdown()

    def submit(self, task: Task) -> tuple[Any, str]:
        """One Ray task named ``STUDY:RUN``, reserving ``num_cpus`` and ``num_gpus``. On the
        local cluster, a run that needs more CPUs or GPUs than it has is refused (Ray would
        keep it waiting for ever; a running cluster may grow, so there it waits)."""
        if self._local_resources is not None:
            for option, resource, wanted in (
                ("num_cpus", "CPU", self.num_cpus),
                ("num_gpus", "GPU", self.num_gpus),
            ):
                has = float(self._local_resources.get(resource, 0.0))
                if wanted > has:
                    raise ValueError(
                        f"each run reserves {option}={wanted:g} and the local Ray cluster has "
                        f"{has:g} {resource}s"
                    )
        study = Path(task.run_dir).parent.name
        ref = self._remote.options(
            num_cpus=self.num_cpus,
            num_gpus=self.num_gpus,
            max_retries=0,
            name=f"{study}:{task.name}",
        ).remote(task, self._cwd)
        return ref, f"ray task {ref.task_id().hex()}"

    def finished(self, handles: Sequence[Any]) -> list[bool]:
        """Whether each task has ended (one ``ray.wait`` for all, without waiting)."""
        ready, _ = self.ray.wait(list(handles), num_returns=len(handles), timeout=0)
        ended = {ref.hex() for ref in ready}
        return [ref.hex() in ended for ref in handles]

    def outcome(self, handle: Any, *, cancelled: bool) -> Outcome | None:
        """The task's returned :class:`Outcome`; None for a cancelled task that left none."""
        try:
            result = self.ray.get(handle)
        except self.ray.exceptions.TaskCancelledError:
            if cancelled:
                return None
            raise
        if not isinstance(result, Outcome):
            raise TypeError(f"the task returned {type(result).__name__}, not an Outcome")
        return result

    def cancel(self, handle: Any) -> None:
        """``ray.cancel``: a queued task is dropped, a running one gets a KeyboardInterrupt
        (relayed to the run as SIGTERM)."""
        self.ray.cancel(handle)
