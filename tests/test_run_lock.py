"""One writer per run folder (genmod.runs.lock, docs/runs.md "One writer per run"): a second
writer is refused naming the holder, a killed holder never blocks, readers are never blocked."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from genmod.cli import cli
from genmod.config import RunConfig, write_config
from genmod.contract.errors import RunDirError
from genmod.runs import folder as rundir
from genmod.runs import lock as runlock

GENMOD = str(Path(sys.executable).with_name("genmod"))

#: a process that holds a run folder's lock until it is killed
HOLD = (
    "import sys, time\n"
    "from genmod.runs.lock import run_lock\n"
    "with run_lock(sys.argv[1], 'genmod resume'):\n"
    "    print('locked', flush=True)\n"
    "    time.sleep(600)\n"
)


def env() -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


@pytest.fixture
def holder(tmp_path):
    """Start a process holding the lock of a folder; yields a function (folder -> process)."""
    procs: list[subprocess.Popen] = []

    def start(folder: Path) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(folder)],
            stdout=subprocess.PIPE,
            text=True,
            env=env(),
        )
        procs.append(proc)
        assert proc.stdout.readline().strip() == "locked"
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def make_run(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_config(folder, RunConfig(epochs=1), {"data_shape": [28, 28, 1], "condition_dim": 0})
    rundir.append_metrics(folder, {"epoch": 1, "test_elbo": -101.2})
    rundir.write_summary(folder, {"status": "finished", "epochs_done": 1})
    return folder


def invoke(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_a_second_writer_is_refused_naming_the_holder(tmp_path, holder):
    run = make_run(tmp_path / "run")
    proc = holder(run)
    with pytest.raises(RunDirError) as caught:
        with runlock.run_lock(run, "genmod evaluate"):
            pass
    message = str(caught.value)
    assert f"pid {proc.pid} on host {socket.gethostname()}" in message
    assert "genmod resume, since 20" in message and f"kill {proc.pid}" in message
    # the holder's record is left alone
    assert runlock.read_holder(run)["pid"] == proc.pid


def test_a_lock_left_by_a_killed_process_does_not_block(tmp_path, holder):
    run = make_run(tmp_path / "run")
    proc = holder(run)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert runlock.read_holder(run)["pid"] == proc.pid  # its record stays behind
    with runlock.run_lock(run, "genmod resume"):
        found = runlock.read_holder(run)
        assert found["pid"] == os.getpid() and found["command"] == "genmod resume"
    assert runlock.read_holder(run) is None  # removed on release
    assert (run / runlock.LOCK_FILE).exists()  # the lock file stays (same inode for all)


def test_a_left_record_whose_pid_was_reused_is_a_dead_holders(tmp_path, holder):
    """A kill -9 leaves the holder record; when its pid comes back as an unrelated process
    (a container restart), the record must not block the run forever: nobody holds the OS
    lock, so the record is a dead holder's (where /proc/locks tells)."""
    if runlock._os_lock_taken(Path("/proc/self/exe")) is None:
        pytest.skip("no /proc/locks here: a live pid is trusted")
    run = make_run(tmp_path / "run")
    proc = holder(run)
    assert runlock.holder_state(run) == "held"  # the real holder, OS lock and all
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    unrelated = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        record = runlock.read_holder(run)
        record["pid"] = unrelated.pid  # the dead holder's pid, now someone else's
        (run / runlock.HOLDER_FILE).write_text(json.dumps(record))
        assert runlock.holder_state(run) == "dead"
        with runlock.run_lock(run, "genmod resume"):
            assert runlock.holder_state(run) == "held"
        # no lock file at all (deleted by hand): nobody can hold it
        (run / runlock.HOLDER_FILE).write_text(json.dumps(record))
        assert runlock.holder_state(run) == "dead"  # the lock file is there, nobody holds it
        (run / runlock.LOCK_FILE).unlink()
        assert runlock.holder_state(run) == "dead"
        # a record written where the filesystem has no OS locks: the pid is all there is
        record["os_lock"] = False
        (run / runlock.HOLDER_FILE).write_text(json.dumps(record))
        assert runlock.holder_state(run) == "held"
    finally:
        unrelated.kill()
        unrelated.wait()


def test_a_fifo_as_the_holder_record_is_no_record(tmp_path):
    run = make_run(tmp_path / "run")
    os.mkfifo(run / runlock.HOLDER_FILE)
    assert runlock.read_holder(run) is None and runlock.holder_state(run) is None


def test_a_fresh_record_from_another_host_refuses_and_a_stale_one_is_taken_over(tmp_path):
    run = make_run(tmp_path / "run")
    now = time.time()

    def record(age: float) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - age))
        (run / runlock.HOLDER_FILE).write_text(
            json.dumps(
                {
                    "pid": 4242,
                    "host": "node-17",
                    "command": "genmod run",
                    "since": stamp,
                    "heartbeat": stamp,
                }
            )
        )

    # a filesystem whose locks do not reach other machines: the record still guards the run
    record(age=20)
    with pytest.raises(RunDirError, match=r"pid 4242 on host node-17 .*heartbeat 2\d s ago"):
        with runlock.run_lock(run, "genmod resume"):
            pass
    # no heartbeat for longer than STALE_SECONDS: that machine is gone
    record(age=runlock.STALE_SECONDS + 60)
    with runlock.run_lock(run, "genmod resume"):
        assert runlock.read_holder(run)["host"] == socket.gethostname()


def test_the_lock_is_re_entrant_in_one_process_and_refuses_links(tmp_path):
    run = make_run(tmp_path / "run")
    with runlock.run_lock(run, "outer"):
        with runlock.run_lock(run, "inner"):
            assert runlock.read_holder(run)["command"] == "outer"
        assert runlock.read_holder(run)["command"] == "outer"
    other = tmp_path / "run2"
    make_run(other)
    (other / runlock.LOCK_FILE).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(RunDirError, match="symbolic link"):
        with runlock.run_lock(other, "genmod resume"):
            pass
    assert not (tmp_path / "elsewhere").exists()
    # a folder that is not a run gets no lock file (its command refuses it anyway)
    mine = tmp_path / "documents"
    mine.mkdir()
    with runlock.run_lock(mine, "genmod evaluate"):
        pass
    assert list(mine.iterdir()) == []


def test_the_lock_files_do_not_confuse_the_folder_checks_or_genmod_runs(tmp_path, holder):
    # a folder holding only the lock files counts as empty for a new run
    fresh = tmp_path / "runs" / "fresh"
    fresh.mkdir(parents=True)
    (fresh / runlock.LOCK_FILE).touch()
    (fresh / runlock.HOLDER_FILE).write_text("{}")
    rundir.check_new_run_dir(fresh, overwrite=False)
    # --overwrite replaces the run but keeps the lock file its writer holds
    old = make_run(tmp_path / "runs" / "old")
    with runlock.run_lock(old, "genmod run"):
        rundir.prepare_run_dir(old, overwrite=True)
        assert sorted(p.name for p in old.iterdir()) == [runlock.LOCK_FILE, runlock.HOLDER_FILE]
    # `genmod runs` lists a locked run as usual and ignores a folder with only lock files
    holder(make_run(tmp_path / "runs" / "busy"))
    result = invoke("runs", tmp_path / "runs", "--json")
    assert result.exit_code == 0, result.output
    assert [Path(r["run"]).name for r in json.loads(result.output)] == ["busy"]


def test_genmod_runs_tells_a_running_run_from_a_killed_one(tmp_path, holder):
    def status() -> str:
        result = invoke("runs", tmp_path / "runs", "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.output)[0]["status"]

    run = make_run(tmp_path / "runs" / "a")
    rundir.write_summary(run, {"status": "running", "epochs_done": 1})
    assert status() == "running or killed"  # no record: a run of an older genmod
    proc = holder(run)
    assert status() == "running"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert status() == "killed"


def test_picture_commands_lock_only_when_they_write_into_the_run(tmp_path, holder):
    run = make_run(tmp_path / "run")
    proc = holder(run)
    result = CliRunner().invoke(cli, ["sample", str(run)])
    assert result.exit_code == 2
    assert f"pid {proc.pid}" in result.output and "--out FILE" in result.output
    assert len(result.output.strip().splitlines()) == 1  # one line, no traceback


def _epochs(run: Path) -> list[int]:
    return [int(r["epoch"]) for r in rundir.read_metrics(run)]


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_two_resumes_at_once_one_trains_and_readers_are_not_blocked(tmp_path, mnist_dir):
    from genmod.api import train
    from genmod.evaluate.run import evaluate_run

    config = RunConfig(
        encoder="mlp",
        encoder_options={"hidden": (16,)},
        decoder_options={"hidden": (16,)},
        latent_dim=2,
        epochs=1,
        batch_size=64,
        train_size=256,
        test_size=50,
        validation_size=0,
    )
    run = tmp_path / "runs" / "a"
    train(config, data_dir=mnist_dir, out_dir=run)
    assert runlock.read_holder(run) is None  # train released its lock
    resume = [GENMOD, "resume", str(run), "--epochs", "100000", "--quiet"]
    procs = []
    try:
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    resume, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env()
                )
            )
            time.sleep(0.5)
        _wait(lambda: any(p.poll() is not None for p in procs), 240, "one resume to stop")
        loser = next(p for p in procs if p.poll() is not None)
        winner = next(p for p in procs if p is not loser)
        err = loser.stderr.read()
        assert loser.returncode == 2, err[-2000:]
        assert f"pid {winner.pid} on host {socket.gethostname()}" in err, err
        assert "genmod resume" in err and len(err.strip().splitlines()) == 1
        assert winner.poll() is None

        _wait(lambda: len(_epochs(run)) >= 3, 240, "the resumed run to train two epochs")
        # readers are not blocked: `genmod runs`, a picture written elsewhere
        listed = subprocess.run(
            [GENMOD, "runs", str(tmp_path / "runs"), "--json"],
            capture_output=True,
            text=True,
            env=env(),
            timeout=120,
        )
        assert listed.returncode == 0, listed.stderr
        assert json.loads(listed.stdout)[0]["run"] == str(run)
        picture = tmp_path / "elsewhere.png"
        sampled = subprocess.run(
            [GENMOD, "sample", str(run), "--out", str(picture), "-n", "4"],
            capture_output=True,
            text=True,
            env=env(),
            timeout=240,
        )
        assert sampled.returncode == 0, sampled.stderr
        assert picture.stat().st_size > 0
        # writers are: a picture into RUN/pictures/, an evaluation
        with pytest.raises(RunDirError, match=f"pid {winner.pid}"):
            evaluate_run(run, num_samples=2, data_dir=mnist_dir)
        assert not (run / "pictures" / "sample.png").exists()
        assert winner.poll() is None

        # the winner dies by SIGKILL: its lock does not block the next resume
        winner.send_signal(signal.SIGKILL)
        winner.wait()
        assert runlock.read_holder(run)["pid"] == winner.pid
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
    done = int(rundir.read_summary(run).get("epochs_done", 0))
    after = subprocess.run(
        [GENMOD, "resume", str(run), "--epochs", str(done + 1), "--quiet"],
        capture_output=True,
        text=True,
        env=env(),
        timeout=240,
    )
    assert after.returncode == 0, after.stderr[-2000:]
    epochs = _epochs(run)
    assert epochs == list(range(1, len(epochs) + 1)), epochs  # each epoch once, in order
    assert epochs[-1] == done + 1
    assert runlock.read_holder(run) is None
