"""Studies (genmod.studies, `genmod sweep`, docs/studies.md): the study file and its expansion,
every refusal before anything is written, study.json and the one-plan rule, run states, the
local executor, and end to end: a tiny 2x2 study killed and swept again runs every run exactly
once, a second sweep runs nothing, and a failing run does not stop the others."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genmod.config import RunConfig, read_config, read_config_file, write_config
from genmod.contract.errors import ConfigError, RunDirError
from genmod.plugins import get_registry
from genmod.runs import folder as rundir
from genmod.runs.lock import run_lock
from genmod.studies import record as records
from genmod.studies.executors import Task, make_executor
from genmod.studies.local import LocalExecutor, slot_gpus, visible_gpus
from genmod.studies.plan import load_study
from genmod.studies.state import Attempts, RunStatus, run_status
from genmod.studies.sweep import StudyStatus, SweepResult, SweepStopped, study_status, sweep

from study_support import (
    GENMOD,
    TINY,
    env,
    epochs_of,
    invoke,
    stop_sweep_when,
    write_study,
)


def plan_of(path: Path, **kwargs):
    return load_study(path, get_registry(), **kwargs)


class FakeExecutor:
    """Starts nothing: records the tasks it was given (and that study.json existed then)."""

    name = "fake"

    def __init__(self) -> None:
        self.calls: list[list[Task]] = []

    def describe(self) -> str:
        return "fake"

    def execute(self, tasks, reporter):
        folder = tasks[0].run_dir.parent
        assert (folder / records.STUDY_FILE).is_file()  # the plan is written before any run
        self.calls.append(list(tasks))
        return None


# --- the study file and its expansion -------------------------------------------------------


def test_the_grid_product_times_the_seeds_in_a_deterministic_order_with_readable_names(tmp_path):
    path = write_study(
        tmp_path,
        """
        name = "beta-sweep"
        seeds = [0, 1]
        [grid]
        "objective_options.beta" = [1, 2.5]
        latent_dim = [8, 16]
        """,
        base=TINY + 'objective = "beta-vae"\n',
    )
    plan = plan_of(path)
    assert plan.name == "beta-sweep"
    names = [run.name for run in plan.runs]
    # seed by seed; within a seed the first axis varies slowest
    assert names == [
        f"beta{b}-latent_dim{d}-seed{s}" for s in (0, 1) for b in (1, 2.5) for d in (8, 16)
    ]
    run = plan.run("beta2.5-latent_dim16-seed1")
    assert run.point == {"objective_options.beta": 2.5, "latent_dim": 16, "seed": 1}
    assert run.config.objective_options["beta"] == 2.5 and run.config.latent_dim == 16
    assert run.config.seed == 1 and run.config.decoder == "mlp"  # resolved
    assert run.config.encoder_options == {"hidden": (8,), "activation": "relu"}  # defaults filled
    # the same file gives the same plan; the fingerprint follows the configurations only
    again = plan_of(path)
    assert [r.name for r in again.runs] == names and again.fingerprint == plan.fingerprint
    path.write_text("# a comment\n" + path.read_text())
    assert plan_of(path).fingerprint == plan.fingerprint
    # an options table in the grid reads the same as dotted settings
    other = write_study(
        tmp_path,
        """
        [grid]
        objective_options = { beta = [1, 2.5] }
        """,
        name="tables.toml",
        base=TINY + 'objective = "beta-vae"\n',
    )
    assert [r.point for r in plan_of(other).runs] == [
        {"objective_options.beta": 1},
        {"objective_options.beta": 2.5},
    ]


def test_random_search_is_seeded_stays_in_its_space_and_more_points_keep_the_first(tmp_path):
    def study(count: int, seed: int) -> list[dict]:
        path = write_study(
            tmp_path,
            f"""
            [grid]
            latent_dim = [2]
            [random]
            count = {count}
            seed = {seed}
            [random.space]
            learning_rate = {{ log_uniform = [1e-4, 1e-2] }}
            batch_size = {{ int_uniform = [8, 10] }}
            lr_decay_rate = {{ uniform = [0.1, 0.9] }}
            prior = {{ choice = ["normal", "learned-normal"] }}
            """,
            name=f"random-{count}-{seed}.toml",
        )
        plan = plan_of(path)
        assert plan.runs[0].origin == "grid" and plan.runs[0].name == "latent_dim2"
        return [run.point for run in plan.runs[1:]]

    four = study(4, 0)
    assert len(four) == 4 and len({json.dumps(p, sort_keys=True) for p in four}) == 4
    for point in four:
        assert 1e-4 <= point["learning_rate"] <= 1e-2
        assert float(f"{point['learning_rate']:.4g}") == point["learning_rate"]  # 4 digits
        assert point["batch_size"] in (8, 9, 10) and 0.1 <= point["lr_decay_rate"] <= 0.9
        assert point["prior"] in ("normal", "learned-normal")
    assert study(4, 0) == four  # seeded
    assert study(6, 0)[:4] == four  # raising count keeps the points drawn before (--add)
    assert study(4, 1) != four
    names = [
        r.name
        for r in plan_of(
            write_study(
                tmp_path,
                """
                [random]
                count = 2
                [random.space]
                latent_dim = { choice = [4, 8] }
                """,
                name="names.toml",
            )
        ).runs
    ]
    assert sorted(names) == ["random0-latent_dim4", "random1-latent_dim8"] or sorted(names) == [
        "random0-latent_dim8",
        "random1-latent_dim4",
    ]


def test_long_or_clashing_names_get_a_hash_and_every_name_is_safe(tmp_path):
    path = write_study(
        tmp_path,
        """
        seeds = [3]
        [grid]
        "encoder_options.hidden" = [[512, 256, 128, 64, 32, 16, 8, 4, 2], [8]]
        "decoder_options.hidden" = [[8], [16]]
        "encoder_options.activation" = ["relu", "tanh"]
        """,
    )
    names = [run.name for run in plan_of(path).runs]
    assert len(set(names)) == len(names) == 8
    for name in names:
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", name) and len(name) <= 80
    # two settings with the same last part are named in full
    assert "encoder_options.hidden8-decoder_options.hidden16-activation_tanh-seed3" in names
    assert any(re.search(r"-[0-9a-f]{8}$", n) for n in names if n.startswith("encoder_options"))


def test_a_recipe_base_and_the_planned_config_files_give_the_planned_configurations(tmp_path):
    path = write_study(
        tmp_path,
        """
        [base]
        recipe = "cnn-iaf"
        epochs = 1
        data_dir = "data/here"
        [grid]
        latent_dim = [4, 6]
        """,
        base="",
    )
    plan = plan_of(path)
    assert plan.recipe.startswith("cnn-iaf@") and plan.data_dir == str(tmp_path / "data" / "here")
    run = plan.runs[0]
    assert run.config.posterior == "iaf" and run.config.latent_dim == 4 and run.config.epochs == 1
    # the per-run config file reads back (as `genmod run --config` reads it) to the same config
    records.write_run_configs(tmp_path / "out", plan)
    for run in plan.runs:
        file = read_config_file(records.run_config_path(tmp_path / "out", run.name))
        again = RunConfig.from_dict(file.values).resolve(get_registry(), from_strings=True)
        assert again == run.config
    # --data-dir on the command line wins over [base] data_dir
    assert plan_of(path, data_dir=tmp_path / "x").data_dir == str(tmp_path / "x")


REFUSALS = {
    "unknown setting": ("[grid]\nlatnt_dim = [2]\n", "unknown setting 'latnt_dim'; accepted:"),
    "empty grid list": ("[grid]\nlatent_dim = []\n", "non-empty list of values"),
    "empty grid": ("[grid]\n", "[grid] must be a table"),
    "not a list": ("[grid]\nlatent_dim = 4\n", "non-empty list of values"),
    "repeated value": ("[grid]\nlatent_dim = [2, 2]\n", "lists 2 twice"),
    "wrong type": (
        '[grid]\nlatent_dim = ["x", 3]\n',
        "run 'latent_dim_x', setting latent_dim = 'x': key 'latent_dim' must be int",
    ),
    "invalid value": (
        "[grid]\nlatent_dim = [0, 2]\n",
        "run 'latent_dim0', setting latent_dim = 0: --latent-dim got 0",
    ),
    "unknown component": (
        '[grid]\nprior = ["normal", "gamma"]\n',
        "run 'prior_gamma', setting prior = 'gamma': unknown prior 'gamma'. Available",
    ),
    "unknown option": (
        '[grid]\n"objective_options.beta" = [1, 2]\n',
        "run 'beta1', setting objective_options.beta = 1: objective 'elbo': unknown option",
    ),
    "option of another component": (
        '[grid]\nencoder = ["cnn"]\n"encoder_options.hidden" = [[8]]\n',
        "the combination encoder = 'cnn', encoder_options.hidden = [8]",
    ),
    "bad base": ("[grid]\nlatent_dim = [2]\n", "[base]: unknown prior 'gamma'"),
    "unknown random form": (
        "[random]\ncount = 2\n[random.space]\nlatent_dim = { normal = [0, 1] }\n",
        "accepted forms: { uniform = [...] }",
    ),
    "bad log-uniform": (
        "[random]\ncount = 2\n[random.space]\nlearning_rate = { log_uniform = [0, 1] }\n",
        "0 < low < high",
    ),
    "too few random points": (
        "[random]\ncount = 3\n[random.space]\nlatent_dim = { choice = [4, 8] }\n",
        "only 2 distinct point(s)",
    ),
    "seed and seeds": ("seeds = [0, 1]\n[grid]\nseed = [1, 2]\n", "'seed' is an axis and 'seeds'"),
    "seeds in a table": (
        "[random]\ncount = 1\n[random.space]\nlatent_dim = { choice = [4] }\nseeds = [0]\n",
        "seeds belongs at the top of the file",
    ),
    "repeated seed": ("seeds = [1, 1]\n", "seeds lists 1 twice"),
    "nothing to sweep": ("", "nothing to sweep"),
    "unknown key": ("sedes = [0]\n[grid]\nlatent_dim = [2]\n", "unknown key(s) 'sedes'"),
    "bad name": ('name = "../up"\nseeds = [0]\n', "name = '../up'"),
    "a random point equal to a grid point": (
        '[grid]\n"encoder_options.activation" = ["relu", "tanh"]\n'
        "[random]\ncount = 1\n[random.space]\n"
        '"encoder_options.activation" = { choice = ["relu"] }\n',
        "only 0 distinct point(s)",
    ),
    "same configuration twice": (
        "[grid]\nlatent_dim = [2, 16]\nlearning_rate = [0.001, 1e-3]\n",
        "lists 0.001 twice",
    ),
    "a value equal to the default": (
        '[grid]\n"encoder_options.activation" = ["relu"]\n'
        "[random]\ncount = 1\n[random.space]\nlatent_dim = { choice = [2] }\n",
        "resolve to the same configuration",
    ),
    "not toml": ("[grid\n", "is not valid TOML"),
    "too many runs": (
        "seeds = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n[grid]\n"
        + "".join(f"{k} = {list(range(1, 11))}\n" for k in ("latent_dim", "epochs", "batch_size")),
        "the study has 11,000 runs (grid 10 x 10 x 10, 11 seeds); a study holds at most 10,000",
    ),
    "too many random points": (
        "[random]\ncount = 1000000000\n[random.space]\nlatent_dim = { int_uniform = [1, 9] }\n",
        "[random] count = 1000000000; it must be an integer from 1 to 10,000",
    ),
    "description after a table": (
        '[grid]\nlatent_dim = [2]\ndescription = "x"\n',
        "[grid]: 'description' is not a setting; description belongs at the top of the file",
    ),
    "a config file's tables pasted under [base]": (
        "seeds = [0]\n[encoder_options]\nhidden = [8]\n",
        "rename [encoder_options] to [base.encoder_options]",
    ),
    "1 and 1.0": (
        "[grid]\nlearning_rate = [1, 1.0]\n",
        "resolve to the same configuration",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_bad_study_files_are_refused_in_one_line_before_anything_is_written(tmp_path, case):
    body, message = REFUSALS[case]
    path = tmp_path / "bad.toml"
    path.write_text(body + TINY + ('prior = "gamma"\n' if case == "bad base" else ""))
    out = tmp_path / "out"
    result = invoke("sweep", path, "--out", out)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: study file"), result.output
    assert message in lines[0], lines[0]
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path):
    path = write_study(tmp_path, "seeds = [0, 1]\n[grid]\nlatent_dim = [2, 3]\n")
    out = tmp_path / "out"
    result = invoke("sweep", path, "--out", out, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "study study: 4 runs" in result.output and "a new study folder" in result.output
    assert "latent_dim3-seed1  run  latent_dim=3, seed=1" in result.output
    as_json = invoke("sweep", path, "--out", out, "--dry-run", "--json")
    assert [r["name"] for r in json.loads(as_json.output)["runs"]][0] == "latent_dim2-seed0"
    assert not out.exists()
    # an unknown executor is refused, naming the accepted ones (tests/test_study_executors.py
    # tests slurm and ray)
    with pytest.raises(ConfigError, match="accepted: local, slurm, ray"):
        make_executor("pbs")
    refused = invoke("sweep", path, "--out", out, "--executor", "pbs")
    assert refused.exit_code == 2 and "local" in refused.output and not out.exists()


def test_planning_and_a_dry_run_import_no_tensorflow(tmp_path):
    path = write_study(tmp_path, "seeds = [0, 1]\n[grid]\nlatent_dim = [2, 3]\n")
    code = (
        "import sys\n"
        "from genmod.cli.app import cli\n"
        f"cli.main(args=['sweep', {str(path)!r}, '--out', {str(tmp_path / 'o')!r}, '--dry-run'],"
        " standalone_mode=False)\n"
        "print('imported:', sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env())
    assert done.returncode == 0, done.stderr
    assert "latent_dim3-seed1" in done.stdout and "imported: []" in done.stdout


def test_the_shipped_example_study_is_shown_in_the_docs_and_plans_twelve_runs():
    root = Path(__file__).resolve().parents[1]
    example = root / "docs" / "examples" / "beta-sweep.toml"
    assert example.read_text() in (root / "docs" / "studies.md").read_text()
    plan = plan_of(example)
    assert plan.name == "beta-sweep" and len(plan.runs) == 12
    assert [r.name for r in plan.runs[:4]] == [f"beta{b}-seed0" for b in (1, 2, 4, 8)]
    assert {r.config.encoder for r in plan.runs} == {"cnn"}
    assert {r.config.objective_options["beta"] for r in plan.runs} == {1.0, 2.0, 4.0, 8.0}


# --- study.json and the one-plan rule --------------------------------------------------------


def test_study_json_holds_the_plan_and_a_changed_plan_is_refused_unless_it_only_adds(tmp_path):
    path = write_study(tmp_path, "seeds = [0, 1]\n[grid]\nlatent_dim = [2, 3]\n", name="s.toml")
    plan = plan_of(path, data_dir=tmp_path / "mnist")
    out = tmp_path / "studies" / "s"
    executor = FakeExecutor()
    result = sweep(plan, out, executor, log=lambda line: None)
    assert result.exit_code == 1 and result.status.counts["pending"] == 4  # nothing ran
    saved = json.loads((out / "study.json").read_text())
    assert saved["name"] == "s" and saved["fingerprint"] == plan.fingerprint
    assert saved["study_file"]["path"] == str(path.resolve())
    assert saved["study_file"]["text"] == path.read_text()
    assert len(saved["study_file"]["sha256"]) == 64
    assert saved["axes"] == {"grid": {"latent_dim": [2, 3]}, "random": None, "seeds": [0, 1]}
    assert saved["data_dir"] == str(tmp_path / "mnist")
    assert [r["name"] for r in saved["runs"]] == [r.name for r in plan.runs]
    assert saved["runs"][3]["point"] == {"latent_dim": 3, "seed": 1}
    assert saved["runs"][3]["config"] == plan.runs[3].config.to_dict()
    assert saved["runs"][3]["config"]["encoder_options"] == {"hidden": [8], "activation": "relu"}
    tasks = executor.calls[0]
    assert [t.action for t in tasks] == ["run"] * 4
    assert tasks[0].argv[1:] == (
        "run",
        "--config",
        str(out / ".plan" / "latent_dim2-seed0.toml"),
        "--out",
        str(out / "latent_dim2-seed0"),
        "--data-dir",
        str(tmp_path / "mnist"),
    )

    # a plan with more runs: refused, unless --add; then study.json holds the new plan
    more = write_study(tmp_path, "seeds = [0, 1, 2]\n[grid]\nlatent_dim = [2, 3]\n", name="s.toml")
    refused = invoke("sweep", more, "--out", out)
    assert refused.exit_code == 2, refused.output
    assert refused.output.strip().splitlines() == [
        f"Error: the study folder {str(out)!r} holds another plan (study.json): 2 run(s) added "
        "(latent_dim2-seed2, latent_dim3-seed2). Pass --add to add the new runs to this "
        "study, or sweep into another --out."
    ]
    assert json.loads((out / "study.json").read_text())["fingerprint"] == plan.fingerprint
    sweep(plan_of(more, data_dir=tmp_path / "mnist"), out, executor, add=True, log=print)
    assert len(json.loads((out / "study.json").read_text())["runs"]) == 6
    # a changed or removed run is refused even with --add, naming what changed
    changed = write_study(
        tmp_path,
        "seeds = [0, 1, 2]\n[grid]\nlatent_dim = [2, 3]\n",
        name="s.toml",
        base=TINY.replace("epochs = 1", "epochs = 2"),
    )
    with pytest.raises(ConfigError, match=r"6 changed \(latent_dim2-seed0: epochs, .*--add only"):
        sweep(plan_of(changed), out, executor, add=True, log=print)
    fewer = write_study(tmp_path, "seeds = [0]\n[grid]\nlatent_dim = [2, 3]\n", name="s.toml")
    result = invoke("sweep", fewer, "--out", out, "--add")
    assert result.exit_code == 2 and "4 removed (latent_dim2-seed1" in result.output
    assert len(executor.calls) == 2  # the refusals started nothing

    # a folder that is not a study folder is never written into
    stranger = tmp_path / "documents"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    with pytest.raises(RunDirError, match="not a study folder"):
        sweep(plan, stranger, executor, log=print)
    assert sorted(p.name for p in stranger.iterdir()) == ["notes.txt"]


def test_a_second_sweep_of_the_same_study_folder_is_refused_naming_the_holder(tmp_path):
    path = write_study(tmp_path, "[grid]\nlatent_dim = [2]\n")
    out = tmp_path / "out"
    hold = (
        "import sys, time\n"
        "from genmod.runs.lock import run_lock\n"
        "with run_lock(sys.argv[1], 'genmod sweep', create=True, what='study folder'):\n"
        "    print('locked', flush=True)\n"
        "    time.sleep(600)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", hold, str(out)], stdout=subprocess.PIPE, text=True, env=env()
    )
    try:
        assert proc.stdout.readline().strip() == "locked"
        result = invoke("sweep", path, "--out", out)
        assert result.exit_code == 2, result.output
        assert result.output.startswith(f"Error: the study folder {str(out)!r} is being written")
        assert f"pid {proc.pid}" in result.output and "(genmod sweep, since" in result.output
        assert not (out / "study.json").exists()
        with pytest.raises(RunDirError, match="not a study folder"):
            study_status(out)
    finally:
        proc.kill()
        proc.wait()


# --- run states -------------------------------------------------------------------------------


def _started_run(folder: Path, config: RunConfig, status: str | None = None, epochs: int = 0):
    """A run folder started with ``config`` (the planned one), with a summary saying
    ``status`` after ``epochs`` epochs (none when ``status`` is None)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_config(folder, config, {"data_shape": [28, 28, 1], "condition_dim": 0})
    if status is not None:
        rundir.write_summary(folder, {"status": status, "epochs_done": epochs})
    return folder


def test_run_states_come_from_the_run_folders_and_the_attempts(tmp_path):
    path = write_study(
        tmp_path,
        "[grid]\nlatent_dim = [2, 3, 4, 5, 6, 7, 8]\n",
        base=TINY.replace("epochs = 1", "epochs = 2"),
    )
    plan = plan_of(path)
    out = tmp_path / "study"
    sweep(plan, out, FakeExecutor(), log=lambda line: None)
    names = [run.name for run in plan.runs]
    attempts = Attempts(out)
    # done; failed (no folder yet); unfinished (interrupted by the sweep); pending with old logs
    _started_run(out / names[0], plan.runs[0].config, "finished", 2)
    attempts.started(names[1], "run", 999999)
    attempts.ended(names[1], 2, error="Error: no data", interrupted=False, seconds=1.0)
    _started_run(out / names[2], plan.runs[2].config, "interrupted", 1)
    attempts.started(names[2], "run", 999998)
    attempts.ended(names[2], -15, error=None, interrupted=True, seconds=3.0)
    (out / names[3]).mkdir()
    (out / names[3] / "stdout.log").write_text("--- genmod sweep ...\n")
    attempts.started(names[3], "run", os.getpid())  # a live pid reused by another program
    # an attempt whose process is gone without an end (a sweep killed with -9): not running
    _started_run(out / names[4], plan.runs[4].config)
    attempts.started(names[4], "run", 999997)
    # a run folder another process writes; a run this host is starting (no lock yet)
    _started_run(out / names[5], plan.runs[5].config, "running", 1)
    starting = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", str(out / names[6])]
    )
    attempts.started(names[6], "run", starting.pid)
    reread = Attempts(out)
    try:
        with run_lock(out / names[5], "genmod resume"):
            states = {name: run_status(out, name, reread) for name in names}
            status = invoke("sweep", "--status", out)
            as_json = json.loads(invoke("sweep", "--status", out, "--json").output)
            # what a sweep does with each: skip done and running ones, resume started ones
            executor = FakeExecutor()
            sweep(plan, out, executor, log=lambda line: None)
    finally:
        starting.kill()
        starting.wait()
    assert {n: s.state for n, s in states.items()} == dict(
        zip(
            names,
            ["done", "failed", "unfinished", "pending", "unfinished", "running", "running"],
            strict=True,
        )
    )
    assert states[names[1]].exit_code == 2 and states[names[1]].error == "Error: no data"
    assert f"pid {os.getpid()}" in states[names[5]].note
    assert status.exit_code == 0, status.output
    lines = status.output.strip().splitlines()
    assert lines[0] == (
        f"study study in {out}: 7 runs: 1 done, 2 running, 1 failed, 2 unfinished, 1 pending"
    )
    assert re.search(
        rf"^{names[1]}\s+failed\s+0\s+1\s+exit 2: Error: no data$", status.output, re.M
    )
    assert re.search(rf"^{names[0]}\s+done\s+2\s+0", status.output, re.M)
    assert as_json["counts"] == {
        "done": 1,
        "running": 2,
        "failed": 1,
        "unfinished": 2,
        "pending": 1,
        "foreign": 0,
    }
    assert [r["state"] for r in as_json["runs"]][:2] == ["done", "failed"]
    assert [(t.name, t.action) for t in executor.calls[0]] == [
        (names[1], "run"),
        (names[2], "resume"),
        (names[3], "run"),
        (names[4], "resume"),
    ]
    bad = invoke("sweep", "--status", tmp_path)
    assert bad.exit_code == 2 and "is not a study folder (no study.json)" in bad.output
    # study.json is read from the folder: a run name that is not a plain folder name is refused
    crafted = tmp_path / "crafted"
    crafted.mkdir()
    (crafted / "study.json").write_text(
        json.dumps({"format": 1, "name": "x", "runs": [{"name": "../x", "config": {}}]})
    )
    bad = invoke("sweep", "--status", crafted)
    assert bad.exit_code == 2 and "is not a study record" in bad.output


def test_the_launcher_logs_do_not_make_a_run_folder_non_empty(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    for name in rundir.OUTPUT_LOGS:
        (folder / name).write_text("started\n")
    rundir.check_new_run_dir(folder, overwrite=False)  # counts as empty
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(RunDirError, match="not empty"):
        rundir.check_new_run_dir(folder, overwrite=False)
    other = tmp_path / "other"
    (other / "stdout.log").mkdir(parents=True)  # a folder of that name is not a log
    with pytest.raises(RunDirError, match="not empty"):
        rundir.check_new_run_dir(other, overwrite=False)


# --- the local executor -----------------------------------------------------------------------


def test_visible_gpus_are_read_without_tensorflow_and_shared_out_between_jobs(
    tmp_path, monkeypatch
):
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "2,3"}) == ["2", "3"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "0,-1,1"}) == ["0"]
    fake = tmp_path / "bin" / "nvidia-smi"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H100 (UUID: a)'\necho 'GPU 1: NVIDIA H100'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    assert visible_gpus({}) == ["0", "1"]
    monkeypatch.setenv("PATH", str(tmp_path))
    assert visible_gpus({}) == []
    assert slot_gpus(["0", "1"], 2) == ["0", "1"]
    assert slot_gpus(["0", "1", "2", "3"], 2) == ["0,2", "1,3"]
    assert slot_gpus(["0", "1"], 3) == ["0", "1", "0"]
    assert slot_gpus([], 2) == [None, None]
    assert LocalExecutor(None, gpus=["0", "1"]).jobs == 2 and LocalExecutor(None, gpus=[]).jobs == 1


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def started(self, task, pid, gpus, *, job=None):
        self.events.append(("started", task.name, gpus))

    def ended(self, task, exit_code, *, error, interrupted, seconds):
        self.events.append(("ended", task.name, exit_code, error, interrupted))


def test_the_local_pool_runs_tasks_at_once_logs_into_the_run_folder_and_reports_failures(
    tmp_path,
):
    script = (
        "import os, sys, time\n"
        "print('gpu', os.environ.get('CUDA_VISIBLE_DEVICES'))\n"
        "time.sleep(0.5)\n"
        "if sys.argv[1] == 'bad':\n"
        "    print('Traceback ...', file=sys.stderr)\n"
        "    print('Error: the data folder is missing', file=sys.stderr)\n"
        "    sys.exit(3)\n"
    )
    tasks = [
        Task(n, "run", (sys.executable, "-c", script, n), tmp_path / n) for n in ("good", "bad")
    ]
    recorder = Recorder()
    started = time.monotonic()
    assert LocalExecutor(2, gpus=["4", "5"]).execute(tasks, recorder) is None
    assert time.monotonic() - started < 5
    assert recorder.events[:2] == [("started", "good", "4"), ("started", "bad", "5")]
    ended = {e[1]: e[2:] for e in recorder.events if e[0] == "ended"}
    assert ended == {
        "good": (0, None, False),
        "bad": (3, "Error: the data folder is missing", False),
    }
    out = (tmp_path / "good" / "stdout.log").read_text().splitlines()
    assert out[0].startswith("--- genmod sweep, 20") and out[1] == "gpu 4"
    # a task that cannot start is reported and the others go on
    missing = Task("gone", "run", (str(tmp_path / "no-such-program"),), tmp_path / "gone")
    recorder = Recorder()
    LocalExecutor(1, gpus=[]).execute([missing, tasks[0]], recorder)
    assert recorder.events[1][:3] == ("ended", "gone", 127)
    assert recorder.events[-1][:3] == ("ended", "good", 0)


# --- end to end: real genmod runs -------------------------------------------------------------


def test_a_study_survives_a_kill_runs_every_run_once_and_a_second_sweep_runs_nothing(
    tmp_path, mnist_dir
):
    path = write_study(
        tmp_path,
        """
        name = "tiny"
        seeds = [0, 1]
        [grid]
        latent_dim = [2, 3]
        """,
        base=TINY.replace("epochs = 1", "epochs = 2").replace(
            "train_size = 64", "train_size = 20000"
        )
        + f"data_dir = {json.dumps(str(mnist_dir))}\n",
    )
    out = tmp_path / "studies" / "tiny"
    command = [GENMOD, "sweep", str(path), "--out", str(out), "--jobs", "1"]
    names = ["latent_dim2-seed0", "latent_dim3-seed0", "latent_dim2-seed1", "latent_dim3-seed1"]
    # killed while the second run trains: it has finished its first of two epochs
    code, stdout, stderr = stop_sweep_when(
        command, lambda: epochs_of(out / names[1]), "the second run's first epoch"
    )
    assert (out / "study.json").exists()
    assert code == 128 + signal.SIGTERM, stdout + stderr
    assert f"done {names[0]}" in stdout and f"stopped {names[1]}" in stdout, stdout
    assert "every run is resumable" in stdout
    states = {r.name: (r.state, r.epochs_done) for r in study_status(out).runs}
    assert states == dict(
        zip(names, [("done", 2), ("unfinished", 1), ("pending", 0), ("pending", 0)], strict=True)
    )
    assert "saved a checkpoint" in (out / names[1] / "stderr.log").read_text()
    first_metrics = (out / names[0] / "metrics.jsonl").stat().st_mtime_ns

    again = subprocess.run(command, capture_output=True, text=True, env=env(), timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"[1/3] resume {names[1]}" in again.stdout and names[0] not in again.stdout
    saved = json.loads((out / "study.json").read_text())
    attempts = json.loads((out / "sweep-state.json").read_text())["runs"]
    for run in saved["runs"]:
        run_dir = out / run["name"]
        assert epochs_of(run_dir) == [1, 2], run["name"]  # every epoch exactly once
        assert rundir.read_summary(run_dir)["status"] == "finished"
        # the run trained the planned configuration
        config, meta = read_config(run_dir)
        assert config.to_dict() == RunConfig.from_dict(run["config"]).to_dict()
        assert meta["data_dir"] == str(mnist_dir.resolve())
        assert "test ELBO" in (run_dir / "stdout.log").read_text()
    assert (out / names[0] / "metrics.jsonl").stat().st_mtime_ns == first_metrics  # not re-run
    assert [a["action"] for a in attempts[names[0]]] == ["run"]
    assert [(a["action"], a["interrupted"]) for a in attempts[names[1]]] == [
        ("run", True),
        ("resume", False),
    ]
    assert [a["exit_code"] for a in attempts[names[1]]][1] == 0
    resumed = (out / names[1] / "stdout.log").read_text()
    assert resumed.count("--- genmod sweep") == 2 and "(epoch 1 done)" in resumed

    # idempotent: a third sweep starts nothing
    third = subprocess.run(command, capture_output=True, text=True, env=env(), timeout=120)
    assert third.returncode == 0, third.stdout + third.stderr
    assert "4 runs, 4 done, 0 to start" in third.stdout
    assert json.loads((out / "sweep-state.json").read_text())["runs"] == attempts
    status = invoke("sweep", "--status", out)
    assert status.output.splitlines()[0] == f"study tiny in {out}: 4 runs: 4 done"
    assert re.search(rf"^{names[1]}\s+done\s+2\s+2\s*$", status.output, re.M), status.output


def test_a_failing_run_is_reported_and_does_not_stop_the_others(tmp_path, mnist_dir):
    # a batch larger than the 64 training images fails when the run starts (--no-check skips
    # the check that would refuse it before the sweep starts anything)
    path = write_study(
        tmp_path,
        """
        [grid]
        batch_size = [128, 16]
        """,
        base=TINY,
    )
    out = tmp_path / "out"
    done = subprocess.run(
        [
            GENMOD,
            "sweep",
            str(path),
            "--out",
            str(out),
            "--jobs",
            "2",
            "--data-dir",
            str(mnist_dir),
            "--no-check",
        ],
        capture_output=True,
        text=True,
        env=env(),
        timeout=600,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        "FAILED batch_size128: exit 2: Error: --batch-size 128 is larger than the training set"
        in done.stdout
    )
    assert "done batch_size16" in done.stdout and "1 done, 1 failed" in done.stdout
    status = json.loads(invoke("sweep", "--status", out, "--json").output)
    assert [(r["name"], r["state"], r["exit_code"]) for r in status["runs"]] == [
        ("batch_size128", "failed", 2),
        ("batch_size16", "done", None),
    ]
    assert "larger than the training set" in (out / "batch_size128" / "stderr.log").read_text()
    assert epochs_of(out / "batch_size16") == [1]


def test_a_combination_that_cannot_be_built_is_refused_before_any_run_starts(tmp_path, mnist_dir):
    """RunConfig.resolve accepts a conditional encoder with a VampPrior and a batch larger than
    the training set; building the run does not: the sweep refuses before starting anything."""
    for grid, run, words in (
        ('encoder = ["mlp", "cmlp"]\n', "encoder_cmlp", "conditional encoder"),
        ("batch_size = [16, 128]\n", "batch_size128", "larger than the training set"),
    ):
        base = TINY + (
            'prior = "vampprior"\nprior_options.components = 4\n' if "cmlp" in grid else ""
        )
        base = base.replace('encoder = "mlp"\n', "") if "cmlp" in grid else base
        path = write_study(tmp_path / run, "[grid]\n" + grid, base=base)
        out = tmp_path / run / "out"
        done = subprocess.run(
            [GENMOD, "sweep", str(path), "--out", str(out), "--data-dir", str(mnist_dir)],
            capture_output=True,
            text=True,
            env=env(),
            timeout=300,
        )
        assert done.returncode == 2, done.stdout + done.stderr
        error = done.stderr.strip().splitlines()
        assert len(error) == 1 and error[0].startswith(f"Error: run {run} ("), error
        assert words in error[0] and "Nothing was started" in error[0]
        # refused before the plan or any run was written (the study folder holds its lock)
        assert not out.exists()  # a new study folder refused before anything is not kept


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def test_fifos_and_devices_where_a_study_reads_a_file_are_refused_without_a_hang(tmp_path):
    """A FIFO or device as the study file, study.json or the lock's record: exit 2 and one
    line (or the record ignored), never a read that blocks (run as subprocesses with a
    timeout, so that a hang fails the test instead of stopping the suite)."""

    def genmod(*args: object) -> subprocess.CompletedProcess:
        return subprocess.run(
            [GENMOD, *map(str, args)], capture_output=True, text=True, env=env(), timeout=120
        )

    for study_file in (_fifo(tmp_path / "fifo.toml"), Path("/dev/zero")):
        done = genmod("sweep", study_file, "--dry-run", "--out", tmp_path / "x")
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().splitlines() == [
            f"Error: study file {str(study_file)!r} is not a regular file (a FIFO, socket or "
            "device); give a TOML file."
        ]
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * (1 << 20) + "\n")
    done = genmod("sweep", big, "--dry-run")
    assert done.returncode == 2 and "is larger than 1024 KiB" in done.stderr

    path = write_study(tmp_path, "[grid]\nlatent_dim = [2]\n")
    study = tmp_path / "study"
    sweep(plan_of(path), study, FakeExecutor(), log=lambda line: None)
    (study / runlock_holder_file()).unlink(missing_ok=True)
    _fifo(study / runlock_holder_file())
    status = genmod("sweep", "--status", study)
    assert status.returncode == 0, status.stderr  # no holder record: nobody sweeps it
    (study / "study.json").unlink()
    _fifo(study / "study.json")
    for args in (("sweep", "--status", study), ("sweep", path, "--out", study, "--dry-run")):
        done = genmod(*args)
        assert done.returncode == 2, done.stderr
        assert "study.json' is not a regular file" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def runlock_holder_file() -> str:
    from genmod.runs.lock import HOLDER_FILE

    return HOLDER_FILE


def test_a_run_folder_that_is_not_the_planned_run_is_refused_and_marked(tmp_path):
    """A run folder of another configuration (another study's, or started by hand with other
    settings) would be resumed, or counted done, and mix into its group: refused, naming
    the run and the settings; so is a run folder that is a symbolic link."""
    path = write_study(tmp_path, "seeds = [0, 1]\n[grid]\nlatent_dim = [2, 3]\n")
    plan = plan_of(path)
    study = tmp_path / "study"
    executor = FakeExecutor()
    sweep(plan, study, executor, log=lambda line: None)
    # the planned run, started: accepted (its config.toml has the planned settings)
    planned = plan.run("latent_dim2-seed0")
    (study / planned.name).mkdir()
    write_config(study / planned.name, planned.config, {"data_shape": [28, 28, 1]})
    sweep(plan, study, executor, log=lambda line: None)
    assert [t.action for t in executor.calls[-1]][:1] == ["resume"]
    # another configuration in a planned run's folder
    other = dataclasses.replace(plan.run("latent_dim3-seed1").config, seed=0, epochs=3)
    (study / "latent_dim3-seed1").mkdir()
    write_config(study / "latent_dim3-seed1", other, {"data_shape": [28, 28, 1]})
    calls = len(executor.calls)
    with pytest.raises(RunDirError) as caught:
        sweep(plan, study, executor, log=lambda line: None)
    assert "'latent_dim3-seed1' was started with other settings than the plan (epochs, seed)" in (
        str(caught.value)
    )
    assert len(executor.calls) == calls  # nothing started
    result = invoke("sweep", path, "--out", study)
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "Move them out of the study folder" in result.output
    assert invoke("sweep", path, "--out", study, "--dry-run").exit_code == 2
    marked = {r.name: r.note for r in study_status(study).runs}
    assert marked["latent_dim3-seed1"].startswith("NOT THE PLANNED RUN: its folder was started")
    assert study_status(study).counts["foreign"] == 1  # not counted done, nor unfinished
    assert marked["latent_dim2-seed0"] == ""
    # moved out: the study goes on; a symbolic link in its place is refused too
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (study / "latent_dim3-seed1").rename(tmp_path / "moved")
    (study / "latent_dim3-seed1").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(RunDirError, match="'latent_dim3-seed1' is a symbolic link"):
        sweep(plan, study, executor, log=lambda line: None)
    assert list(elsewhere.iterdir()) == []
    (study / "latent_dim3-seed1").unlink()
    sweep(plan, study, executor, log=lambda line: None)
    assert len(executor.calls) == calls + 1


def test_a_damaged_attempt_record_is_kept_aside_and_said(tmp_path):
    path = write_study(tmp_path, "[grid]\nlatent_dim = [2, 3]\n")
    plan = plan_of(path)
    study = tmp_path / "study"
    sweep(plan, study, FakeExecutor(), log=lambda line: None)
    (study / "sweep-state.json").write_text("{not json")
    lines: list[str] = []
    sweep(plan, study, FakeExecutor(), log=lines.append)
    kept = sorted(study.glob("sweep-state.damaged-*.json"))
    assert len(kept) == 1 and kept[0].read_text() == "{not json"
    assert any(
        line.startswith("note: sweep-state.json could not be read (not valid JSON")
        and kept[0].name in line
        for line in lines
    ), lines


def test_a_signal_while_the_runs_are_checked_stops_the_sweep_and_keeps_no_new_folder(tmp_path):
    path = write_study(tmp_path, "[grid]\nlatent_dim = [2, 3]\n")
    plan = plan_of(path)
    study = tmp_path / "study"
    executor = FakeExecutor()

    def check(runs):
        os.kill(os.getpid(), signal.SIGTERM)  # as if the user stopped it mid-check
        time.sleep(5)
        pytest.fail("SIGTERM did not stop the check")

    with pytest.raises(SweepStopped) as caught:
        sweep(plan, study, executor, log=lambda line: None, check=check)
    assert caught.value.signal == signal.SIGTERM
    assert not study.exists() and executor.calls == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # put back
    # a refusal by the check leaves no new folder either
    with pytest.raises(ConfigError, match="cannot start"):
        sweep(
            plan,
            study,
            executor,
            log=lambda line: None,
            check=lambda runs: (_ for _ in ()).throw(ConfigError("run x cannot start")),
        )
    assert not study.exists()


def test_a_sweep_whose_runs_all_finished_as_a_signal_came_is_done():
    status = StudyStatus(Path("s"), "s", (RunStatus("a", "done", 1, 1),), None)
    assert SweepResult(status, ("a",), signal.SIGINT, 1.0).exit_code == 0
    pending = StudyStatus(Path("s"), "s", (RunStatus("a", "pending", 0, 0),), None)
    assert SweepResult(pending, (), signal.SIGINT, 1.0).exit_code == 128 + signal.SIGINT


def test_usage_errors_are_one_line_naming_the_help():
    for args, message in (
        (("sweep", "x.toml", "--jobs", "0"), "Error: Invalid value for '--jobs': 0 is not in"),
        (("sweep", "x.toml", "--jobs", "abc"), "Error: Invalid value for '--jobs': 'abc'"),
        (("sweep", "--executor", "pbs", "x.toml"), "Error: Invalid value for '--executor'"),
        (("no-such-command",), "Error: No such command 'no-such-command'."),
    ):
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(message), lines
        assert lines[0].endswith("--help)"), lines


class RefusingExecutor(FakeExecutor):
    """Refuses when it starts, as a Ray executor that cannot join its cluster does."""

    def execute(self, tasks, reporter):
        raise ConfigError("--executor ray: cannot join the Ray cluster at 'x:1': refused")


def test_a_new_study_refused_before_any_run_started_leaves_no_folder(tmp_path):
    path = write_study(tmp_path, "[grid]\nlatent_dim = [2, 3]\n")
    plan = plan_of(path)
    study = tmp_path / "study"
    with pytest.raises(ConfigError, match="cannot join"):
        sweep(plan, study, RefusingExecutor(), log=lambda line: None)
    assert not study.exists()  # study.json and .plan/ were written, then taken back
    # an existing study keeps its folder and record
    sweep(plan, study, FakeExecutor(), log=lambda line: None)
    with pytest.raises(ConfigError, match="cannot join"):
        sweep(plan, study, RefusingExecutor(), log=lambda line: None)
    assert (study / "study.json").is_file()


def test_records_larger_than_genmod_writes_are_not_read(tmp_path, monkeypatch):
    path = write_study(tmp_path, "[grid]\nlatent_dim = [2, 3]\n")
    plan = plan_of(path)
    study = tmp_path / "study"
    sweep(plan, study, FakeExecutor(), log=lambda line: None)
    from genmod.studies import state as states

    monkeypatch.setattr(states, "MAX_STATE_BYTES", 10)
    (study / "sweep-state.json").write_text('{"format": 1, "runs": {}}')
    assert Attempts(study).damaged == "larger than 0 MiB"
    monkeypatch.setattr(records, "MAX_RECORD_BYTES", 10)
    with pytest.raises(RunDirError, match="study.json' is larger than 0 MiB, so not a study"):
        study_status(study)


def test_axes_in_another_order_are_named_even_when_runs_are_added(tmp_path):
    first = write_study(tmp_path, "[grid]\nlatent_dim = [2]\nlearning_rate = [0.002]\n")
    study = tmp_path / "study"
    sweep(plan_of(first), study, FakeExecutor(), log=lambda line: None)
    swapped = write_study(
        tmp_path, "[grid]\nlearning_rate = [0.002, 0.003]\nlatent_dim = [2]\n", name="b.toml"
    )
    for add in (False, True):
        with pytest.raises(ConfigError) as caught:
            sweep(plan_of(swapped), study, FakeExecutor(), add=add, log=lambda line: None)
        assert "its runs are in the new plan under other names" in str(caught.value)
        assert "([grid] latent_dim, learning_rate)" in str(caught.value)
