"""Checks genmod runs on every assembled model before training (and the kit reuses).

A component's mistakes that would otherwise train silently with wrong numbers, or lose work
later, are caught when the model is built, each with a :class:`PluginError` naming the
component and the rule: a distribution with the wrong batch or event shape, a likelihood
picture (``image()``, the mean by default) of the wrong shape, and variables that Keras does
not track (never trained, saved or restored). Imports TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from genmod.contract.errors import PluginError


def untracked_variables(component: Any) -> list[str]:
    """Attribute paths of variables reachable from ``component`` that Keras does not track
    (they would be missing from the model's variables: never trained, saved or restored)."""
    tracked = set()
    for var in getattr(component, "variables", []):
        tracked.add(id(var))
        tracked.add(id(getattr(var, "value", None)))
    found: list[str] = []
    seen: set[int] = set()
    skip = (tf.Tensor, np.ndarray, type, str, bytes, int, float, bool, Callable)

    def walk(value: Any, path: str, depth: int) -> None:
        if id(value) in seen or depth > 8:
            return
        seen.add(id(value))
        if isinstance(value, (tf.Variable, keras.Variable)):
            if id(value) not in tracked:
                found.append(path)
            return
        if isinstance(value, skip) and not isinstance(value, (keras.layers.Layer, tf.Module)):
            return
        if isinstance(value, dict):
            items = [(f"{path}[{k!r}]", v) for k, v in value.items()]
        elif isinstance(value, (list, tuple, set)):
            items = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
        elif hasattr(value, "__dict__"):
            items = [(f"{path}.{k}", v) for k, v in vars(value).items()]
        else:
            return
        for sub_path, sub in items:
            walk(sub, sub_path, depth + 1)

    walk(component, type(component).__name__, 0)
    return found


def _shape(value: Any) -> list[int]:
    return [int(d) for d in value]


def check_assembled(model: Any, names: dict[str, str]) -> None:
    """Run a batch of two through a built :class:`~genmod.model.vae.VAE` and check what each
    component returns; ``names``: component kind -> ``"name (plugin 'p')"`` for messages."""

    def fail(kind: str, message: str) -> PluginError:
        return PluginError(
            f"the {kind} {names.get(kind, '?')} {message}; `genmod.testing.check_component` "
            f"checks the whole contract (docs/plugin-guide.md)."
        )

    latent = model.latent_dim
    x = tf.zeros((2, *model.data_shape), tf.float32)
    condition = tf.zeros((2, model.condition_dim)) if model.condition_dim else None
    q = model.posterior(x, condition)
    if _shape(q.batch_shape) != [2] or _shape(q.event_shape) != [latent]:
        raise fail(
            "posterior",
            f"gives q(z|x) with batch shape {_shape(q.batch_shape)} and event shape "
            f"{_shape(q.event_shape)}; expected batch [2] and event [{latent}] for a batch of 2 "
            "(wrap per-dimension distributions in tfd.Independent)",
        )
    z = q.sample(seed=tf.constant([0, 0], tf.int32))
    params = model.decoder.decode(z, condition)
    p = model.likelihood.distribution(params)
    want = list(model.data_shape)
    if _shape(p.batch_shape) != [2] or _shape(p.event_shape) != want:
        raise fail(
            "likelihood",
            f"gives p(x|z) with batch shape {_shape(p.batch_shape)} and event shape "
            f"{_shape(p.event_shape)}; expected batch [2] and event {want} "
            "(wrap per-pixel distributions in tfd.Independent)",
        )
    picture = model.likelihood.image(params, seed=tf.constant([0, 0], tf.int32))
    if _shape(picture.shape) != [2, *want]:
        raise fail(
            "likelihood",
            f"image() (what pictures show; mean() by default) has shape "
            f"{_shape(picture.shape)}; expected [2, *{want}]",
        )
    prior = model.prior_distribution()
    if _shape(prior.batch_shape) != [] or _shape(prior.event_shape) != [latent]:
        raise fail(
            "prior",
            f"gives p(z) with batch shape {_shape(prior.batch_shape)} and event shape "
            f"{_shape(prior.event_shape)}; expected batch [] and event [{latent}]",
        )
    for kind, component in (
        ("encoder", model.encoder),
        ("posterior", model.encoder.posterior_family),
        ("decoder", model.decoder),
        ("likelihood", model.likelihood),
        ("prior", model.prior),
    ):
        hidden = untracked_variables(component)
        if hidden:
            raise fail(
                kind,
                f"holds variables that Keras does not track ({', '.join(hidden[:3])}): they "
                "would never be trained, saved or restored. Assign Keras layers or add_weight "
                "variables to attributes of the component itself",
            )
