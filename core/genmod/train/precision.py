"""Numeric precision of the networks: float32 or Keras mixed precision. Imports TensorFlow.

Under ``mixed_float16`` / ``mixed_bfloat16`` the layers compute in 16 bits while their variables
stay float32. Distributions and log-probabilities are always float32: the component base
classes (:mod:`genmod.contract.components`) cast network outputs to float32 before building them.
float16 has a narrow exponent range, so its gradients need loss scaling
(:class:`keras.optimizers.LossScaleOptimizer`); bfloat16 has float32's range and does not.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras

from genmod.config import PRECISIONS
from genmod.contract.errors import ConfigError


def check_precision(name: str) -> str:
    """``name`` if it is a Keras policy genmod accepts, else a :class:`ConfigError`."""
    if name not in PRECISIONS or name == "auto":
        accepted = ", ".join(p for p in PRECISIONS if p != "auto")
        raise ConfigError(f"--precision got {name!r}; accepted policies: {accepted}.")
    return name


_CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def _cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> set[str]:
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def hardware_bfloat16(cpuinfo: str = "/proc/cpuinfo") -> str | None:
    """Why this machine computes bfloat16 natively (``"GPU ... compute capability 8.0"``,
    ``"CPU with avx512_bf16"``), or ``None`` when it does not.

    GPUs count from compute capability 8.0 (Ampere) on; CPUs when ``/proc/cpuinfo`` lists
    AVX512_BF16 or AMX-BF16 (other systems: never). With several GPUs, all must qualify.
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capabilities = [
            tf.config.experimental.get_device_details(gpu).get("compute_capability") or (0, 0)
            for gpu in gpus
        ]
        if min(capabilities) >= (8, 0):
            major, minor = min(capabilities)
            return f"GPU with compute capability {major}.{minor}"
        return None
    flags = _cpu_flags(cpuinfo) & set(_CPU_BF16_FLAGS)
    return f"CPU with {', '.join(sorted(flags))}" if flags else None


def choose_precision(requested: str, log=None) -> str:
    """The Keras policy for ``requested``: itself, or for ``auto`` ``mixed_bfloat16`` where
    :func:`hardware_bfloat16` finds native bfloat16 units and ``float32`` elsewhere (the
    measurements behind this are in docs/performance.md). ``log`` hears the choice."""
    if requested != "auto":
        return check_precision(requested)
    reason = hardware_bfloat16()
    chosen = "mixed_bfloat16" if reason else "float32"
    if log is not None:
        log(
            f"--precision auto: {chosen} ("
            + (f"{reason}" if reason else "no native bfloat16 units found")
            + "; --precision float32 turns it off)"
        )
    return chosen


@contextlib.contextmanager
def precision_policy(name: str) -> Iterator[None]:
    """Set Keras's global dtype policy to ``name`` while building and training, then restore it.

    Layers take their policy when they are constructed, so build the model inside this block.
    """
    check_precision(name)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def make_optimizer(
    learning_rate, precision: str, *, clip_grad_norm: float = 0.0
) -> keras.optimizers.Optimizer:
    """Adam, wrapped in a dynamic :class:`LossScaleOptimizer` for ``mixed_float16``.

    ``learning_rate``: a number or a Keras ``LearningRateSchedule`` of the optimizer step.
    ``clip_grad_norm`` > 0 clips the gradients to that global norm (of the unscaled gradients
    under loss scaling) before Adam sees them.
    """
    clip = {"global_clipnorm": float(clip_grad_norm)} if clip_grad_norm else {}
    optimizer = keras.optimizers.Adam(learning_rate, **clip)
    if check_precision(precision) == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
