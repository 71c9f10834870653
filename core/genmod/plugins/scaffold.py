"""Write a ready-to-install plugin skeleton (``genmod new-plugin``). No TensorFlow here.

The skeleton is a distribution ``genmod-NAME`` with the package ``genmod_NAME``: a light hook
module registering one prior (``NAME-normal``, an isotropic normal with a ``scale`` option),
the prior's implementation, and a pytest file that runs genmod's conformance kit on it.

Names that would clash with genmod's built-in plugins are refused (:func:`reserved_names`):
their entry-point names, their packages and the names of their components, read from the
installed entry points.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from genmod import __version__
from genmod.contract.errors import ConfigError

PLUGIN_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*\Z")

FILES: dict[str, str] = {
    "pyproject.toml": """\
[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "A genmod plugin"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["genmod>=$genmod_version"]

[project.optional-dependencies]
test = ["pytest>=8"]

# genmod finds plugins through this entry-point group: plugin name = hook module.
[project.entry-points.genmod]
$name = "$package.plugin"

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
testpaths = ["tests"]
filterwarnings = ["ignore::DeprecationWarning"]
""",
    "README.md": """\
# $dist

A [genmod](https://pypi.org/project/genmod/) plugin. It provides the prior `$component`.

```bash
pip install -e '.[test]'
genmod plugins                       # lists "$name ($dist 0.1.0; $package.plugin)"
genmod run --prior $component --prior-opt scale=0.5 --epochs 1
python -m pytest                     # genmod's conformance kit checks the components
```
""",
    "src/$package/__init__.py": '''\
"""$dist: a genmod plugin."""

__version__ = "0.1.0"
''',
    "src/$package/plugin.py": '''\
"""The hooks genmod calls (named by the entry point in pyproject.toml).

Keep this module light: genmod imports it at every start-up. Register factories as
"module:attribute" strings; the modules they name may import TensorFlow.
"""

from genmod import hookimpl
from genmod.contract.options import Option


@hookimpl
def register_priors(register):
    register(
        "$component",
        "$package.priors:ScaledNormalPrior",
        description="isotropic normal N(0, scale^2 I)",
        options=[Option("scale", "float", 1.0, "standard deviation of every dimension", min=1e-3)],
    )
''',
    "src/$package/priors.py": '''\
"""The components themselves (imported only when a run uses them)."""

import tensorflow as tf
import tensorflow_probability as tfp

from genmod.contract.components import Prior


class ScaledNormalPrior(Prior):
    """p(z) = N(0, scale^2 I): batch shape [], event shape [latent_dim], float32."""

    def __init__(self, *, scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)

    def distribution(self):
        loc = tf.zeros([self.latent_dim], tf.float32)
        return tfp.distributions.MultivariateNormalDiag(loc, tf.fill([self.latent_dim], self.scale))
''',
    "tests/test_conformance.py": '''\
"""genmod's conformance kit checks that the plugin's components honour the interfaces."""

from genmod.testing import check_component


def test_prior_conforms_with_default_options():
    check_component("prior", "$component")


def test_prior_conforms_with_another_scale():
    check_component("prior", "$component", {"scale": 0.25})
''',
}


def normalise_name(name: str) -> str:
    """The plugin name without a ``genmod-`` prefix; a :class:`ConfigError` if unusable."""
    base = name.strip().lower().removeprefix("genmod-").removeprefix("genmod_")
    base = base.replace("_", "-")
    if not PLUGIN_NAME.match(base):
        raise ConfigError(
            f"{name!r} is not a usable plugin name: use lower-case letters, digits and single "
            "hyphens, starting with a letter (for example 'resnet' or 'my-priors')."
        )
    return base


def reserved_names() -> set[str]:
    """Plugin names ``genmod new-plugin`` refuses: those of genmod's built-in entry points
    (``mlp``, ``priors``, ``learned-priors``, ...), of their packages (``builtins``, for
    ``genmod_builtins``) and of their components (``bernoulli``, ``normal``, ...)."""
    from genmod.plugins.manager import builtin_component_names, builtin_entry_points

    names = set()
    for ep in builtin_entry_points():
        names.add(ep.name.replace("_", "-"))
        package = ep.value.partition(":")[0].split(".")[0]
        if package.startswith("genmod_"):
            names.add(package.removeprefix("genmod_").replace("_", "-"))
    return names | builtin_component_names()


def check_not_reserved(base: str) -> None:
    """A :class:`ConfigError` when the plugin ``base`` (normalised), its package or its
    component ``base-normal`` would clash with a built-in entry point or component."""
    reserved = reserved_names()
    clashes = {base, f"{base}-normal"} & reserved
    if clashes:
        raise ConfigError(
            f"{base!r} is reserved: {', '.join(repr(c) for c in sorted(clashes))} would clash "
            "with genmod's built-in plugins, whose names a third-party plugin cannot take "
            f"(reserved: {', '.join(sorted(reserved))}); choose another, such as 'my-{base}'."
        )


def write_skeleton(name: str, parent: Path) -> Path:
    """Write ``parent/genmod-NAME`` and return it; an existing non-empty folder is refused,
    and so is a name that would clash with a built-in plugin (:func:`check_not_reserved`)."""
    base = normalise_name(name)
    check_not_reserved(base)
    values = {
        "name": base,
        "dist": f"genmod-{base}",
        "package": "genmod_" + base.replace("-", "_"),
        "component": f"{base}-normal",
        "genmod_version": __version__,
    }
    root = Path(parent) / values["dist"]
    if root.exists() and any(root.iterdir()):
        raise ConfigError(
            f"{str(root)!r} exists and is not empty; choose another --dir or remove it first."
        )
    for relative, text in FILES.items():
        path = root / Template(relative).substitute(values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(text).substitute(values), encoding="utf-8")
    return root
