"""Choosing and preparing the feature extractor of an evaluation (``--extractor NAME``).

``auto`` (the default) picks what the literature uses for the data: ``inception-v3`` pool
features for colour images, and for grey, MNIST-like images a ``domain-classifier`` trained on
the dataset's labels (docs/metrics.md says why, and how the two differ). The prepared
extractor's :meth:`~genmod.contract.extractors.FeatureExtractor.describe` (weights and their
sha256, layer, preprocessing) is recorded with every value computed from its features.
No TensorFlow here (extractors import it when prepared).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from genmod.contract.errors import ConfigError, PluginError
from genmod.contract.extractors import ExtractorData, FeatureExtractor
from genmod.contract.options import resolve_options
from genmod.evaluate.suite import construct, plain
from genmod.plugins import EXTRACTOR_KIND, Registry

AUTO = "auto"
#: the extractor for colour images and for grey images
COLOUR_EXTRACTOR = "inception-v3"
GREY_EXTRACTOR = "domain-classifier"


@dataclass
class PreparedExtractor:
    """An extractor ready to compute features, with its method record."""

    name: str
    extractor: FeatureExtractor
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def feature_dims(self) -> int:
        return int(self.extractor.feature_dims)

    def features(self, images: Any) -> Any:
        return self.extractor.features(images)


def choose_extractor(name: str, data_shape: tuple[int, ...], num_classes: int) -> tuple[str, str]:
    """The extractor ``name`` resolves to, and why: ``auto`` is ``inception-v3`` for colour
    images (3 channels) and ``domain-classifier`` for grey ones with labels; grey images
    without labels need ``--extractor`` chosen explicitly."""
    if name != AUTO:
        return name, "chosen with --extractor"
    channels = data_shape[-1] if data_shape else 1
    if channels == 3:
        return COLOUR_EXTRACTOR, "auto: colour images"
    if num_classes >= 2:
        return GREY_EXTRACTOR, "auto: grey images with class labels"
    raise ConfigError(
        "--extractor auto has no default for grey images without class labels (the "
        "domain classifier trains on labels); choose one: --extractor inception-v3, or a "
        "plugin's (`genmod plugins` lists them)."
    )


def prepare_extractor(
    name: str,
    options: Mapping[str, Any],
    registry: Registry,
    data: ExtractorData,
    *,
    from_strings: bool,
) -> PreparedExtractor:
    """Build the extractor ``name`` (``auto`` resolved by :func:`choose_extractor`) with its
    options and prepare it for ``data`` (load, or train and store, its weights). Missing
    weights and unknown names fail here, in one line, before any metric runs."""
    chosen, reason = choose_extractor(name, data.data_shape, data.num_classes)
    spec = registry.get(EXTRACTOR_KIND, chosen)
    resolved = resolve_options(
        spec.options, options, f"extractor {chosen!r}", from_strings=from_strings
    )
    extractor = construct(spec, resolved, FeatureExtractor, "extractor")
    extractor.prepare(data)
    dims = int(extractor.feature_dims)
    if dims < 1:
        raise PluginError(
            f"plugin {spec.plugin!r}: the extractor {chosen!r} reports {dims} feature dims."
        )
    record = {
        "name": chosen,
        "chosen_by": reason,
        "plugin": spec.plugin,
        "version": str(getattr(extractor, "version", "1")),
        "options": {k: list(v) if isinstance(v, tuple) else v for k, v in resolved.items()},
        "feature_dims": dims,
    }
    described = plain(dict(extractor.describe()), f"the extractor {chosen!r} describe()")
    record = {**described, **record}  # genmod's keys win
    return PreparedExtractor(chosen, extractor, record)
