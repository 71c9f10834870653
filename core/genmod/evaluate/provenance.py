"""Where a number came from: the software and hardware an evaluation ran with.

Recorded in ``evaluation.json`` next to every metric value (docs/metrics.md), so a number can
be reproduced, or its difference from another explained (a scikit-learn release changing a
disentanglement score, a different feature extractor build). :func:`environment` imports
TensorFlow (to list accelerators); the rest does not.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable
from importlib import metadata
from typing import Any

#: distributions recorded with every evaluation; a metric adds its own (``Metric.libraries``)
BASE_DISTRIBUTIONS = ("genmod", "tensorflow", "tensorflow-probability", "keras", "numpy")


def distribution_versions(names: Iterable[str]) -> dict[str, str | None]:
    """``{distribution: installed version}`` (``None`` when it is not installed)."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def environment() -> dict[str, Any]:
    """The software and devices of this process: Python, the platform, the processor, the
    versions of :data:`BASE_DISTRIBUTIONS` and the accelerators TensorFlow sees."""
    import tensorflow as tf

    gpus = [device.name for device in tf.config.list_physical_devices("GPU")]
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": _processor(),
        "versions": distribution_versions(BASE_DISTRIBUTIONS),
        "accelerators": gpus,
    }


def _processor() -> str:
    """The CPU model (``/proc/cpuinfo`` on Linux, else what ``platform`` knows)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
