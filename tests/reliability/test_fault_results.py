"""Where fault runs write their results: never over a tracked file unless asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import faults

pytestmark = pytest.mark.faults


def test_a_run_writes_under_var_unless_asked_to_update_the_tracked_results(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(faults.UPDATE_RESULTS_ENV, raising=False)
    assert faults.result_path() == faults.ROOT / "var" / "faults" / "faults.json"
    monkeypatch.setenv(faults.UPDATE_RESULTS_ENV, "1")
    assert faults.result_path() == faults.ROOT / "bench" / "results" / "faults.json"


def test_an_explicit_path_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(faults.UPDATE_RESULTS_ENV, "1")
    written = faults.write_result({"benchmark": "faults.node_kill"}, tmp_path / "out.json")
    assert written == tmp_path / "out.json"
    assert written.read_text() == '{\n  "benchmark": "faults.node_kill"\n}\n'
