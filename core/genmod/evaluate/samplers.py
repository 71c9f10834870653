"""Building, fitting and storing a run's latent sampler (``--sampler NAME``).

A sampler that needs fitting (:attr:`genmod.contract.samplers.LatentSampler.needs_fit`) is fitted
on the codes of the run's training images and saved in the run folder as
``samplers/NAME.npz`` (its :meth:`~genmod.contract.samplers.LatentSampler.state`, plain arrays
read back with ``allow_pickle=False``) and ``samplers/NAME.json`` (options, seed, version, the
sha256 of the npz and of the model's weights it was fitted to, and its method). The next
command reuses it while all of those match, and fits again otherwise (the run was trained
further, other options): it is derived data, never a source of truth. Imports TensorFlow
(through the run's model).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genmod.config import toml as tomlio
from genmod.contract.errors import ConfigError, PluginError
from genmod.contract.options import resolve_options
from genmod.contract.samplers import LatentSampler
from genmod.data.download import sha256_file
from genmod.evaluate.suite import construct, plain
from genmod.plugins import SAMPLER_KIND, Registry
from genmod.runs.trust import require_inside

SAMPLERS_DIR = "samplers"
#: the sampler used when none is chosen: decode z ~ p(z), as a VAE is meant to generate
DEFAULT_SAMPLER = "prior"
#: the seed offset of a sampler's fit (the evaluation's seed + this)
FIT_SEED_OFFSET = 7
#: how the codes a sampler is fitted to are made (part of a saved fit's identity): bump when
#: that changes, so fits of the old codes are not reused (2: binarized and encoded in batches
#: of the run's eval_batch_size)
FIT_CODES_VERSION = 2


@dataclass
class PreparedSampler:
    """A sampler ready to draw, with the method record that goes with its draws."""

    name: str
    sampler: LatentSampler
    record: dict[str, Any] = field(default_factory=dict)

    def sample(self, n: int, *, seed: int) -> np.ndarray:
        return self.sampler.sample(n, seed=seed)


def build_sampler(
    name: str, options: Mapping[str, Any], registry: Registry, *, from_strings: bool
) -> tuple[LatentSampler, dict[str, Any], str]:
    """The sampler ``name`` built from its factory with ``options`` resolved against its
    declared options; returns it, the resolved options and its plugin's name."""
    spec = registry.get(SAMPLER_KIND, name)
    resolved = resolve_options(
        spec.options, options, f"sampler {name!r}", from_strings=from_strings
    )
    sampler = construct(spec, resolved, LatentSampler, "sampler")
    return sampler, resolved, spec.plugin


def _described(sampler: LatentSampler, record: dict[str, Any]) -> dict[str, Any]:
    """``sampler.describe()`` under genmod's own record (which it cannot overwrite)."""
    return {
        **plain(dict(sampler.describe()), f"the sampler {record['name']!r} describe()"),
        **record,
    }


def prepare_sampler(
    run: Any,
    name: str,
    options: Mapping[str, Any],
    *,
    registry: Registry,
    seed: int,
    codes: Callable[[], np.ndarray],
    save: bool,
    from_strings: bool = True,
) -> PreparedSampler:
    """Build the sampler ``name`` for the loaded run ``run``
    (:class:`genmod.runs.loading.LoadedRun`), bound to its model, and fit it (on ``codes()``,
    the codes of the training images, computed only if needed) or reload its saved fit.

    ``save``: write a new fit into ``RUN/samplers/`` (the caller holds the run's writer lock);
    otherwise a fit stays in memory. ``seed`` is the evaluation's seed; the fit uses ``seed +``
    :data:`FIT_SEED_OFFSET`.
    """
    sampler, resolved, plugin = build_sampler(name, options, registry, from_strings=from_strings)
    sampler.bind(run.model)
    record: dict[str, Any] = {
        "name": name,
        "plugin": plugin,
        "version": str(getattr(sampler, "version", "1")),
        "options": plain(resolved, f"the sampler {name!r} options"),
    }
    if not sampler.needs_fit:
        return PreparedSampler(name, sampler, _described(sampler, record))
    fit_seed = int(seed) + FIT_SEED_OFFSET
    identity = {
        "sampler": name,
        "version": record["version"],
        "options": record["options"],
        "seed": fit_seed,
        "model_weights_sha256": run.weights_sha256(),
        "codes_version": FIT_CODES_VERSION,
        "eval_batch_size": int(run.config.eval_batch_size),
    }
    folder = Path(run.run_dir) / SAMPLERS_DIR
    saved = _read_saved(run.run_dir, folder, name, identity)
    if saved is not None:
        state, meta = saved
        try:
            sampler.load_state(state)
            if np.asarray(sampler.sample(1, seed=0)).shape != (1, int(run.model.latent_dim)):
                raise ConfigError("the saved state draws codes of the wrong size")
        except (ConfigError, ValueError, ArithmeticError, np.linalg.LinAlgError):
            saved = None  # a state that does not load is fitted again, like a damaged file
            sampler, resolved, plugin = build_sampler(
                name, options, registry, from_strings=from_strings
            )
            sampler.bind(run.model)
    if saved is not None:
        state, meta = saved
        record.update(meta.get("fitted_on", {}))
        record["file"] = f"{SAMPLERS_DIR}/{name}.npz"
        record["state_sha256"] = meta["state_sha256"]
        record["reused"] = True
    else:
        fit_codes = np.asarray(codes(), np.float32)
        sampler.fit(fit_codes, seed=fit_seed)
        fitted_on = {
            "fitted_on": "codes (posterior locations) of the run's training images, "
            "validation hold-out excluded, binarized as evaluation inputs",
            "fit_items": int(len(fit_codes)),
            "fit_seed": fit_seed,
        }
        record.update(fitted_on)
        record["reused"] = False
        if save:
            record["state_sha256"] = _save(
                run.run_dir, folder, name, identity, sampler.state(), fitted_on
            )
            record["file"] = f"{SAMPLERS_DIR}/{name}.npz"
    return PreparedSampler(name, sampler, _described(sampler, record))


def _read_saved(
    run_dir: Path, folder: Path, name: str, identity: dict[str, Any]
) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    """The saved state and its record when they exist, are intact and match ``identity``."""
    meta_path, state_path = folder / f"{name}.json", folder / f"{name}.npz"
    if not (meta_path.is_file() and state_path.is_file()):
        return None
    require_inside(run_dir, meta_path, "the sampler record")
    require_inside(run_dir, state_path, "the sampler state")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("identity") != identity:
        return None
    if sha256_file(state_path) != meta.get("state_sha256"):
        return None  # damaged or edited: fit again
    try:
        with np.load(state_path, allow_pickle=False) as archive:
            state = {key: archive[key] for key in archive.files}
    except (OSError, ValueError):
        return None
    return state, meta


def _save(
    run_dir: Path,
    folder: Path,
    name: str,
    identity: dict[str, Any],
    state: Mapping[str, Any],
    fitted_on: dict[str, Any],
) -> str:
    """Write the state (npz) and its record (json) atomically; returns the npz's sha256."""
    folder.mkdir(exist_ok=True)
    require_inside(run_dir, folder, "the samplers folder")
    arrays = {str(k): np.asarray(v) for k, v in state.items()}
    if "file" in arrays:  # numpy.savez's own parameter
        raise PluginError(f"the sampler {name!r} state may not hold an entry named 'file'.")
    for key, array in arrays.items():
        if array.dtype == object:
            raise PluginError(
                f"the sampler {name!r} state entry {key!r} is an object array; a state is "
                "plain numeric arrays (saved without pickle)."
            )
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    state_path = require_inside(run_dir, folder / f"{name}.npz", "the sampler state")
    tomlio.write_bytes_atomic(state_path, buffer.getvalue())
    digest = sha256_file(state_path)
    meta = {"identity": identity, "state_sha256": digest, "fitted_on": fitted_on}
    meta_path = require_inside(run_dir, folder / f"{name}.json", "the sampler record")
    tomlio.write_atomic(meta_path, json.dumps(meta, indent=2) + "\n")
    return digest


def check_sampler_codes(codes: np.ndarray, latent_dim: int, minimum: int, who: str) -> np.ndarray:
    """Codes for a fit: float ``[n >= minimum, latent_dim]`` and finite, else a
    :class:`ConfigError` naming ``who`` and what is needed."""
    codes = np.asarray(codes, np.float64)
    if codes.ndim != 2 or codes.shape[1] != latent_dim:
        raise ConfigError(f"{who}: expected codes [n, {latent_dim}]; got {list(codes.shape)}.")
    if len(codes) < minimum:
        raise ConfigError(
            f"{who} needs at least {minimum} training codes to fit; the run has {len(codes)}."
        )
    if not np.all(np.isfinite(codes)):
        raise ConfigError(f"{who}: the training codes hold NaN or infinite values.")
    return codes


def prepare_run_sampler(
    run: Any,
    name: str,
    options: Mapping[str, Any],
    *,
    registry: Registry,
    data_dir: str | Path | None,
    seed: int,
    save: bool,
    from_strings: bool = True,
) -> PreparedSampler:
    """:func:`prepare_sampler` for a loaded run outside an evaluation (``genmod sample``):
    the training codes it may need are computed from the run's dataset, read from
    ``data_dir`` (default: the folder the run was trained with) only if a fit is needed."""
    from genmod.evaluate.context import RunMetricContext, training_items
    from genmod.model.assembly import load_dataset

    def codes() -> np.ndarray:
        import dataclasses

        config = dataclasses.replace(run.config, test_size=None, train_size=None)
        _, full = load_dataset(config, registry, data_dir or run.meta.get("data_dir"))
        context = RunMetricContext(
            run_dir=run.run_dir,
            model=run.model,
            dataset=run.config.dataset,
            data=full,
            train=lambda: training_items(full, run.config.validation_size, run.config.train_size),
            binarize=run.binarize,
            seed=seed,
            batch_size=run.config.eval_batch_size,
            binarize_batch_size=run.config.eval_batch_size,
        )
        return context.train_codes()

    return prepare_sampler(
        run,
        name,
        options,
        registry=registry,
        seed=seed,
        codes=codes,
        save=save,
        from_strings=from_strings,
    )
