"""Values in configurations and options: a float setting holds a float (1 and 1.0 are one
learning rate), and a float option is finite."""

from __future__ import annotations

import math

import pytest

from genmod.config import RunConfig
from genmod.contract.errors import ConfigError
from genmod.contract.options import Option, resolve_options


def test_a_whole_number_for_a_float_setting_is_that_float():
    one = RunConfig.from_dict({"learning_rate": 1, "lr_min": 0})
    assert isinstance(one.learning_rate, float) and one.learning_rate == 1.0
    assert isinstance(one.lr_min, float)
    assert one == RunConfig.from_dict({"learning_rate": 1.0, "lr_min": 0.0})
    assert one.to_dict()["learning_rate"] == 1.0
    with pytest.raises(ConfigError, match="key 'learning_rate' must be float"):
        RunConfig.from_dict({"learning_rate": True})
    assert RunConfig.from_dict({"latent_dim": 4}).latent_dim == 4  # ints stay ints


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_float_option_must_be_finite(bad):
    declared = (Option("beta", "float", 1.0, "the KL weight", min=0),)
    for given, from_strings in (({"beta": bad}, False), ({"beta": str(bad)}, True)):
        with pytest.raises(ConfigError, match="it must be a finite number"):
            resolve_options(declared, given, "objective 'beta-vae'", from_strings=from_strings)
    listed = (Option("widths", "floats", (1.0,), "widths"),)
    with pytest.raises(ConfigError, match="it must be a finite number"):
        resolve_options(listed, {"widths": [1.0, bad]}, "x", from_strings=False)
    assert resolve_options(declared, {"beta": 4}, "x", from_strings=False) == {"beta": 4.0}
