"""The hook specifications every genmod plugin implements a subset of.

A plugin is any module or object registered under the ``genmod`` entry-point group whose
functions are decorated with :data:`hookimpl`. Each ``register_*`` hook receives a ``register``
callback; call it once per component::

    register(name, factory, description="...", options=[Option(...)])

``factory`` is either a callable or a ``"module:attribute"`` string. Prefer the string: it is
imported only when the component is used, so ``genmod --help`` and ``genmod plugins`` stay fast
and do not import TensorFlow. The callback records the component; nothing is built.

This module must not import TensorFlow.
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT_NAME = "genmod"
ENTRY_POINT_GROUP = "genmod"

#: marks the hook specifications below (genmod's own use)
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
#: the decorator a plugin puts on each hook function it implements (also ``genmod.hookimpl``)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_encoders(register: Any) -> None:
    """Register encoders: networks from data x (and a condition) to q(z|x).

    The factory is called as ``factory(data_shape=..., latent_dim=..., posterior=...,
    condition_dim=..., **options)`` and must return a :class:`genmod.contract.components.Encoder`.
    """


@hookspec
def register_decoders(register: Any) -> None:
    """Register decoders: networks from z (and a condition) to likelihood parameters.

    The factory is called as ``factory(data_shape=..., latent_dim=..., params_per_element=...,
    condition_dim=..., **options)`` and must return a :class:`genmod.contract.components.Decoder`.
    """


@hookspec
def register_likelihoods(register: Any) -> None:
    """Register likelihoods p(x|z).

    The factory is called as ``factory(data_shape=..., **options)`` and must return a
    :class:`genmod.contract.components.Likelihood`.
    """


@hookspec
def register_priors(register: Any) -> None:
    """Register priors p(z).

    The factory is called as ``factory(latent_dim=..., **options)`` and must return a
    :class:`genmod.contract.components.Prior`.
    """


@hookspec
def register_posteriors(register: Any) -> None:
    """Register posterior families (how encoder outputs become a distribution over z).

    The factory is called as ``factory(latent_dim=..., **options)`` and must return a
    :class:`genmod.contract.components.PosteriorFamily`.
    """


@hookspec
def register_objectives(register: Any) -> None:
    """Register training objectives (ELBO, beta-VAE, ...).

    The factory is called as ``factory(**options)`` and must return a
    :class:`genmod.contract.components.Objective`.
    """


@hookspec
def register_datasets(register: Any) -> None:
    """Register datasets.

    The factory is called as ``factory(**options)`` and must return a
    :class:`genmod.data.Dataset`. Datasets must not need TensorFlow to load.
    """


@hookspec
def register_observers(register: Any) -> None:
    """Register run observers (experiment trackers, notifiers, loggers).

    The factory is called as ``factory(**options)`` and must return a
    :class:`genmod.contract.observers.RunObserver`. A run uses only the observers chosen with
    ``genmod run --observer NAME``; an observer that raises is reported once and disabled.
    """


@hookspec
def register_metrics(register: Any) -> None:
    """Register evaluation metrics (``genmod evaluate --metric NAME``).

    The factory is called as ``factory(**options)`` and must return a
    :class:`genmod.contract.metrics.Metric`, which declares what it needs (the model, test
    data, labels, ground-truth factors, generated samples, features) and returns named values
    with units and the method that produced them.
    """


@hookspec
def register_extractors(register: Any) -> None:
    """Register feature extractors for sample-quality metrics (``--extractor NAME``).

    The factory is called as ``factory(**options)`` and must return a
    :class:`genmod.contract.extractors.FeatureExtractor`.
    """


@hookspec
def register_samplers(register: Any) -> None:
    """Register latent samplers (``genmod sample --sampler NAME``, ``genmod evaluate
    --sampler NAME``): where generated images' codes come from (the prior, a density fitted to
    the aggregate posterior).

    The factory is called as ``factory(**options)`` and must return a
    :class:`genmod.contract.samplers.LatentSampler`.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``genmod`` command line.

    ``cli`` is the top-level :class:`click.Group`; decorate functions with ``@cli.command()``.
    Keep heavy imports inside the command functions.
    """
