"""monitoring/: the Prometheus alert rules are valid, behave as their unit tests say, and —
like the Grafana dashboard — read only metrics and label values the API really exports."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mochinushi.settings import Settings
from search_api.app import create_app
from search_api.metrics import (
    BACKEND_ERROR_KINDS,
    CHECK_OUTCOMES,
    DEFAULT_ROUTES,
    TOKEN_RESOLUTION_RESULTS,
)

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS = REPO / "monitoring" / "prometheus"
DASHBOARD = REPO / "monitoring" / "grafana" / "mochinushi.json"
LABEL_VALUES = {
    "outcome": set(CHECK_OUTCOMES),
    "kind": set(BACKEND_ERROR_KINDS),
    "result": set(TOKEN_RESOLUTION_RESULTS),
    "route": set(DEFAULT_ROUTES),
    "job": {"mochinushi-api"},
}


def _promtool() -> str:
    venv_tool = REPO / ".venv" / "bin" / "promtool"
    found = os.environ.get("PROMTOOL") or shutil.which("promtool")
    if found:
        return found
    if venv_tool.exists():
        return str(venv_tool)
    pytest.fail("no promtool: `make monitoring-deps` puts Debian's into .venv/bin")


def _run(*args: str, cwd: Path = PROMETHEUS) -> str:
    result = subprocess.run(
        [_promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_promtool_checks() -> None:
    out = _run("check", "rules", "alerts.yml")
    assert "SUCCESS: 6 rules found" in out
    assert "SUCCESS" in _run("test", "rules", "alerts.test.yml")
    assert "is valid prometheus config" in _run("check", "config", "prometheus.example.yml")


def test_promtool_would_fail_a_broken_rule(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        (PROMETHEUS / "alerts.yml").read_text().replace("> 36 * 3600", "> 36 * 3600)")
    )
    result = subprocess.run(
        [_promtool(), "check", "rules", str(broken)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0


def _exported_metrics() -> set[str]:
    """Every series name the API's /metrics can show (gauges set, as after a scrape)."""
    app = create_app(Settings(alias="test-monitoring", opensearch_url="http://127.0.0.1:9"))
    state = app.state.service.metrics.served_index
    with TestClient(app) as client:
        state.built_at, state.records = 1.0, 1
        client.get("/healthz")  # labelled request series exist once a request was seen
        text = client.get("/metrics").text
    names = {"up"}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def _alert_exprs() -> list[str]:
    text = (PROMETHEUS / "alerts.yml").read_text()
    # The expressions are the `expr:` values, folded with `|` or on one line.
    exprs = []
    for match in re.finditer(r"expr: (\|\n((?:          .*\n)+)|.*\n)", text):
        exprs.append(match.group(2) if match.group(2) else match.group(1))
    return exprs


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def _check_names_and_labels(expr: str, exported: set[str]) -> None:
    for name in re.findall(r"\b(mochinushi_\w+|up)\b(?=\s*[{\[)])", expr):
        assert name in exported, f"{name} is not exported: {expr}"
    for label, value in re.findall(r'\b(\w+)=~?"([^"]*)"', expr):
        if label in LABEL_VALUES and label != "status":
            for alternative in value.split("|"):
                assert alternative in LABEL_VALUES[label], f"{label}={alternative}: {expr}"


def test_rules_and_dashboard_read_only_exported_series() -> None:
    exported = _exported_metrics()
    assert {
        "mochinushi_ready",
        "mochinushi_served_index_build_timestamp_seconds",
        "mochinushi_served_index_records",
    } <= exported
    alerts, panels = _alert_exprs(), _dashboard_exprs()
    assert len(alerts) == 6 and len(panels) >= 10
    for expr in [*alerts, *panels]:
        _check_names_and_labels(expr, exported)


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {
                        "record": f"dashboard:query_{i}",
                        "expr": expr.replace("$__rate_interval", "5m"),
                    }
                    for i, expr in enumerate(_dashboard_exprs())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(json.dumps(rules))  # JSON is YAML
    out = _run("check", "rules", str(path), cwd=tmp_path)
    assert f"SUCCESS: {len(_dashboard_exprs())} rules found" in out
