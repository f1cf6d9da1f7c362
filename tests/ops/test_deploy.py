"""deploy/: the systemd units and the Kubernetes manifests run commands the CLI has, with
settings it accepts, probe endpoints the API serves, and as the image's unprivileged user."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from mochinushi.cli import app
from mochinushi.settings import Settings

REPO = Path(__file__).resolve().parents[2]
SYSTEMD = REPO / "deploy" / "systemd"
KUBERNETES = REPO / "deploy" / "kubernetes"
IMAGE_UID = 10001  # docker/api.Dockerfile: USER


def _check_command(argv: list[str]) -> None:
    """``mochinushi <sub> [<sub>] args --flags``: the subcommand exists and has every flag."""
    assert Path(argv[0]).name == "mochinushi", argv
    words = [a for a in argv[1:] if not a.startswith("-")]
    for depth in (2, 1):
        shown = CliRunner().invoke(app, [*words[:depth], "--help"])
        if shown.exit_code == 0 and "Commands" not in shown.output:
            break
    else:
        pytest.fail(f"no such command: {argv}")
    for flag in (a for a in argv[1:] if a.startswith("--")):
        assert f"{flag.split('=')[0]} " in shown.output, f"{flag} is not an option of {argv}"


def _check_settings(env: dict[str, str]) -> None:
    fields = {f"MOCHINUSHI_{name.upper()}" for name in Settings.model_fields}
    unknown = set(env) - fields
    assert not unknown, f"no such settings: {unknown}"
    values = {k.removeprefix("MOCHINUSHI_").lower(): v for k, v in env.items() if v}
    Settings(**values)  # each value parses


# -- systemd ------------------------------------------------------------------------------------


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(SYSTEMD / name)
    return parser


def test_systemd_units_run_real_commands() -> None:
    api = _unit("mochinushi-api.service")
    reindex = _unit("mochinushi-reindex.service")
    assert api["Service"]["User"] == reindex["Service"]["User"] == "mochinushi"
    _check_command(api["Service"]["ExecStart"].split())
    assert "--host" in api["Service"]["ExecStart"]
    assert reindex["Service"]["Type"] == "oneshot"
    index = reindex["Service"]["ExecStart"].split()
    _check_command(index)
    assert index[1] == "index" and "--allow-drop" not in index, "the drop gate stays on"
    _check_command(reindex["Service"]["ExecStartPost"].split())
    timer = _unit("mochinushi-reindex.timer")
    assert timer["Timer"]["Persistent"] == "true"
    assert "Unit" not in timer["Timer"], "the timer starts the service of its own name"


def test_systemd_env_example_holds_real_settings() -> None:
    lines = (SYSTEMD / "mochinushi.env.example").read_text().splitlines()
    env = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    _check_settings(env)
    assert env["MOCHINUSHI_DEV_MODE"] == "false"


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze here")
def test_systemd_analyze_verify_finds_nothing_but_the_uninstalled_binary() -> None:
    units = sorted(str(p) for p in SYSTEMD.glob("mochinushi-*.*"))
    result = subprocess.run(
        ["systemd-analyze", "verify", *units], capture_output=True, text=True, timeout=60
    )
    complaints = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and "/opt/mochinushi/.venv/bin/mochinushi is not executable" not in line
    ]
    assert complaints == []
    calendar = subprocess.run(
        ["systemd-analyze", "calendar", _unit("mochinushi-reindex.timer")["Timer"]["OnCalendar"]],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert calendar.returncode == 0 and "02:30:00" in calendar.stdout


# -- Kubernetes ---------------------------------------------------------------------------------


def _manifests() -> dict[str, dict[str, Any]]:
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    found = {}
    for name in kustomization["resources"]:
        for doc in yaml.safe_load_all((KUBERNETES / name).read_text()):
            found[doc["kind"]] = doc
    return found


def _api_paths() -> set[str]:
    """The operations paths the API really answers (not 404) with the cluster unreachable."""
    from fastapi.testclient import TestClient

    from search_api.app import create_app

    application = create_app(Settings(alias="test-deploy", opensearch_url="http://127.0.0.1:9"))
    with TestClient(application) as client:
        return {
            path
            for path in ("/healthz", "/readyz", "/metrics", "/nowhere")
            if client.get(path).status_code != 404
        }


def _pod_checks(pod: dict[str, Any], containers: list[dict[str, Any]]) -> None:
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == IMAGE_UID
    assert pod["automountServiceAccountToken"] is False
    config = _manifests()["ConfigMap"]["data"]
    for container in containers:
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"]["drop"] == ["ALL"]
        _check_command(container["command"])
        refs = {next(iter(v.values()))["name"] for v in container["envFrom"]}
        assert refs == {"mochinushi-config", "mochinushi-secrets"}
    _check_settings(config)


def test_api_deployment_probes_ports_and_service() -> None:
    manifests = _manifests()
    deployment, service, pdb = (
        manifests["Deployment"],
        manifests["Service"],
        manifests["PodDisruptionBudget"],
    )
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    _pod_checks(pod, [container])
    paths = _api_paths()
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz" in paths
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz" in paths
    port = container["ports"][0]
    assert port["containerPort"] == int(
        container["command"][container["command"].index("--port") + 1]
    )
    assert service["spec"]["ports"][0]["targetPort"] == port["name"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    for selector in (
        deployment["spec"]["selector"]["matchLabels"],
        service["spec"]["selector"],
        pdb["spec"]["selector"]["matchLabels"],
    ):
        assert selector.items() <= labels.items()
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == "/metrics" in paths
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_reindex_cronjob_indexes_then_snapshots() -> None:
    cronjob = _manifests()["CronJob"]
    assert re.fullmatch(r"(\S+ ){4}\S+", cronjob["spec"]["schedule"])
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (reindex,) = pod["initContainers"]
    (snapshot,) = pod["containers"]
    _pod_checks(pod, [reindex, snapshot])
    assert reindex["command"][1] == "index" and "--allow-drop" not in reindex["command"]
    assert snapshot["command"][1:3] == ["snapshot", "create"]
    claim = next(v for v in pod["volumes"] if "persistentVolumeClaim" in v)
    assert (
        claim["persistentVolumeClaim"]["claimName"]
        == _manifests()["PersistentVolumeClaim"]["metadata"]["name"]
    )
    extract = Path(reindex["command"][2])
    mounts = {m["mountPath"] for m in reindex["volumeMounts"] if m["name"] == claim["name"]}
    assert str(extract.parent) in mounts


@pytest.mark.skipif(not shutil.which("kubectl"), reason="no kubectl here")
def test_kustomize_renders_every_manifest() -> None:
    result = subprocess.run(
        ["kubectl", "kustomize", str(KUBERNETES)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    kinds = [doc["kind"] for doc in yaml.safe_load_all(result.stdout)]
    assert sorted(kinds) == sorted(_manifests())
    assert all(
        doc["metadata"].get("namespace") == "mochinushi"
        for doc in yaml.safe_load_all(result.stdout)
    )
