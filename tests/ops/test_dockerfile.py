"""docker/api.Dockerfile, read (no Docker engine here): it installs the hash lock, copies every
package the project ships, runs as an unprivileged numeric user, and its HEALTHCHECK command
really tells a live API from a dead one."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from mochinushi.settings import Settings
from search_api.app import create_app
from tests.web.support import free_port, serve

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "docker" / "api.Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def _one(keyword: str) -> str:
    values = [rest for kw, rest in _instructions() if kw == keyword]
    assert values, f"no {keyword}"
    return values[-1]


def test_runs_as_an_unprivileged_numeric_user() -> None:
    user = _one("USER").split(":")
    assert user[0].isdigit() and int(user[0]) >= 1000, user
    keywords = [kw for kw, _ in _instructions()]
    assert keywords.index("USER") > max(i for i, kw in enumerate(keywords) if kw == "RUN"), (
        "nothing runs as root after USER is set"
    )
    created = next(rest for kw, rest in _instructions() if kw == "RUN" and "useradd" in rest)
    assert f"--uid {user[0]}" in created


def test_installs_the_hash_lock_then_the_project_without_resolving() -> None:
    steps = _instructions()
    copy = next(rest for kw, rest in steps if kw == "COPY" and "requirements.lock" in rest)
    source, target = copy.split()
    assert source == "docker/requirements.lock"
    runs = [rest for kw, rest in steps if kw == "RUN"]
    assert any(f"pip install --require-hashes -r {target}" in run for run in runs)
    assert any("pip install --no-deps ." in run for run in runs)


def test_copies_every_package_the_project_ships() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    copied = {rest.split()[0] for kw, rest in _instructions() if kw == "COPY"}
    assert packages <= copied, packages - copied


def _healthcheck_argv(port: int) -> list[str]:
    healthcheck = _one("HEALTHCHECK")
    argv = json.loads(healthcheck[healthcheck.index("CMD ") + 4 :])
    serve_argv = json.loads(_one("CMD"))
    image_port = serve_argv[serve_argv.index("--port") + 1]
    assert f"127.0.0.1:{image_port}/healthz" in argv[-1]
    assert _one("EXPOSE") == image_port
    return [
        sys.executable if argv[0] == "python" else argv[0],
        *argv[1:-1],
        argv[-1].replace(f":{image_port}/", f":{port}/"),
    ]


def test_the_healthcheck_command_tells_live_from_dead() -> None:
    app = create_app(Settings(alias="test-docker-health", opensearch_url="http://127.0.0.1:9"))
    with serve(app) as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        live = subprocess.run(_healthcheck_argv(port), capture_output=True, timeout=30)
    assert live.returncode == 0, live.stderr
    dead = subprocess.run(_healthcheck_argv(free_port()), capture_output=True, timeout=30)
    assert dead.returncode != 0


def test_compose_runs_the_image_hardened() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    api = compose["services"]["api"]
    assert api["build"]["dockerfile"] == "docker/api.Dockerfile"
    assert api["read_only"] is True and api["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in api["security_opt"]
    assert "user" not in api, "the image's own unprivileged user"
