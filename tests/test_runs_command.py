"""`genmod runs` on hand-made run folders (no training): the full model spec, integers as
integers."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from genmod.cli import cli
from genmod.config import RunConfig, write_config
from genmod.runs import folder as rundir


def make_run(root: Path, name: str, config: RunConfig, evaluation: dict | None = None) -> Path:
    run = root / name
    run.mkdir(parents=True)
    write_config(run, config, {"data_shape": [28, 28, 1], "condition_dim": 0})
    rundir.append_metrics(run, {"epoch": 1, "test_elbo": -101.234, "validation_elbo": -100.5})
    rundir.write_summary(run, {"status": "finished", "best": {"validation_elbo": -100.5}})
    if evaluation is not None:
        (run / "evaluation.json").write_text(json.dumps(evaluation))
    return run


def invoke(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def two_runs(tmp_path: Path) -> Path:
    make_run(
        tmp_path,
        "a-diagonal",
        RunConfig(epochs=1, posterior="diagonal"),
        {"log_likelihood": -95.4321, "num_samples": 100, "active_units": 16},
    )
    make_run(
        tmp_path,
        "b-other",
        RunConfig(
            epochs=1,
            posterior="full-covariance",
            prior="vampprior",
            objective="beta-vae",
            objective_options={"beta": 2.0},
            likelihood="gaussian",
            encoder="cnn",
            latent_dim=8,
        ),
    )
    return tmp_path


def test_runs_json_gives_every_component_with_its_options(tmp_path):
    result = invoke("runs", two_runs(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    first, second = json.loads(result.output)
    assert first["spec"]["posterior"] == {"name": "diagonal", "options": {}}
    assert second["spec"] == {
        "dataset": {"name": "mnist", "options": {}},
        "encoder": {"name": "cnn", "options": {}},
        "decoder": {"name": "cnn", "options": {}},
        "likelihood": {"name": "gaussian", "options": {}},
        "prior": {"name": "vampprior", "options": {}},
        "posterior": {"name": "full-covariance", "options": {}},
        "objective": {"name": "beta-vae", "options": {"beta": 2.0}},
        "latent_dim": 8,
    }
    assert second["model"] == (
        "mnist: cnn/cnn-gaussian z8, full-covariance posterior, vampprior prior, beta-vae"
    )


def test_runs_table_tells_runs_with_different_components_apart(tmp_path):
    result = invoke("runs", two_runs(tmp_path))
    assert result.exit_code == 0, result.output
    first, second = (line for line in result.output.splitlines()[1:])
    assert "mnist: mlp/mlp-bernoulli z16, diagonal posterior, normal prior, elbo" in first
    assert "full-covariance posterior" in second and "vampprior prior" in second
    assert "beta-vae" in second and "gaussian" in second


def test_runs_prints_counts_as_integers_and_nats_with_two_decimals(tmp_path):
    output = invoke("runs", two_runs(tmp_path)).output
    assert "log_likelihood -95.43, num_samples 100, active_units 16" in output
    assert "100.00" not in output and "16.00" not in output
    assert "-101.23" in output and "-100.50" in output
