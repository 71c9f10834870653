"""Assembling a model from component names: the one place names become objects."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genmod.config import RunConfig
from genmod.contract.errors import ConfigError, GenmodError, PluginError
from genmod.contract.units import EIGHT_BIT, SUPPORTS
from genmod.data import Dataset, DatasetArrays, load_checked
from genmod.plugins import ComponentSpec, Registry, strict_mode


def _construct(spec: ComponentSpec, expected: type | None, **kwargs: Any) -> Any:
    factory = spec.load()
    try:
        obj = factory(**kwargs)
    except GenmodError:
        raise
    except TypeError as exc:
        raise PluginError(
            f"plugin {spec.plugin!r}: the {spec.kind} {spec.name!r} could not be built with "
            f"arguments {sorted(kwargs)}: {exc}"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - a plugin's own bug, reported with its name
        if strict_mode():
            raise  # plugin developers get the full traceback
        raise PluginError(
            f"plugin {spec.plugin!r}: building the {spec.kind} {spec.name!r} failed: "
            f"{type(exc).__name__}: {exc} (set GENMOD_STRICT_PLUGINS=1 for the traceback)"
        ) from exc
    if expected is not None and not isinstance(obj, expected):
        raise PluginError(
            f"plugin {spec.plugin!r}: the {spec.kind} {spec.name!r} returned "
            f"{type(obj).__name__}, not a {expected.__module__}.{expected.__name__}."
        )
    return obj


def load_dataset(
    config: RunConfig, registry: Registry, data_dir: str | Path | None
) -> tuple[Dataset, DatasetArrays]:
    """Load the configured dataset (no TensorFlow needed), cut to train/test sizes."""
    spec = registry.get("dataset", config.dataset)
    dataset = _construct(spec, Dataset, **config.dataset_options)
    arrays = load_checked(
        dataset,
        Path(data_dir).expanduser() if data_dir else None,
        f"dataset {config.dataset!r} (plugin {spec.plugin!r})",
    )
    return dataset, arrays.limited(config.train_size, config.test_size)


def resolve_binarization(config: RunConfig, support: str, likelihood: str) -> str:
    """The binarization a run uses, given the likelihood's support (see docs/models.md).

    ``auto`` means ``dynamic`` for binary likelihoods and ``none`` (grey levels in [0, 1])
    otherwise. A binary likelihood with grey levels (``none``) is refused: its log_prob would
    not be a normalised density, and numbers would not be comparable with the literature.
    An 8-bit likelihood (support ``"8bit"``) takes only ``none``: binarized data are not its
    256 values. ``unit_interval`` and ``real`` likelihoods accept every binarization (binary
    data lie in [0, 1] too), but their densities on binarized data are not comparable with
    Bernoulli numbers. A support outside :data:`SUPPORTS` is a plugin bug.
    """
    if support not in SUPPORTS:
        raise PluginError(
            f"the likelihood {likelihood!r} declares support {support!r}; genmod knows "
            + ", ".join(SUPPORTS)
            + "."
        )
    if config.binarize == "auto":
        return "dynamic" if support == "binary" else "none"
    if support == EIGHT_BIT and config.binarize != "none":
        raise ConfigError(
            f"the {likelihood!r} likelihood models 8-bit values (k/255, k = 0..255), but "
            f"--binarize {config.binarize} makes binary data. Use --binarize none (or leave "
            "--binarize out: auto picks none for it), or a likelihood for binary data such as "
            "bernoulli."
        )
    if support == "binary" and config.binarize == "none":
        raise ConfigError(
            f"the {likelihood!r} likelihood models binary pixels, but --binarize none keeps grey "
            "levels. Use --binarize dynamic (the default, as in the literature) or static, or a "
            "likelihood for grey levels such as gaussian or continuous-bernoulli."
        )
    return config.binarize


def check_data_for_likelihood(config: RunConfig, registry: Registry, data: DatasetArrays) -> None:
    """Refuse, before a run folder exists, a likelihood that cannot model the data.

    Reads the likelihood's ``support`` class attribute (a factory without one is checked only
    when the model is built, by :func:`resolve_binarization`): the binarization must fit it,
    and an 8-bit likelihood needs 8-bit data: a uint8 dataset, or float32 values that are all
    multiples of 1/255. A :class:`ConfigError` names the dataset and what was found.
    """
    factory = registry.get("likelihood", config.likelihood).load()
    support = getattr(factory, "support", None)
    if not isinstance(support, str):
        return
    resolve_binarization(config, support, config.likelihood)
    if support != EIGHT_BIT:
        return
    for split, x in (("training", data.x_train), ("test", data.x_test)):
        if x.dtype == np.uint8:
            continue
        worst = 0.0
        for start in range(0, len(x), 1000):  # bounded temporaries for large float datasets
            scaled = np.asarray(x[start : start + 1000], np.float64) * 255.0
            worst = max(worst, float(np.max(np.abs(scaled - np.round(scaled)), initial=0.0)))
        if worst > 1e-3:
            raise ConfigError(
                f"the {config.likelihood!r} likelihood models 8-bit values (k/255, k = "
                f"0..255), but the {split} images of the dataset {config.dataset!r} are "
                f"{x.dtype} values off that grid (by up to {worst:.3g}/255). Use it with 8-bit "
                "(uint8) data, or choose a likelihood for grey levels such as gaussian or "
                "continuous-bernoulli."
            )


def is_conditional(config: RunConfig, registry: Registry) -> bool:
    """Whether the run's encoder or decoder declares ``conditional = True`` (imports them)."""
    if config.decoder is None:
        raise ValueError("is_conditional needs a resolved config (RunConfig.resolve)")
    for kind, name in (("encoder", config.encoder), ("decoder", config.decoder)):
        if getattr(registry.get(kind, name).load(), "conditional", False):
            return True
    return False


def condition_dim_for(config: RunConfig, registry: Registry, data: DatasetArrays) -> int:
    """The model's ``condition_dim``: ``data.num_classes`` (one-hot labels) when the encoder or
    decoder is conditional, else 0. A conditional model on unlabelled data is a ConfigError."""
    if not is_conditional(config, registry):
        return 0
    if data.num_classes < 1 or data.y_train is None or data.y_test is None:
        raise ConfigError(
            f"the {config.encoder!r} encoder / {config.decoder!r} decoder are conditional "
            f"(they see one-hot class labels), but the dataset {config.dataset!r} has no labels. "
            "Use an unconditional encoder and decoder (such as mlp or cnn) with this dataset."
        )
    return int(data.num_classes)


@dataclass
class Assembled:
    """The built pieces of a run."""

    model: Any  # genmod.model.VAE
    objective: Any  # genmod.contract.components.Objective
    binarize: str


def build_model(
    config: RunConfig, registry: Registry, data_shape: tuple[int, ...], condition_dim: int = 0
) -> Assembled:
    """Build the VAE and objective for a resolved config. Imports TensorFlow.

    Variables are created (the model is run once on a dummy batch) so that checkpoints can be
    restored into the result straight away.
    """
    from genmod.contract.components import (
        Decoder,
        Encoder,
        Likelihood,
        Objective,
        PosteriorFamily,
        Prior,
    )
    from genmod.model import VAE

    if config.decoder is None:
        raise ValueError("build_model needs a resolved config (RunConfig.resolve)")
    data_shape = tuple(int(d) for d in data_shape)
    latent = config.latent_dim
    posterior = _construct(
        registry.get("posterior", config.posterior),
        PosteriorFamily,
        latent_dim=latent,
        **config.posterior_options,
    )
    likelihood = _construct(
        registry.get("likelihood", config.likelihood),
        Likelihood,
        data_shape=data_shape,
        **config.likelihood_options,
    )
    binarize = resolve_binarization(config, likelihood.support, config.likelihood)
    encoder = _construct(
        registry.get("encoder", config.encoder),
        Encoder,
        data_shape=data_shape,
        latent_dim=latent,
        posterior=posterior,
        condition_dim=condition_dim,
        **config.encoder_options,
    )
    decoder = _construct(
        registry.get("decoder", config.decoder),
        Decoder,
        data_shape=data_shape,
        latent_dim=latent,
        params_per_element=likelihood.params_per_element,
        condition_dim=condition_dim,
        **config.decoder_options,
    )
    prior = _construct(
        registry.get("prior", config.prior), Prior, latent_dim=latent, **config.prior_options
    )
    objective = _construct(
        registry.get("objective", config.objective), Objective, **config.objective_options
    )
    model = VAE(
        encoder=encoder,
        decoder=decoder,
        likelihood=likelihood,
        prior=prior,
        data_shape=data_shape,
        latent_dim=latent,
        condition_dim=condition_dim,
    )
    model.build_variables()
    from genmod.model.checks import check_assembled

    names = {}
    for kind in ("encoder", "posterior", "decoder", "likelihood", "prior"):
        name = getattr(config, kind)
        names[kind] = f"{name!r} (plugin {registry.get(kind, name).plugin!r})"
    check_assembled(model, names)
    return Assembled(model, objective, binarize)
