"""Latent samplers: where the codes of generated images come from.

A VAE generates by decoding z ~ p(z), but the aggregate posterior q(z) = E_x q(z|x) often
differs from the prior, and decoding codes from a density fitted to it after training can give
better samples (ex-post density estimation, Ghosh et al. 2020, "From variational to
deterministic autoencoders"). A plugin registers samplers with the ``register_samplers`` hook;
``genmod sample RUN --sampler NAME`` and ``genmod evaluate --sampler NAME`` use one (built in:
``prior``, ``gmm``; docs/metrics.md).

genmod fits a sampler on the codes (posterior locations) of the run's training images,
saves :meth:`LatentSampler.state` in ``RUN/samplers/NAME.npz`` (plain arrays, no pickle)
with its options and method in ``RUN/samplers/NAME.json``, and reloads it while the run's
weights and the options stay the same.

No TensorFlow here; implementations may use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class LatentSampler:
    """Draws codes z ``[n, latent_dim]``. Subclass it; the factory registered with
    ``register_samplers`` is called with the sampler's options as keyword arguments."""

    #: bump when the draws change for the same state and seed
    version: str = "1"
    #: whether :meth:`fit` needs the training codes (``False``: genmod skips encoding them,
    #: and saves nothing)
    needs_fit: bool = True

    def bind(self, model: Any) -> None:
        """Called with the trained model before :meth:`fit` or :meth:`load_state` (the
        ``prior`` sampler draws from its prior). The default ignores it."""

    def fit(self, codes: Any, *, seed: int) -> None:
        """Fit to codes ``[n, latent_dim]`` (float32 numpy), deterministically given ``seed``.
        Too few codes for the fit raise :class:`genmod.contract.errors.ConfigError`."""

    def sample(self, n: int, *, seed: int) -> Any:
        """``n`` codes ``[n, latent_dim]`` (float32 numpy), the same for the same ``seed``."""
        raise NotImplementedError

    def state(self) -> Mapping[str, Any]:
        """The fitted state as named numpy arrays (saved with ``numpy.savez``, no pickle)."""
        return {}

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state` returned (the arrays read back from the run folder)."""

    def describe(self) -> dict[str, Any]:
        """The method record: the density family, its settings, what it was fitted on and
        how well (e.g. the mean log-likelihood of the fitted codes, in nats)."""
        return {}
