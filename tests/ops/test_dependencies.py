"""pyproject.toml, the hash locks and the Makefile's install step agree: every dependency is
bounded below its next major, the lock pins each with hashes, the reading dictionary is the one
installed, and a wheel carries the files the API serves."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import version
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
KEY_PACKAGES = ("sudachipy", "sudachidict-core", "jaconv")
"""What the match keys depend on: the same versions everywhere build the same keys."""


def _requirements(group: str | None) -> list[Requirement]:
    project = PYPROJECT["project"]
    texts = project["dependencies"] if group is None else project["optional-dependencies"][group]
    return [Requirement(text) for text in texts]


def _lock(path: Path) -> dict[str, tuple[str, frozenset[str], str]]:
    """name → (version, hashes, marker) of a uv/pip-compile hash lock."""
    entries: dict[str, tuple[str, frozenset[str], str]] = {}
    text = path.read_text()
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = re.match(r"([A-Za-z0-9._-]+)==(\S+)(?: ; ([^\\\n]+))?", block)
        if not match:
            continue
        hashes = frozenset(re.findall(r"--hash=(sha256:[0-9a-f]{64})", block))
        entries[canonicalize_name(match[1])] = (match[2], hashes, (match[3] or "").strip())
    return entries


def test_every_dependency_has_an_upper_bound() -> None:
    build = [Requirement(text) for text in PYPROJECT["build-system"]["requires"]]
    groups = [None, *PYPROJECT["project"]["optional-dependencies"]]
    for requirement in [*build, *(r for g in groups for r in _requirements(g))]:
        if requirement.name == "mochinushi":
            continue
        operators = {spec.operator for spec in requirement.specifier}
        assert operators & {"<", "=="}, f"{requirement} has no upper bound"


def test_extras_and_pins() -> None:
    core = {r.name: r for r in _requirements(None)}
    assert not {"faker", "matplotlib"} & set(core), "the service does not need them"
    assert {r.name for r in _requirements("relevance")} == {"faker", "matplotlib"}
    assert "mochinushi[relevance]" in [str(r) for r in _requirements("dev")]
    assert core["opensearch-py"].extras == {"async"} and "aiohttp" not in core
    (pin,) = core["sudachidict-core"].specifier
    assert pin.operator == "==" and pin.version == version("sudachidict-core")


def test_the_lock_pins_every_requirement_with_hashes() -> None:
    lock = _lock(REPO / "requirements.lock")
    assert len(lock) > 50
    for name, (_, hashes, _) in lock.items():
        assert hashes, f"{name} has no hash"
    environment = {**default_environment(), "python_version": "3.11", "sys_platform": "linux"}
    for group in (None, "relevance", "dev"):
        for requirement in _requirements(group):
            if requirement.name == "mochinushi":
                continue
            if requirement.marker and not requirement.marker.evaluate(environment):
                continue
            pinned, _, _ = lock[canonicalize_name(requirement.name)]
            assert requirement.specifier.contains(pinned), f"{requirement}: lock has {pinned}"


def test_the_image_lock_is_the_runtime_subset_of_the_same_versions() -> None:
    full, image = _lock(REPO / "requirements.lock"), _lock(REPO / "docker" / "requirements.lock")
    assert {"faker", "matplotlib", "pytest", "playwright"}.isdisjoint(image)
    for name, (pinned, hashes, _) in image.items():
        assert full[name][:2] == (pinned, hashes), name
    for requirement in _requirements(None):
        assert canonicalize_name(requirement.name) in image, requirement


def test_the_match_key_libraries_installed_are_the_locked_ones() -> None:
    lock = _lock(REPO / "requirements.lock")
    for name in KEY_PACKAGES:
        assert version(name) == lock[name][0], f"{name}: run `make install`"


def test_make_install_installs_from_the_lock_only() -> None:
    makefile = (REPO / "Makefile").read_text()
    recipe = makefile.split("$(STAMP): pyproject.toml requirements.lock\n", 1)[1].split("\n\n")[0]
    assert "pip install -q --require-hashes -r requirements.lock" in recipe
    assert "pip install -q --no-deps -e ." in recipe
    assert "[dev]" not in recipe, "no resolving outside the lock"


def test_a_wheel_ships_the_files_the_api_serves(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("mochinushi-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for asset in (
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "favicon-32x32.png",
        "redoc.standalone.js",
        "redoc-LICENSE.txt",
        "swagger-ui-LICENSE.txt",
    ):
        assert f"search_api/static_docs/{asset}" in names, asset
    assert "matching/matching.toml" in names
    assert any(n.startswith("search_api/web/") and n.endswith(".html") for n in names)
