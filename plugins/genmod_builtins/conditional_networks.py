"""Conditional versions of the mlp and cnn networks: the same layers, but a condition (one-hot
label, float32 ``[batch, condition_dim]``) is required and declared with ``conditional = True``.
"""

from __future__ import annotations

from genmod.contract.errors import ConfigError
from genmod_builtins.cnn_networks import ConvDecoder, ConvEncoder
from genmod_builtins.mlp_networks import MLPDecoder, MLPEncoder


def _require_condition(layer, condition) -> None:
    if layer.condition_dim < 1:
        raise ConfigError(
            f"{type(layer).__name__} is conditional but was built with condition_dim=0; build it "
            "through genmod (genmod.model.assembly.condition_dim_for) or pass condition_dim."
        )
    if condition is None:
        raise ConfigError(
            f"{type(layer).__name__} needs a condition (one-hot labels of shape "
            f"[batch, {layer.condition_dim}]); none was given."
        )


class ConditionalMLPEncoder(MLPEncoder):
    """q(z|x, y): ``[flatten(x), y]`` through the mlp encoder's layers."""

    conditional = True

    def call(self, x, condition=None):
        _require_condition(self, condition)
        return super().call(x, condition)


class ConditionalMLPDecoder(MLPDecoder):
    """p(x|z, y): ``[z, y]`` through the mlp decoder's layers."""

    conditional = True

    def call(self, z, condition=None):
        _require_condition(self, condition)
        return super().call(z, condition)


class ConditionalConvEncoder(ConvEncoder):
    """q(z|x, y): convolutions on x, then ``[features, y]`` to the posterior parameters."""

    conditional = True

    def call(self, x, condition=None):
        _require_condition(self, condition)
        return super().call(x, condition)


class ConditionalConvDecoder(ConvDecoder):
    """p(x|z, y): ``[z, y]`` to the dense map, then the cnn decoder's transposed convolutions."""

    conditional = True

    def call(self, z, condition=None):
        _require_condition(self, condition)
        return super().call(z, condition)
