"""The reference docs are checked against the code: hooks against genmod.contract.hookspecs, the CLI
reference against the click commands, names in the guides against what exists."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from genmod.cli.docs import render
from genmod.contract import hookspecs

DOCS = Path(__file__).resolve().parents[1] / "docs"


def hookspec_functions() -> dict[str, object]:
    return {
        name: func
        for name, func in vars(hookspecs).items()
        if callable(func) and hasattr(func, f"{hookspecs.PROJECT_NAME}_spec")
    }


def factory_call(docstring: str) -> str | None:
    match = re.search(r"``(factory\(.*?\))``", docstring, re.DOTALL)
    return " ".join(match.group(1).split()) if match else None


def test_there_are_hookspecs_to_check():
    assert {"register_encoders", "register_commands"} <= set(hookspec_functions())


def test_every_hookspec_is_documented_with_its_exact_signature():
    text = (DOCS / "hooks.md").read_text()
    documented = dict(re.findall(r"^### `(\w+)\(([^)]*)\)`$", text, re.MULTILINE))
    specs = hookspec_functions()
    missing = sorted(set(specs) - set(documented))
    assert not missing, f"hooks missing from docs/hooks.md: {missing}"
    unknown = sorted(set(documented) - set(specs))
    assert not unknown, f"docs/hooks.md documents hooks that do not exist: {unknown}"
    for name, func in specs.items():
        params = ", ".join(inspect.signature(func).parameters)
        assert documented[name] == params, (
            f"{name}: documented ({documented[name]}), code ({params})"
        )


@pytest.mark.parametrize("name", sorted(hookspec_functions()))
def test_each_hook_section_states_the_factory_call_of_the_spec(name):
    text = (DOCS / "hooks.md").read_text()
    section = text.split(f"### `{name}(")[1].split("\n### ")[0]
    call = factory_call(inspect.getdoc(hookspec_functions()[name]) or "")
    if call is not None:
        assert f"`{call}`" in " ".join(section.split()), f"{name}: {call} not in docs/hooks.md"


@pytest.mark.parametrize("page", ["hooks.md", "plugin-guide.md", "architecture.md"])
def test_docs_name_only_hooks_that_exist(page):
    text = (DOCS / page).read_text()
    named = set(re.findall(r"\bregister_[a-z_]+\b", text))
    assert named <= set(hookspec_functions()), sorted(named - set(hookspec_functions()))


def test_the_plugin_guide_covers_every_hook_and_kit_function():
    import genmod.testing

    text = (DOCS / "plugin-guide.md").read_text()
    for name in hookspec_functions():
        assert f"`{name}" in text, f"the plugin guide does not mention {name}"
    checks = set(re.findall(r"\bcheck_[a-z_]+\b", text))
    assert checks and checks <= set(genmod.testing.__all__), checks - set(genmod.testing.__all__)


@pytest.mark.parametrize("page", ["hooks.md", "plugin-guide.md"])
def test_python_examples_in_the_docs_parse(page):
    text = (DOCS / page).read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    assert blocks
    for block in blocks:
        ast.parse(block)


def test_cli_reference_is_up_to_date():
    committed = (DOCS / "cli.md").read_text()
    assert committed == render(), (
        "docs/cli.md is out of date; regenerate it with: python -m genmod.cli.docs --write "
        "docs/cli.md"
    )


def test_cli_reference_lists_every_command_and_option():
    from genmod.cli.docs import documented_group

    text = (DOCS / "cli.md").read_text()
    group = documented_group()
    for name, command in group.commands.items():
        assert f"## `genmod {name}`" in text
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("-"):
                    assert opt in text, f"genmod {name} {opt} missing from docs/cli.md"


def test_docs_cli_check_mode_flags_a_stale_file(tmp_path):
    from genmod.cli.docs import main

    stale = tmp_path / "cli.md"
    stale.write_text("# CLI reference\n(old)\n")
    assert main(["--check", str(stale)]) == 1
    assert main(["--write", str(stale)]) == 0
    assert main(["--check", str(stale)]) == 0


def test_every_page_tells_one_story_of_calling_a_posterior_family():
    """A posterior family is called as ``family(params)``, implemented by defining ``call``
    (it is a Keras layer): no page may name ``__call__(params)`` as the thing to call."""
    told = []
    for page in sorted(DOCS.rglob("*.md")):
        text = " ".join(page.read_text().split())
        assert "`__call__(params" not in text, f"{page.name} says __call__(params)"
        if "PosteriorFamily" in text and "num_params()" in text:  # pages describing the call
            told.append(page.name)
            assert "`family(params" in text, f"{page.name} does not say family(params)"
    assert {"hooks.md", "plugin-guide.md", "architecture.md"} <= set(told)
