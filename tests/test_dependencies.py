"""Every ``require(module, extra)`` in skyscan names an extra that pyproject.toml defines
and that brings that module (or, with no extra, a module skyscan always depends on)."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from skyscan.errors import MissingDependencyError, require

ROOT = Path(__file__).resolve().parents[1]


def _requirement_names(requirements: list[str]) -> set[str]:
    # a distribution's import name spells '-' as '_' (pystac-client -> pystac_client)
    return {
        re.split(r"[<>=!\[; ]", r, maxsplit=1)[0].lower().replace("-", "_") for r in requirements
    }


def _require_calls() -> list[tuple[str, str, str | None]]:
    calls = []
    for path in sorted((ROOT / "src" / "skyscan").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "require"
                and len(node.args) == 2
            ):
                module, extra = (ast.literal_eval(a) for a in node.args)
                calls.append((f"{path.relative_to(ROOT)}:{node.lineno}", module, extra))
    return calls


def test_every_required_module_comes_with_the_extra_it_names() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = {
        name: _requirement_names(reqs) for name, reqs in project["optional-dependencies"].items()
    }
    core = _requirement_names(project["dependencies"])
    calls = _require_calls()
    assert len(calls) >= 10  # the scan found the calls
    for where, module, extra in calls:
        brings = core if extra is None else extras.get(extra)
        assert brings is not None, f"{where}: extra {extra!r} is not defined in pyproject.toml"
        assert module.lower() in brings, (
            f"{where}: {module!r} does not come with {extra or 'the core dependencies'}"
        )


def test_a_missing_module_names_the_install_command() -> None:
    with pytest.raises(MissingDependencyError, match=r"pip install 'skyscan\[spark\]'"):
        require("skyscan_no_such_module", "spark")
    with pytest.raises(
        MissingDependencyError,
        match=r"pip install skyscan_no_such_module \(a dependency of skyscan\)",
    ):
        require("skyscan_no_such_module", None)
