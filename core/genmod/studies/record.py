"""The study folder's record of its plan, ``study.json``, and the rule: one folder, one plan.

``study.json`` is written into the study folder before any run starts. It holds the study's
name, the study file (path, sha256 and text), the axes, and every run's name, point and fully
resolved configuration (:meth:`RunConfig.to_dict`), plus the plan's fingerprint
(:attr:`Plan.fingerprint`). :func:`reconcile` compares a new plan with it: a plan that differs
is refused, naming what differs, unless new runs are only *added* (``genmod sweep --add``).
The study folder also holds ``.plan/NAME.toml``, each run's configuration as a config file for
``genmod run --config`` (:func:`write_run_configs`). No TensorFlow here.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from genmod import __version__
from genmod.config import toml as tomlio
from genmod.config.files import CONFIG_FILE, META_KEYS
from genmod.contract.errors import ConfigError, RunDirError
from genmod.runs.lock import is_lock_file
from genmod.studies.plan import Plan, canonical_json

__all__ = [
    "PLAN_DIR",
    "RECORD_FORMAT",
    "STUDY_FILE",
    "Reconciliation",
    "check_study_dir",
    "plan_record",
    "read_record",
    "reconcile",
    "run_config_path",
    "run_folder_problem",
    "refuse_foreign_run_folders",
    "write_record",
    "write_run_configs",
]

#: the plan's record in every study folder
STUDY_FILE = "study.json"
#: the largest study.json (or sweep-state.json) genmod reads: 10,000 runs take a few MiB
MAX_RECORD_BYTES = 64 << 20
#: the folder of the per-run config files in a study folder
PLAN_DIR = ".plan"
#: the format of ``study.json`` this genmod writes
RECORD_FORMAT = 1
#: a run name as :mod:`genmod.studies.plan` makes them: a plain folder name (the record is
#: read from the folder, so a name like ``../x`` is refused rather than followed)
_RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


def plan_record(plan: Plan) -> dict[str, Any]:
    """``study.json``'s content for ``plan`` (plain JSON types)."""
    random = None
    if plan.random is not None:
        random = {
            "count": plan.random.count,
            "seed": plan.random.seed,
            "space": {d.setting: {d.form: list(d.args)} for d in plan.random.space},
        }
    return {
        "format": RECORD_FORMAT,
        "genmod_version": __version__,
        "name": plan.name,
        "description": plan.description,
        "study_file": {"path": str(plan.source), "sha256": plan.sha256, "text": plan.text},
        "base": json.loads(canonical_json(plan.base)),
        "recipe": plan.recipe,
        "data_dir": plan.data_dir,
        "axes": {
            "grid": {axis.setting: list(axis.values) for axis in plan.grid},
            "random": random,
            "seeds": list(plan.seeds) if plan.seeds is not None else None,
        },
        "fingerprint": plan.fingerprint,
        "runs": [
            {
                "name": run.name,
                "origin": run.origin,
                "point": run.point,
                "config": run.config.to_dict(),
            }
            for run in plan.runs
        ],
    }


def read_record(study_dir: Path) -> dict[str, Any] | None:
    """The ``study.json`` of ``study_dir``, or None when there is none; one that cannot be read
    or is not a study record is a :class:`RunDirError` naming it."""
    path = Path(study_dir) / STUDY_FILE
    if not path.exists() and not path.is_symlink():
        return None
    if not tomlio.is_regular_file(path):
        raise RunDirError(
            f"{str(path)!r} is not a regular file (a FIFO, device, folder or broken link), so "
            "not a study record; genmod sweep writes it as a JSON file."
        )
    if path.stat().st_size > MAX_RECORD_BYTES:
        raise RunDirError(
            f"{str(path)!r} is larger than {MAX_RECORD_BYTES >> 20} MiB, so not a study record "
            "genmod sweep wrote (10,000 runs take a few MiB)."
        )
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunDirError(f"{str(path)!r} cannot be read as a study record: {exc}.") from None
    runs = record.get("runs") if isinstance(record, dict) else None
    if (
        not isinstance(runs, list)
        or not all(
            isinstance(r, dict)
            and isinstance(r.get("name"), str)
            and _RUN_NAME.fullmatch(r["name"])
            and isinstance(r.get("config"), dict)
            for r in runs
        )
        or not isinstance(record.get("name"), str)
        or len({r["name"] for r in runs}) != len(runs)
    ):
        raise RunDirError(
            f"{str(path)!r} is not a study record written by genmod sweep (no name, or runs "
            "without a unique name that is a plain folder name and a config)."
        )
    if record.get("format") != RECORD_FORMAT:
        raise RunDirError(
            f"{str(path)!r} has study-record format {record.get('format')!r}; this genmod reads "
            f"format {RECORD_FORMAT}."
        )
    return record


def write_record(study_dir: Path, plan: Plan) -> None:
    """Write ``study_dir/study.json`` for ``plan`` (atomically)."""
    tomlio.write_atomic(
        Path(study_dir) / STUDY_FILE, json.dumps(plan_record(plan), indent=2, default=str) + "\n"
    )


def run_config_path(study_dir: Path, name: str) -> Path:
    """Where the config file of run ``name`` lives: ``STUDY/.plan/NAME.toml``."""
    return Path(study_dir) / PLAN_DIR / f"{name}.toml"


def write_run_configs(study_dir: Path, plan: Plan) -> None:
    """Write each run's resolved configuration as a config file, ``STUDY/.plan/NAME.toml``
    (``genmod run --config`` reads it back to the same configuration); unchanged files are
    left alone."""
    folder = Path(study_dir) / PLAN_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for run in plan.runs:
        path = run_config_path(study_dir, run.name)
        text = f"# run {run.name} of study {plan.name}, written by genmod sweep\n" + tomlio.dumps(
            run.config.to_dict()
        )
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            tomlio.write_atomic(path, text)


def check_study_dir(study_dir: Path) -> None:
    """Refuse ``study_dir`` when it exists and is not a study folder: a file, a run folder, or
    a non-empty folder without ``study.json`` (genmod never writes a study into other files)."""
    study_dir = Path(study_dir)
    if not study_dir.exists():
        return
    if not study_dir.is_dir():
        raise RunDirError(f"the study folder {str(study_dir)!r} exists and is not a folder.")
    if (study_dir / CONFIG_FILE).exists():
        raise RunDirError(
            f"{str(study_dir)!r} is a run folder ({CONFIG_FILE}), not a study folder; choose "
            "another --out."
        )
    others = [p for p in study_dir.iterdir() if not is_lock_file(p.name)]
    if others and not (study_dir / STUDY_FILE).exists():
        raise RunDirError(
            f"the folder {str(study_dir)!r} is not empty and holds no {STUDY_FILE}, so it is "
            "not a study folder; choose another --out."
        )


@dataclasses.dataclass(frozen=True)
class Reconciliation:
    """How a new plan relates to the folder's record: run names ``added`` (in the plan only),
    ``removed`` (in the record only) and ``changed`` (name -> the settings that differ)."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: dict[str, tuple[str, ...]]

    @property
    def same(self) -> bool:
        """Whether the plan trains exactly the recorded runs."""
        return not (self.added or self.removed or self.changed)

    def describe(self) -> str:
        """What differs, in words: ``2 run(s) added (a, b); 1 changed (c: latent_dim)``."""

        def some(names: tuple[str, ...] | list[str]) -> str:
            shown = ", ".join(names[:3])
            return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")

        parts = []
        if self.added:
            parts.append(f"{len(self.added)} run(s) added ({some(self.added)})")
        if self.removed:
            parts.append(f"{len(self.removed)} removed ({some(self.removed)})")
        if self.changed:
            shown = [f"{name}: {', '.join(keys[:4])}" for name, keys in self.changed.items()]
            parts.append(f"{len(self.changed)} changed ({some(shown)})")
        return "; ".join(parts)


def _differences(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, ...]:
    """The settings (``latent_dim``, ``encoder_options.hidden``) where two configs differ."""
    found = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found += [f"{key}.{k}" for k in _differences(a, b)]
        elif canonical_json(a) != canonical_json(b):
            found.append(key)
    return tuple(found)


def _axis_order(record: dict[str, Any]) -> str:
    """`` ([grid] latent_dim, learning_rate; [random.space] ...)``: the recorded axes in their
    order, as the refusal of a reordered study file names them ("" when unknown)."""
    axes = record.get("axes") if isinstance(record.get("axes"), dict) else {}
    parts = []
    grid = axes.get("grid")
    if isinstance(grid, dict) and grid:
        parts.append("[grid] " + ", ".join(map(str, grid)))
    random = axes.get("random")
    space = random.get("space") if isinstance(random, dict) else None
    if isinstance(space, dict) and space:
        parts.append("[random.space] " + ", ".join(map(str, space)))
    return f" ({'; '.join(parts)})" if parts else ""


def reconcile(record: dict[str, Any], plan: Plan, *, add: bool, study_dir: Path) -> Reconciliation:
    """Compare ``plan`` with the folder's ``record``. Returns the :class:`Reconciliation` when
    the plan may go on in this folder: it is the same, or ``add`` is given and every recorded
    run is in the plan with an identical configuration. Otherwise raises :class:`ConfigError`
    (one line) naming what differs and the way out."""
    old = {run["name"]: run["config"] for run in record["runs"]}
    new = {run.name: json.loads(canonical_json(run.config.to_dict())) for run in plan.runs}
    result = Reconciliation(
        added=tuple(name for name in new if name not in old),
        removed=tuple(name for name in old if name not in new),
        changed={
            name: _differences(old[name], new[name])
            for name in new
            if name in old and canonical_json(old[name]) != canonical_json(new[name])
        },
    )
    if result.same:
        return result
    where = f"the study folder {str(study_dir)!r} holds another plan ({STUDY_FILE})"
    removed = {canonical_json(old[name]) for name in result.removed}
    added = {canonical_json(new[name]) for name in result.added}
    if removed and removed <= added and not result.changed:
        raise ConfigError(
            f"{where}: its runs are in the new plan under other names; the axes are written "
            f"in another order than the study's{_axis_order(record)}, and the order names the "
            "runs. Put them back in that order, or sweep into another --out."
        )
    if result.removed or result.changed:
        raise ConfigError(
            f"{where}: {result.describe()}. A study folder never mixes two plans: restore the "
            "study file, or sweep it into another --out"
            + (" (--add only adds runs; every existing run must stay as it is)." if add else ".")
        )
    if not add:
        raise ConfigError(
            f"{where}: {result.describe()}. Pass --add to add the new runs to this study, or "
            "sweep into another --out."
        )
    return result


def _settings(config: dict[str, Any]) -> dict[str, Any]:
    """A run's settings as compared with its plan: metadata and ``data_dir`` (where the data
    lies on this machine, which ``--data-dir`` may change between sweeps) left out."""
    return json.loads(
        canonical_json({k: v for k, v in config.items() if k not in META_KEYS and k != "data_dir"})
    )


def run_folder_problem(study_dir: Path, name: str, planned: dict[str, Any]) -> str | None:
    """Why the folder of run ``name`` cannot be this study's run with configuration
    ``planned`` (a :meth:`RunConfig.to_dict`), or None when it can (missing, empty, or
    started with exactly the planned settings): a symbolic link (the runs live inside the
    study folder), not a folder, an unreadable ``config.toml``, or one whose settings differ
    from the plan's (a run of another study, or started by hand, would mix into its group)."""
    run_dir = Path(study_dir) / name
    if run_dir.is_symlink():
        return "is a symbolic link (a study's runs live inside its folder)"
    if run_dir.exists() and not run_dir.is_dir():
        return "is not a folder"
    config = run_dir / CONFIG_FILE
    if not config.exists() and not config.is_symlink():
        return None
    try:
        found = tomlio.load(config)
    except ConfigError:
        return f"holds a {CONFIG_FILE} that cannot be read"
    differs = _differences(_settings(planned), _settings(found))
    if differs:
        more = f" and {len(differs) - 4} more" if len(differs) > 4 else ""
        shown = ", ".join(differs[:4]) + more
        return f"was started with other settings than the plan ({shown})"
    return None


def refuse_foreign_run_folders(study_dir: Path, plan: Plan) -> None:
    """Raise :class:`RunDirError` (one line, naming each run and why) when a planned run's
    folder is not that run (:func:`run_folder_problem`): resuming it, or counting it done,
    would mix another configuration into the study's results."""
    problems = [
        (run.name, problem)
        for run in plan.runs
        if (problem := run_folder_problem(study_dir, run.name, run.config.to_dict()))
    ]
    if problems:
        shown = "; ".join(f"{name!r} {problem}" for name, problem in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise RunDirError(
            f"the study folder {str(study_dir)!r} holds run folders that are not its plan's runs: "
            f"{shown}{more}. Move them out of the study folder and sweep again; genmod never "
            "resumes or counts a run that is not the one planned."
        )
