"""genmod-resnet's components honour genmod's interface contract (genmod.testing)."""

import pytest

from genmod.plugins import get_registry
from genmod.testing import check_component


def test_genmod_finds_the_plugin_through_its_entry_point():
    registry = get_registry()
    for kind, name in [("encoder", "resnet"), ("decoder", "resnet"), ("prior", "student-t")]:
        assert registry.get(kind, name).plugin == "resnet"


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_resnet_networks_conform(kind):
    check_component(kind, "resnet")
    check_component(
        kind, "resnet", {"channels": (4, 8), "blocks": 2, "activation": "elu"}, condition_dim=10
    )


@pytest.mark.parametrize("learn_scale", [True, False])
def test_student_t_prior_conforms(learn_scale):
    check_component("prior", "student-t", {"df": 3.0, "learn_scale": learn_scale})
