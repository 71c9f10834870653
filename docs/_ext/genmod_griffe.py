"""A griffe extension for genmod's API reference (used by ``mkdocs build``; not installed).

It does three things while mkdocstrings loads :mod:`genmod`:

1. Rewrites the reST roles of genmod's docstrings (``:class:`Option```, ``:func:`~x.y```,
   ``:mod:``, ``:meth:``, ``:attr:``, ``:data:``, ``:exc:``) into Markdown. A target that is
   documented in the reference (a module named by a ``::: module`` line in ``docs/reference/``)
   becomes a cross-reference, so ``mkdocs build --strict`` fails when it no longer resolves; a
   genmod target outside the reference becomes plain code; a target that does not exist (a
   renamed or removed symbol) is a warning, which fails the strict build.
2. Marks the names listed in :data:`INTERNAL` as not public, so they are left out of the
   reference (the reference pages list them as internal).
3. Warns about every public name of a reference module without a docstring
   (:func:`missing_docstrings`), which fails the strict build too.

``python docs/_ext/genmod_griffe.py`` runs the docstring check alone (exit status 1 on misses).
"""

from __future__ import annotations

import builtins
import logging
import re
import sys
from pathlib import Path

import griffe

logger = logging.getLogger("mkdocs.plugins.genmod_griffe")

DOCS = Path(__file__).resolve().parents[1]
REFERENCE = DOCS / "reference"
CORE = DOCS.parent / "core"

#: Names in reference modules that are not for plugin authors, and why. They are left out of
#: the reference and need no docstring of their own (most have one anyway).
INTERNAL: dict[str, str] = {
    "genmod.MOVED_MODULES": "the table of genmod 0.1 module paths; used by the import hook",
    "genmod.contract.hookspecs.PROJECT_NAME": "pluggy's project name; genmod's plugin manager",
    "genmod.contract.hookspecs.ENTRY_POINT_GROUP": "read by genmod's plugin manager",
    "genmod.contract.options.format_value": "command-line formatting used by the core",
    "genmod.contract.options.parse_assignments": "command-line parsing used by the core",
    "genmod.contract.options.resolve_options": "used by RunConfig.resolve",
    "genmod.data.base.require_dir": "a helper of the built-in MNIST loader",
    "genmod.model.vae.VAE.build": "Keras plumbing; the sub-layers build themselves",
    "genmod.model.vae.VAE.call": "Keras plumbing; use posterior/observation/sample",
    "genmod.model.vae.VAE.build_variables": "called by genmod when it assembles a model",
    "genmod.api.meta_for_write": "used by genmod.api.resume and the CLI",
    "genmod.testing.components.SUPPORTS": "the kit's list of Likelihood.support values",
    "genmod.testing.components.REQUIRED_METRICS": "the kit's copy of ObjectiveOutput's keys",
    "genmod.testing.options.lookup": "a helper of the kit",
    "genmod.testing.errors.require": "a helper of the kit",
    "genmod.testing.evaluation.DATA_SHAPE": "the synthetic data's sizes (SyntheticContext)",
    "genmod.testing.evaluation.LATENT_DIM": "the synthetic data's sizes (SyntheticContext)",
    "genmod.testing.evaluation.TEST_SIZE": "the synthetic data's sizes (SyntheticContext)",
    "genmod.testing.evaluation.TRAIN_SIZE": "the synthetic data's sizes (SyntheticContext)",
    "genmod.testing.evaluation.NUM_CLASSES": "the synthetic data's sizes (SyntheticContext)",
    "genmod.testing.evaluation.FACTOR_NAMES": "the synthetic data's sizes (SyntheticContext)",
    "genmod.testing.evaluation.FACTOR_SIZES": "the synthetic data's sizes (SyntheticContext)",
    "genmod.testing.evaluation.FEATURE_DIMS": "the synthetic data's sizes (SyntheticContext)",
    "genmod.testing.evaluation.VALUE_NAME": "the kit's copy of the value-name rule",
    "genmod.testing.evaluation.RESERVED_NAMES": "the kit's copy of evaluation.json's own keys",
    "genmod.testing.evaluation.EXTRACTOR_RECORD_KEYS": "the kit's copy of genmod's record keys",
    "genmod.testing.evaluation.SAMPLER_RECORD_KEYS": "the kit's copy of genmod's record keys",
    "genmod.testing.evaluation.check_evaluation_component": "called by check_component",
    "genmod.model.elbo.tfd": "shorthand for tfp.distributions",
    "genmod.model.vae.tfd": "shorthand for tfp.distributions",
    "genmod.contract.components.tfd": "shorthand for tfp.distributions",
}

#: Public names whose docstring is still to be written, in files other work is changing now.
#: They are reported by the check (``python docs/_ext/genmod_griffe.py``) but do not fail the
#: build yet. Empty this list as they are written.
PENDING: dict[str, str] = {}

_ROLE = re.compile(r":(?:py:)?(class|func|meth|mod|attr|data|exc|obj):`([~!]?)([\w.]+)(?:\(\))?`")


def _comment_docstrings(package) -> None:
    """Attributes documented Sphinx-style, by a ``#:`` comment line just above them."""
    for obj in _members(package):
        if not obj.is_attribute or obj.docstring or not obj.lineno:
            continue
        lines = obj.module.lines
        comment = []
        index = obj.lineno - 2
        while index >= 0 and lines[index].strip().startswith("#:"):
            comment.insert(0, lines[index].strip()[2:].strip())
            index -= 1
        if comment:
            obj.docstring = griffe.Docstring(
                " ".join(comment), lineno=index + 2, parent=obj, parser=None
            )


def reference_modules() -> list[str]:
    """The modules the reference documents: every ``::: module`` line in docs/reference/."""
    found = []
    for page in sorted(REFERENCE.glob("*.md")):
        found += re.findall(r"^::: ([\w.]+)\s*$", page.read_text(), re.MULTILINE)
    return found


def _module_of(obj) -> str:
    return obj.path if obj.is_module else obj.module.path


def _is_rendered(obj, rendered: dict[str, str]) -> bool:
    """Whether the reference shows ``obj`` (itself, or as a member of what it shows)."""
    while True:
        if obj.path in rendered:
            return True
        if obj.is_module or obj.parent is None or obj.parent.is_module:
            return False
        obj = obj.parent


def _rendered_paths(collection, modules: list[str]) -> dict[str, str]:
    """Canonical path -> the path the reference shows it under (re-exports included)."""
    shown: dict[str, str] = {}
    for name in modules:
        module = _lookup(collection, name)
        if module is None:
            continue
        shown[module.path] = module.path
        for member in _members(module, aliases=True):
            if member.is_alias:
                exports = member.parent.exports or ()
                target = _lookup(collection, member.path)
                if target is not None and member.name in exports:
                    shown.setdefault(target.path, member.path)
            elif _module_of(member) in modules and member.path not in INTERNAL:
                shown[member.path] = member.path
    return shown


def _lookup(collection, path: str):
    try:
        obj = collection.get_member(path)
    except (KeyError, ValueError, AttributeError, griffe.AliasResolutionError):
        return None
    try:
        return obj.final_target if obj.is_alias else obj
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None


def _resolve(obj, target: str, collection):
    """The object ``target`` names as seen from ``obj`` (None when it names nothing)."""
    first, _, rest = target.partition(".")
    found = _lookup(collection, target)
    if found is not None:
        return found
    scope = obj
    while scope is not None:
        try:
            base = scope.resolve(first)
        except (griffe.NameResolutionError, AttributeError, ValueError):
            base = None
        if base:
            found = _lookup(collection, base + ("." + rest if rest else ""))
            if found is not None:
                return found
        scope = scope.parent
    # A package that re-exports lazily (module ``__getattr__``): look in its submodules.
    module = obj if obj.is_module else obj.module
    candidates = [(module, target), (module.parent, target)]
    head, _, last = target.rpartition(".")
    if head:
        candidates.append((_lookup(collection, head), last))
    for mod, name in candidates:
        if mod is None or not mod.is_module:
            continue
        for sub in mod.modules.values():
            found = _lookup(collection, f"{sub.path}.{name}")
            if found is not None:
                return found
    return None


def _rewrite(obj, text: str, collection, rendered: dict[str, str]) -> str:
    def replace(match: re.Match) -> str:
        _, tilde, target = match.groups()
        shown = target.rsplit(".", 1)[-1] if tilde == "~" else target
        found = _resolve(obj, target, collection)
        if found is None:
            if target.partition(".")[0] != "genmod" and (
                "." in target
                and target.partition(".")[0] not in collection.members
                or hasattr(builtins, target)
            ):
                return f"`{shown}`"  # another library's name (click.Group) or a builtin
            logger.warning(
                "%s: the docstring refers to %r, which does not exist (renamed or removed?)",
                obj.path,
                target,
            )
            return f"`{shown}`"
        if found.path in rendered:
            return f"[`{shown}`][{rendered[found.path]}]"
        return f"`{shown}`"

    text = _ROLE.sub(replace, text)
    # reST literal blocks ("... like this::") read as a colon followed by indented code.
    return re.sub(r"::\n", ":\n", text)


def _members(obj, *, aliases: bool = False):
    """Every member under ``obj``, recursively; with ``aliases``, the aliases (re-exports) too
    but not submodules (a reference module's own members only)."""
    for member in obj.members.values():
        if member.is_alias:
            if aliases:
                yield member
            continue
        if member.is_module and aliases:
            continue
        yield member
        if member.is_class or member.is_module:
            yield from _members(member, aliases=aliases)


def _public_names(module, modules: list[str]):
    """(path, object) for every public name of a reference module: ``__all__`` when it has
    one, else every name defined there not starting with ``_``; for classes, their methods and
    properties not starting with ``_``. Names in :data:`INTERNAL` are skipped."""
    if module.exports is not None:
        # (``*_COMPONENTS``-style entries are private tuples of names documented elsewhere)
        names = [n for n in module.exports if isinstance(n, str)]
    else:
        names = [
            name
            for name, member in module.members.items()
            if not name.startswith("_") and not member.is_alias and not member.is_module
        ]
    for name in names:
        path = f"{module.path}.{name}"
        if path in INTERNAL:
            continue
        target = _resolve(module, name, module.modules_collection)
        if target is None:
            yield path, None
            continue
        if target.is_module:
            continue
        yield path, target
        if target.is_class:
            for mname, member in target.members.items():
                mpath = f"{target.path}.{mname}"
                if mname.startswith("_") or member.is_alias or mpath in INTERNAL:
                    continue
                if member.is_function or member.is_attribute and "property" in member.labels:
                    yield mpath, member


def missing_docstrings(package, modules: list[str] | None = None) -> list[str]:
    """Every public name of the reference modules without a docstring (sorted paths).

    ``modules`` defaults to :func:`reference_modules`.
    """
    modules = reference_modules() if modules is None else modules
    collection = package.modules_collection
    missing = set()
    for name in modules:
        module = _lookup(collection, name)
        if module is None:
            missing.add(f"{name} (no such module)")
            continue
        if not module.docstring:
            missing.add(name)
        for path, obj in _public_names(module, modules):
            if obj is None:
                missing.add(f"{path} (cannot be resolved)")
            elif not (obj.docstring and obj.docstring.value.strip()):
                missing.add(obj.path if obj.path.startswith("genmod") else path)
    return sorted(missing)


class GenmodReference(griffe.Extension):
    """Roles to cross-references, internal names hidden, missing docstrings reported."""

    def on_package(self, *, pkg, loader, **kwargs) -> None:
        """Runs once griffe has loaded the whole :mod:`genmod` package."""
        if pkg.name != "genmod":
            return
        modules = reference_modules()
        collection = loader.modules_collection
        loader.resolve_aliases(implicit=False, external=False)
        _comment_docstrings(pkg)
        for path in INTERNAL:
            obj = _lookup(collection, path)
            if obj is None:
                logger.warning("INTERNAL names %r, which does not exist", path)
            else:
                obj.public = False
        rendered = _rendered_paths(collection, modules)
        for obj in [pkg, *_members(pkg)]:
            if obj.docstring and _is_rendered(obj, rendered):
                obj.docstring.value = _rewrite(obj, obj.docstring.value, collection, rendered)
        for path in missing_docstrings(pkg):
            if path in PENDING:
                logger.info("public name without a docstring (pending): %s", path)
            else:
                logger.warning("public name without a docstring: %s", path)


def main() -> int:
    """Print the public names without a docstring; exit status 1 when there are any."""
    loader = griffe.GriffeLoader(search_paths=[str(CORE)])
    package = loader.load("genmod")
    loader.resolve_aliases(implicit=False, external=False)
    _comment_docstrings(package)
    missing = missing_docstrings(package)
    for path in missing:
        pending = " (pending: " + PENDING[path] + ")" if path in PENDING else ""
        print(f"public name without a docstring: {path}{pending}")
    failing = [path for path in missing if path not in PENDING]
    print(f"{len(reference_modules())} reference modules checked, {len(missing)} missing")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
