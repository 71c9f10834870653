"""One home for configuration: a setting given to `genmod run` reaches the built model through
one call into :mod:`genmod.config` (and leaves through one, writing config.toml)."""

from __future__ import annotations

import sys

from click.testing import CliRunner

import genmod.api
from genmod.cli import cli


def _calls_into_config(frame_events: list[tuple[str, str, str]]) -> list[str]:
    """Functions of genmod.config called from a module outside it."""
    return sorted(
        {
            f"{callee_module}.{function}"
            for caller_module, callee_module, function in frame_events
            if callee_module.startswith("genmod.config")
            and not caller_module.startswith("genmod.config")
        }
    )


def test_latent_dim_goes_from_the_command_line_to_the_model_through_one_config_call(
    tmp_path, monkeypatch
):
    from genmod.model.assembly import build_model
    from genmod.plugins import get_registry

    built = {}

    def build_instead_of_training(config, **kwargs):
        # the Python API's first step, without the data and the training
        assembled = build_model(config, get_registry(), (28, 28, 1), 0)
        built["latent_dim"] = assembled.model.latent_dim
        raise SystemExit(0)

    monkeypatch.setattr(genmod.api, "train", build_instead_of_training)
    events: list[tuple[str, str, str]] = []

    def profile(frame, event, arg):
        if event == "call" and frame.f_back is not None:
            callee = frame.f_globals.get("__name__", "")
            caller = frame.f_back.f_globals.get("__name__", "")
            if callee.startswith("genmod.") and caller.startswith("genmod."):
                events.append((caller, callee, frame.f_code.co_name))

    sys.setprofile(profile)
    try:
        result = CliRunner().invoke(
            cli,
            ["run", "--latent-dim", "8", "--encoder", "mlp", "--out", str(tmp_path / "r")],
            catch_exceptions=False,
        )
    finally:
        sys.setprofile(None)
    assert result.exit_code == 0, result.output
    assert built["latent_dim"] == 8
    assert _calls_into_config(events) == ["genmod.config.sources.from_command_line"]


def test_a_config_file_is_read_inside_the_same_call(tmp_path):
    from genmod.config import from_command_line, read_config_file
    from genmod.plugins import get_registry

    path = tmp_path / "c.toml"
    path.write_text("latent_dim = 4\nepochs = 3\n")
    from genmod.config import COMPONENT_FIELDS, RunConfig

    params = {name: getattr(RunConfig(), name) for name, _ in COMPONENT_FIELDS.values()}
    params.update(latent_dim=8, epochs=10)
    config, given = from_command_line(
        params, {"latent_dim"}, read_config_file(path), registry=get_registry()
    )
    # the command line beats the file, the file beats the defaults
    assert (config.latent_dim, config.epochs) == (8, 3)
    assert {"latent_dim", "epochs"} <= given
