"""The relevance toolkit as an engineer uses it: synth → eval → explain → calibrate (real node)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mochinushi.cli import app
from relevance.evaluate import write_threshold

pytestmark = pytest.mark.opensearch

RUNNER = CliRunner()
SMALL_KANA_CHECK = {
    "request": {
        "surname_kana": "やまだ",
        "given_name_kana": "キョウコ",
        "birth_date": "昭和13年5月3日",
        "gender": "F",
    },
    "expected_record_id": "R-SMALL",
    "kind": "owner",
    "tags": ["small_kana"],
    "check_id": "C1",
}
NEGATIVE_CHECK = {
    "request": {
        "surname_kana": "ワタナベ",
        "given_name_kana": "ススム",
        "birth_date": "1950-10-10",
        "gender": "M",
    },
    "expected_record_id": None,
    "kind": "random",
    "tags": [],
    "check_id": "C2",
}


def _checks(tmp_path: Path) -> Path:
    path = tmp_path / "checks.jsonl"
    path.write_text(
        "\n".join(json.dumps(c, ensure_ascii=False) for c in (SMALL_KANA_CHECK, NEGATIVE_CHECK))
        + "\n"
    )
    return path


def _unreachable_threshold(tmp_path: Path) -> Path:
    """A copy of the matching configuration whose threshold no candidate reaches."""
    strict = tmp_path / "strict.toml"
    strict.write_text(
        (Path(__file__).parents[2] / "matching" / "matching.toml").read_text(encoding="utf-8")
    )
    write_threshold(strict, 59.0)
    return strict


def test_synth_writes_extract_checks_and_manifest(tmp_path: Path) -> None:
    result = RUNNER.invoke(
        app, ["synth", "--records", "800", "--checks", "60", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert sum(1 for _ in (tmp_path / "records.jsonl").open()) == 800
    checks = [json.loads(line) for line in (tmp_path / "checks.jsonl").open(encoding="utf-8")]
    assert len(checks) == 60
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert (manifest["records"], manifest["checks"]) == (800, 60)
    assert manifest["config"]["records"] == 800 and manifest["config"]["checks"] == 60
    # The manifest describes the checks written beside it.
    assert manifest["kinds"] == dict(Counter(check["kind"] for check in checks))
    tags = Counter(tag for check in checks for tag in check["tags"])
    assert {tag: n for tag, n in manifest["tags"].items() if n} == dict(tags)


def test_eval_prints_per_pattern_table_and_writes_json_and_plot(
    crafted_alias: str, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    result = RUNNER.invoke(
        app, ["eval", str(_checks(tmp_path)), "--alias", crafted_alias, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "small_kana" in result.output and "baseline" in result.output
    report = json.loads((out / "evaluation.json").read_text())
    assert report["recall"] == 1.0 and report["false_found"] == 0.0
    assert report["baseline_recall"] == 0.0, "キヨウコ vs キョウコ defeats exact equality"
    assert report["misses_by_tag"] == {}
    assert (out / "precision_recall.png").read_bytes()[:4] == b"\x89PNG"


def test_explain_shows_the_waterfall_and_the_verdict(crafted_alias: str, tmp_path: Path) -> None:
    check = tmp_path / "check.json"
    check.write_text(json.dumps(SMALL_KANA_CHECK, ensure_ascii=False))
    result = RUNNER.invoke(
        app, ["explain", f"@{check}", "--record", "R-SMALL", "--alias", crafted_alias]
    )
    assert result.exit_code == 0, result.output
    assert "retrieved: candidate" in result.output
    retrieved_by = next(line for line in result.output.splitlines() if "retrieved by:" in line)
    assert "given:orthographic" in retrieved_by and "date:exact" in retrieved_by
    assert "given_name" in result.output and "orthographic" in result.output
    assert "FOUND" in result.output


def test_explain_reports_a_blocking_miss(crafted_alias: str, tmp_path: Path) -> None:
    far = {**SMALL_KANA_CHECK["request"], "birth_date": "1960-01-01"}
    result = RUNNER.invoke(
        app,
        [
            "explain",
            json.dumps(far, ensure_ascii=False),
            "--record",
            "R-SMALL",
            "--alias",
            crafted_alias,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "BLOCKING MISS" in result.output and "not found" in result.output


def test_calibrate_writes_the_threshold_to_a_config_copy(
    crafted_alias: str, tmp_path: Path
) -> None:
    config = tmp_path / "matching.toml"
    config.write_text(Path("matching/matching.toml").read_text(encoding="utf-8"))
    result = RUNNER.invoke(
        app,
        [
            "calibrate",
            str(_checks(tmp_path)),
            "--alias",
            crafted_alias,
            "--config",
            str(config),
            "--max-false-found",
            "0.0",
            "--write",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "wrote threshold" in result.output
    assert "threshold = " in config.read_text()


def test_write_threshold_refuses_a_config_without_one(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("version = 1\n")
    with pytest.raises(ValueError, match="threshold"):
        write_threshold(config, 12.0)


def test_fit_estimates_level_weights(crafted_alias: str, tmp_path: Path) -> None:
    out = tmp_path / "fit.json"
    result = RUNNER.invoke(
        app, ["fit", str(_checks(tmp_path)), "--alias", crafted_alias, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = {(r["feature"], r["level"]): r for r in json.loads(out.read_text())}
    own = rows[("given_name", "orthographic")]
    assert own["own_pairs"] == 1 and own["weight"] > 0


def test_eval_compare_lists_every_check_answered_differently(
    crafted_alias: str, tmp_path: Path
) -> None:
    strict = _unreachable_threshold(tmp_path)  # the owner is lost, nothing else moves
    out = tmp_path / "report"
    arguments = ["eval", str(_checks(tmp_path)), "--alias", crafted_alias]
    result = RUNNER.invoke(app, [*arguments, "--compare", str(strict), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "recall of owners 1.000 → 0.000" in result.output
    assert "1 checks answered differently" in result.output
    comparison = json.loads((out / "comparison.json").read_text())
    assert [(row["check_id"], row["effect"]) for row in comparison["changed"]] == [
        ("C1", "owner missed")
    ]


def test_eval_lists_every_missed_owner_by_pattern(crafted_alias: str, tmp_path: Path) -> None:
    strict = _unreachable_threshold(tmp_path)
    out = tmp_path / "report"
    arguments = ["eval", str(_checks(tmp_path)), "--alias", crafted_alias, "--config", str(strict)]
    result = RUNNER.invoke(app, [*arguments, "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "evaluation.json").read_text())
    assert report["misses_by_tag"] == {"small_kana": ["C1"]}


def test_explain_without_a_record_shows_the_decision_and_the_top_candidates(
    crafted_alias: str, tmp_path: Path
) -> None:
    check = tmp_path / "check.json"
    check.write_text(json.dumps(SMALL_KANA_CHECK, ensure_ascii=False))
    result = RUNNER.invoke(app, ["explain", f"@{check}", "--top", "2", "--alias", crafted_alias])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("decision: FOUND")
    shown = [line for line in result.output.splitlines() if line.startswith("record ")]
    assert shown[0] == "record R-SMALL"  # the best candidate first
    assert 1 <= len(shown) <= 2
    assert result.output.count(" threshold ") == len(shown)
