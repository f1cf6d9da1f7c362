"""The suite's own rule: a test that reaches the real node carries the ``opensearch`` marker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONFTEST = """
import pytest

from tests.conftest import pytest_runtest_setup  # noqa: F401  (the rule under test)


@pytest.fixture()
def opensearch_url() -> str:
    return "http://127.0.0.1:1"  # never contacted
"""
TESTS = """
import pytest


def test_forgets_the_marker(opensearch_url: str) -> None:
    assert opensearch_url


@pytest.mark.opensearch
def test_carries_the_marker(opensearch_url: str) -> None:
    assert opensearch_url


def test_needs_no_node() -> None:
    assert True
"""


def test_a_node_test_without_the_marker_fails(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_sample.py").write_text(TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    opensearch: real node\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", str(tmp_path)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "2 passed, 1 error" in result.stdout, result.stdout
    assert "test_forgets_the_marker" in result.stdout
    assert "uses the real node without @pytest.mark.opensearch" in result.stdout
