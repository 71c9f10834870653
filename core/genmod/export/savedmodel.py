"""A trained VAE as a TensorFlow SavedModel with fixed, named signatures.

The saved graphs hold TensorFlow operations only (TensorFlow Probability's distributions are
traced into plain ops; the outputs are tensors, never distribution objects), so the export
loads with ``tf.saved_model.load`` and nothing else. Every random draw is stateless, from the
int32 ``[2]`` ``seed`` input, so the same seed gives the same numbers as genmod's own model.

Signatures (``C`` = ``condition_dim``; ``y`` only for conditional models):

* ``encode(x, seed[, y])`` -> ``params`` ``[None, P]`` (the encoder's raw posterior
  parameters), ``location`` ``[None, latent_dim]`` (q(z|x)'s mean or
  :meth:`~genmod.contract.components.PosteriorFamily.location`), ``sample``
  ``[None, latent_dim]`` (one draw of q(z|x)).
* ``decode(z[, y])`` -> ``params`` ``[None, *data_shape, params_per_element]`` and, when the
  likelihood has a mean, ``mean`` ``[None, *data_shape]``.
* ``sample(n, seed[, y])`` -> ``images`` ``[n, *data_shape]`` (the likelihood's
  :meth:`~genmod.contract.components.Likelihood.image` of z ~ p(z); ``y`` is ``[n, C]``).
* ``elbo(x, seed[, y])`` -> ``elbo`` ``[None]``, nats per item (one-sample ELBO, as the
  run's test ELBO computes it).

Imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tensorflow as tf

from genmod.contract.errors import ConfigError
from genmod.model.elbo import elbo_terms

#: which signatures each ``--part`` exports
PART_SIGNATURES = {
    "all": ("encode", "decode", "sample", "elbo"),
    "encoder": ("encode",),
    "decoder": ("decode", "sample"),
}


@dataclass(frozen=True)
class TensorSpecText:
    """One input or output of a signature, for the model card."""

    name: str
    dtype: str
    shape: list[int | None]


@dataclass
class TracedSignatures:
    """The concrete functions of an export and what they take and return."""

    functions: dict[str, Any]
    inputs: dict[str, list[TensorSpecText]]
    outputs: dict[str, list[TensorSpecText]]
    variables: list[tf.Variable]


class ExportFailed(ConfigError):
    """A component of the model could not be traced into a SavedModel signature."""


def _specs(model) -> dict[str, tf.TensorSpec]:
    data_shape = list(model.data_shape)
    return {
        "x": tf.TensorSpec([None, *data_shape], tf.float32, name="x"),
        "y": tf.TensorSpec([None, model.condition_dim], tf.float32, name="y"),
        "z": tf.TensorSpec([None, model.latent_dim], tf.float32, name="z"),
        "seed": tf.TensorSpec([2], tf.int32, name="seed"),
        "n": tf.TensorSpec([], tf.int32, name="n"),
    }


def _encode(model, x, seed, y=None):
    params = model.encoder(x, y) if y is not None else model.encoder(x)
    params = tf.cast(params, tf.float32)
    q = model.encoder.posterior_family(params)
    return {
        "params": tf.identity(params),
        "location": tf.identity(model.encoder.posterior_family.location(q)),
        "sample": tf.identity(q.sample(seed=seed)),
    }


def _decode(model, z, y=None):
    params = model.decoder.decode(z, y)
    out = {"params": tf.identity(params)}
    if model.likelihood.has_mean:
        out["mean"] = tf.identity(model.likelihood.mean(params))
    return out


def _sample(model, n, seed, y=None):
    if y is not None:
        tf.debugging.assert_equal(
            tf.shape(y)[0], n, message="sample: y must have n rows (one label per image)"
        )
    return {"images": tf.identity(model.sample(n, y, seed=seed))}


def _elbo(model, x, seed, y=None):
    return {"elbo": tf.identity(elbo_terms(model, x, y, seed=seed).elbo)}


#: signature name -> (the function, its inputs in order, the component that may fail there)
_SIGNATURES = {
    "encode": (_encode, ("x", "seed"), "encoder/posterior"),
    "decode": (_decode, ("z",), "decoder/likelihood"),
    "sample": (_sample, ("n", "seed"), "prior/decoder/likelihood"),
    "elbo": (_elbo, ("x", "seed"), "encoder/decoder/likelihood/prior"),
}


def component_names(model, where: str) -> str:
    """``"encoder 'MLPEncoder', posterior 'DiagonalGaussian'"`` for a ``where`` such as
    ``"encoder/posterior"``: the classes a failing signature ran through."""
    objects = {
        "encoder": model.encoder,
        "posterior": model.encoder.posterior_family,
        "decoder": model.decoder,
        "likelihood": model.likelihood,
        "prior": model.prior,
    }
    return ", ".join(f"{kind} {type(objects[kind]).__name__!r}" for kind in where.split("/"))


def _bind(body, model):
    def bound(*args):
        return body(model, *args)

    return bound


def _encode_deterministic(model, x, y=None):
    out = _encode(model, x, tf.zeros([2], tf.int32), y)
    del out["sample"]  # a random draw: not in this variant
    return out


#: the TFLite variants: only operations of the TFLite built-in set (no random draws), so
#: ``encode`` gives the parameters and location of q(z|x) without a sample
DETERMINISTIC_SIGNATURES = {
    "encode": (_encode_deterministic, ("x",), "encoder/posterior"),
    "decode": _SIGNATURES["decode"],
}
#: which deterministic signatures each ``--part`` exports
DETERMINISTIC_PARTS = {"all": ("encode", "decode"), "encoder": ("encode",), "decoder": ("decode",)}


def trace_signatures(model, part: str = "all", *, deterministic: bool = False) -> TracedSignatures:
    """Trace the signatures of ``part`` for a built :class:`genmod.model.vae.VAE`.

    ``deterministic``: the variants without random draws (:data:`DETERMINISTIC_SIGNATURES`,
    for TFLite) instead of the full set.

    Raises :class:`ExportFailed` naming the signature and the components it runs through
    when tracing fails (a component that is not traceable with fixed dtypes and a free batch
    dimension).
    """
    parts = DETERMINISTIC_PARTS if deterministic else PART_SIGNATURES
    table = DETERMINISTIC_SIGNATURES if deterministic else _SIGNATURES
    if part not in parts:
        raise ConfigError(f"unknown part {part!r}; accepted: {', '.join(parts)}.")
    specs = _specs(model)
    conditional = bool(model.condition_dim)
    functions: dict[str, Any] = {}
    inputs: dict[str, list[TensorSpecText]] = {}
    outputs: dict[str, list[TensorSpecText]] = {}
    variables: dict[int, tf.Variable] = {}
    for name in parts[part]:
        body, arg_names, where = table[name]
        names = (*arg_names, "y") if conditional else arg_names
        signature = [specs[a] for a in names]

        try:
            concrete = tf.function(_bind(body, model), input_signature=signature, autograph=False)
            concrete = concrete.get_concrete_function()
        except Exception as exc:  # noqa: BLE001 - any plugin error, reported with its names
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ExportFailed(
                f"the {name!r} signature cannot be traced with a free batch dimension "
                f"({component_names(model, where)}): {type(exc).__name__}: {first}"
            ) from None
        functions[name] = concrete
        inputs[name] = [
            TensorSpecText(a, s.dtype.name, s.shape.as_list())
            for a, s in zip(names, signature, strict=True)
        ]
        outputs[name] = [
            TensorSpecText(key, spec.dtype.name, spec.shape.as_list())
            for key, spec in sorted(concrete.structured_outputs.items())
        ]
        for variable in concrete.variables:
            variables.setdefault(id(variable), variable)
    return TracedSignatures(functions, inputs, outputs, list(variables.values()))


def save_savedmodel(traced: TracedSignatures, out_dir: Path) -> None:
    """Write traced signatures (:func:`trace_signatures`) as a SavedModel into ``out_dir``.

    The root object is a plain :class:`tf.Module` that holds only the variables the
    signatures read, so loading needs no Keras and no genmod classes.
    """
    root = tf.Module()
    root.variables_used = traced.variables
    tf.saved_model.save(root, str(out_dir), signatures=dict(traced.functions))
