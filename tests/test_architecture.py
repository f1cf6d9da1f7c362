"""The direction of imports between the packages (docs/ARCHITECTURE.md), read from the source.

    analyzers ← mappings ← matching ← {indexer, search_api, relevance} ← mochinushi.cli

with ``mochinushi.settings``, ``mochinushi.clients`` and ``mochinushi.cluster_json`` as a shared
configuration layer that every package except ``analyzers`` may import, and
``mochinushi.localdev`` (the local development node) reachable only from ``mochinushi.cli``.

Every ``import`` and ``from … import`` counts, wherever it stands (inside a function or under
``TYPE_CHECKING`` too), and so does package data read with ``resources.files("<package>")``.
No module is imported: the test parses files, so it needs no cluster and no dependencies.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("analyzers", "mappings", "matching", "indexer", "search_api", "relevance", "mochinushi")

SHARED = frozenset({"mochinushi.settings", "mochinushi.clients", "mochinushi.cluster_json"})
CLI = frozenset({"mochinushi", "mochinushi.cli", "mochinushi.__main__"})

# Which layers each layer may import (its own included).
ALLOWED: dict[str, frozenset[str]] = {
    "analyzers": frozenset({"analyzers"}),
    "mappings": frozenset({"mappings", "analyzers", "shared"}),
    "matching": frozenset({"matching", "mappings", "analyzers", "shared"}),
    "indexer": frozenset({"indexer", "matching", "mappings", "analyzers", "shared"}),
    "search_api": frozenset({"search_api", "matching", "mappings", "analyzers", "shared"}),
    "relevance": frozenset({"relevance", "matching", "mappings", "analyzers", "shared"}),
    "shared": frozenset({"shared"}),
    "localdev": frozenset({"localdev", "shared"}),
    "cli": frozenset(
        {
            "cli",
            "localdev",
            "indexer",
            "search_api",
            "relevance",
            "matching",
            "mappings",
            "analyzers",
            "shared",
        }
    ),
}

# The one module-level exception to "indexer, search_api and relevance never import each other".
# relevance.evaluate and relevance.fit turn labelled checks into requests with the API's own
# request model, search_api.models.ExistenceCheckIn, so an evaluated check is validated and
# normalised exactly as an HTTP request is; a copy of that model would let the two drift and
# the relevance numbers describe a service that does not exist. Only the model module: nothing
# of the service, its routers or its web pages.
ALLOWED_MODULES: dict[str, frozenset[str]] = {"relevance": frozenset({"search_api.models"})}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def project_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def layer(module: str) -> str:
    if module in CLI:
        return "cli"
    if module in SHARED:
        return "shared"
    if module == "mochinushi.localdev" or module.startswith("mochinushi.localdev."):
        return "localdev"
    top = module.split(".")[0]
    if top in PACKAGES and top != "mochinushi":
        return top
    raise LookupError(f"{module} belongs to no layer: add it to the table in this test")


def _resolve(name: str) -> str | None:
    """The project module (or package) ``name`` refers to, or None for a third-party name."""
    modules = project_modules()
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _base_of_relative(module: str, path: Path, level: int) -> str:
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    return ".".join(package[: len(package) - (level - 1)])


def imported_names(module: str, path: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of everything ``module`` imports or reads as package data."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                prefix = _base_of_relative(module, path, node.level)
                base = f"{prefix}.{base}" if base else prefix
            for alias in node.names:
                # ``from mochinushi import cli`` imports the module mochinushi.cli.
                yield node.lineno, f"{base}.{alias.name}"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "files"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value  # resources.files("analyzers")


@cache
def project_imports() -> dict[str, frozenset[tuple[int, str]]]:
    """For every project module, the project modules it imports, with the line."""
    result: dict[str, frozenset[tuple[int, str]]] = {}
    for module, path in project_modules().items():
        found = set()
        for line, name in imported_names(module, path):
            target = _resolve(name)
            if target is not None and target != module:
                found.add((line, target))
        result[module] = frozenset(found)
    return result


def where(module: str, line: int) -> str:
    return f"{project_modules()[module].relative_to(ROOT)}:{line}"


def test_the_parser_sees_the_project() -> None:
    modules = project_modules()
    for expected in (
        "analyzers.keys",
        "mappings",
        "matching.finder",
        "indexer.build",
        "search_api.service",
        "relevance.synth.generator",
        "mochinushi.cli",
        "mochinushi.localdev.node",
    ):
        assert expected in modules
    # Known edges, so that a parser that finds nothing cannot pass the tests below.
    imports = {m: {target for _, target in found} for m, found in project_imports().items()}
    assert "matching.finder" in imports["indexer.lifecycle"]
    assert "mochinushi.localdev.node" in imports["mochinushi.cli"]
    assert "analyzers" in imports["mappings"]  # reads analyzers/opensearch/analysis.json


def test_every_module_has_a_layer() -> None:
    for module in project_modules():
        assert layer(module) in ALLOWED


def test_imports_point_one_way() -> None:
    violations = []
    for module, found in sorted(project_imports().items()):
        own = layer(module)
        for line, target in sorted(found):
            if layer(target) in ALLOWED[own] or target in ALLOWED_MODULES.get(own, ()):
                continue
            violations.append(f"{where(module, line)}: {module} ({own}) imports {target}")
    assert not violations, "imports against the layering:\n" + "\n".join(violations)


@pytest.mark.parametrize("package", ["indexer", "search_api", "relevance"])
def test_indexer_api_and_relevance_stay_apart(package: str) -> None:
    others = {"indexer", "search_api", "relevance", "cli", "localdev"} - {package}
    violations = [
        f"{where(module, line)}: {module} imports {target}"
        for module, found in sorted(project_imports().items())
        if layer(module) == package
        for line, target in sorted(found)
        if layer(target) in others and target not in ALLOWED_MODULES.get(package, ())
    ]
    assert not violations, "\n".join(violations)


def test_only_the_cli_module_starts_a_local_node() -> None:
    importers = {
        module
        for module, found in project_imports().items()
        if layer(module) != "localdev" and any(layer(t) == "localdev" for _, t in found)
    }
    assert importers <= {"mochinushi.cli"}, f"mochinushi.localdev imported by {sorted(importers)}"


def test_nothing_imports_the_cli() -> None:
    importers = {
        module
        for module, found in project_imports().items()
        if any(target == "mochinushi.cli" for _, target in found)
    }
    assert importers <= {"mochinushi.__main__"}, f"mochinushi.cli imported by {sorted(importers)}"
