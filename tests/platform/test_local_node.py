"""The local node: a real OpenSearch with the Japanese plugins, and clear errors around it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from opensearchpy import OpenSearch
from typer.testing import CliRunner

from mochinushi.cli import app
from mochinushi.localdev import distribution as opensearch_dist
from mochinushi.localdev import node as local_node
from mochinushi.localdev.distribution import DistributionError, is_complete
from mochinushi.localdev.node import LocalNode, LocalNodeError
from mochinushi.localdev.settings import LocalNodeSettings
from mochinushi.settings import Settings

REQUIRED_COMPONENTS = {
    "analysis-icu",
    "analysis-kuromoji",
    "analysis-common",
    "mapper-extras",
    "reindex",
    "rank-eval",
    "lang-painless",
}


def _analyze(client: OpenSearch, body: dict[str, object]) -> list[str]:
    result = client.indices.analyze(body=body)
    return [token["token"] for token in result["tokens"]]


@pytest.mark.opensearch
def test_node_answers_with_both_japanese_plugins_and_standard_modules(
    os_client: OpenSearch,
) -> None:
    nodes = os_client.nodes.info(metric="plugins")
    node = next(iter(nodes["nodes"].values()))
    loaded = {p["name"] for p in node["plugins"]} | {m["name"] for m in node["modules"]}
    assert loaded >= REQUIRED_COMPONENTS


@pytest.mark.opensearch
@pytest.mark.parametrize(
    ("text", "expected", "why"),
    [
        ("ｻﾄｳ ﾊﾅｺ", ["サトウ ハナコ"], "half-width kana composed to full width"),
        ("ＹＡＭＡＤＡ１２３", ["YAMADA123"], "full-width latin and digits folded"),
        ("㈱山田商店", ["(株)山田商店"], "enclosed ideograph expanded"),
    ],
)
def test_icu_normalizer_nfkc(
    os_client: OpenSearch, text: str, expected: list[str], why: str
) -> None:
    body = {
        "tokenizer": "keyword",
        "char_filter": [{"type": "icu_normalizer", "name": "nfkc"}],
        "text": text,
    }
    assert _analyze(os_client, body) == expected, why


@pytest.mark.opensearch
@pytest.mark.parametrize(
    ("text", "expected"),
    [("やまだ きょうこ", ["ヤマダ キョウコ"]), ("はっとり", ["ハットリ"]), ("サトウ", ["サトウ"])],
)
def test_icu_transform_hiragana_to_katakana(
    os_client: OpenSearch, text: str, expected: list[str]
) -> None:
    body = {
        "tokenizer": "keyword",
        "filter": [{"type": "icu_transform", "id": "Hiragana-Katakana"}],
        "text": text,
    }
    assert _analyze(os_client, body) == expected


@pytest.mark.opensearch
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("山田商店", ["山田", "商店"]),
        ("埼玉県浦和市", ["埼玉", "県", "浦和", "市"]),
        ("佐藤花子", ["佐藤", "花子"]),
    ],
)
def test_kuromoji_tokenizer_splits_japanese_text(
    os_client: OpenSearch, text: str, expected: list[str]
) -> None:
    assert _analyze(os_client, {"tokenizer": "kuromoji_tokenizer", "text": text}) == expected


@pytest.mark.opensearch
def test_kuromoji_readingform_gives_katakana_readings(os_client: OpenSearch) -> None:
    body = {
        "tokenizer": "kuromoji_tokenizer",
        "filter": ["kuromoji_readingform"],
        "text": "山田商店",
    }
    assert _analyze(os_client, body) == ["ヤマダ", "ショウテン"]


@dataclass(frozen=True)
class RunningNode:
    node: LocalNode
    pid: int
    """As the node itself reports it."""


@pytest.fixture(scope="module")
def our_node(os_client: OpenSearch, opensearch_url: str) -> RunningNode:
    """The test node as ``mochinushi opensearch up`` manages it.

    Whether the node is ours is asked of the node itself (its data path lies under the local
    node's home), never of the code under test: a broken pid file or ``status`` command then
    fails the tests below instead of skipping them. Only a cluster run elsewhere (another
    MOCHINUSHI_TEST_OPENSEARCH_URL) skips them.
    """
    settings = LocalNodeSettings()
    port = int(opensearch_url.rsplit(":", 1)[1])
    node = LocalNode(settings.home, settings.opensearch_version, port=port)
    info = next(iter(os_client.nodes.info(metric="process,settings")["nodes"].values()))
    data = info["settings"].get("path", {}).get("data", [])
    data_paths = [data] if isinstance(data, str) else data
    if not any(Path(path).is_relative_to(node.paths.root) for path in data_paths):
        pytest.skip(f"the test cluster ({data_paths}) is not a node of {settings.home}")
    return RunningNode(node, int(info["process"]["id"]))


@pytest.mark.opensearch
def test_up_again_is_idempotent_and_downloads_nothing(our_node: RunningNode) -> None:
    before = our_node.node.read_pid()
    assert before == our_node.pid, "the pid file names the process that serves the port"
    messages: list[str] = []
    status = our_node.node.up(progress=messages.append)
    assert status.running and status.pid == before
    assert messages == [], "a second `up` must neither fetch nor start anything"


@pytest.mark.opensearch
def test_cli_status_shows_version_and_plugins(our_node: RunningNode) -> None:
    port = str(our_node.node.port)
    result = CliRunner().invoke(app, ["opensearch", "status", "--port", port])
    assert result.exit_code == 0, result.output
    lines = dict(line.split(":", 1) for line in result.output.splitlines() if ":" in line)
    assert lines["version"].strip() == "2.15.0"
    assert lines["health"].strip() in ("green", "yellow")
    assert int(lines["pid"]) == our_node.pid
    plugins = {name.strip() for name in lines["plugins"].split(",")}
    assert {"analysis-icu", "analysis-kuromoji"} <= plugins


# -- error paths (no node needed) -------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_port_taken_by_another_process_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        node = LocalNode(tmp_path, "2.15.0", port=port)
        with pytest.raises(LocalNodeError, match="used by another process"):
            node.up()


def test_stale_pid_file_is_removed(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        node = LocalNode(tmp_path, "2.15.0", port=squatter.getsockname()[1])
        node.paths.root.mkdir(parents=True)
        node.paths.pid_file.write_text(f"{dead.pid}\n")
        assert not node.status().running
        messages: list[str] = []
        with pytest.raises(LocalNodeError):
            node.up(progress=messages.append)
    assert not node.paths.pid_file.exists()
    assert any("stale pid file" in m for m in messages)


def test_down_without_a_node_says_so(tmp_path: Path) -> None:
    assert LocalNode(tmp_path, "2.15.0", port=_free_port()).down() is False


def test_missing_java_is_actionable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(local_node.shutil, "which", lambda _: None)
    with pytest.raises(LocalNodeError, match="Java 17"):
        local_node.find_java_home()


def test_missing_maven_suggests_docker_or_remote_cluster(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(opensearch_dist.shutil, "which", lambda _: None)
    with pytest.raises(DistributionError) as error:
        opensearch_dist.ensure_distribution(tmp_path, "2.15.0")
    assert "docker compose" in str(error.value)
    assert "MOCHINUSHI_OPENSEARCH_URL" in str(error.value)


def test_corrupt_cache_is_detected(tmp_path: Path) -> None:
    dist = tmp_path / "opensearch"
    (dist / "lib").mkdir(parents=True)
    (dist / "lib" / "a.jar").write_bytes(b"x" * 10)
    assert not is_complete(dist), "no manifest: never fully assembled"
    opensearch_dist._write_manifest(dist)
    assert is_complete(dist)
    (dist / "lib" / "a.jar").write_bytes(b"x" * 3)
    assert not is_complete(dist), "a truncated jar must trigger a re-fetch"
    (dist / "lib" / "a.jar").unlink()
    assert not is_complete(dist)
    (dist / opensearch_dist.MANIFEST_NAME).write_text("{not json")
    assert not is_complete(dist)


def test_node_dying_at_start_reports_the_log_tail(tmp_path: Path) -> None:
    node = LocalNode(tmp_path, "2.15.0", port=_free_port())
    node.paths.logs.mkdir(parents=True)
    (node.paths.logs / f"{local_node.CLUSTER_NAME}.log").write_text(
        "starting\njava.lang.IllegalStateException: failed to obtain node locks\n"
    )
    dead = subprocess.Popen(["true"])
    dead.wait()
    with pytest.raises(LocalNodeError, match="failed to obtain node locks"):
        node._wait_healthy(dead.pid)


def test_plugin_descriptors_match_the_running_version() -> None:
    for spec in opensearch_dist.PLUGINS:
        text = opensearch_dist._descriptor(spec, "2.15.0")
        props = dict(line.split("=", 1) for line in text.splitlines() if line)
        assert props["opensearch.version"] == "2.15.0"
        assert props["classname"].startswith("org.opensearch.")
        assert props["name"] == spec.name


@pytest.mark.parametrize(
    ("jar", "artifact"),
    [
        ("lucene-core-9.10.0.jar", "lucene-core"),
        ("zstd-jni-1.5.5-5.jar", "zstd-jni"),
        ("opensearch-2.15.0.jar", "opensearch"),
        ("reactor-core-3.5.17.jar", "reactor-core"),
        ("icu4j-70.1.jar", "icu4j"),
    ],
)
def test_artifact_name_for_jar_hell_comparison(jar: str, artifact: str) -> None:
    assert opensearch_dist._artifact_name(jar) == artifact


def test_settings_reject_bad_heap_and_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOCHINUSHI_OPENSEARCH_HEAP", "lots")
    with pytest.raises(ValueError, match="MOCHINUSHI_OPENSEARCH_HEAP"):
        LocalNodeSettings()
    monkeypatch.delenv("MOCHINUSHI_OPENSEARCH_HEAP")
    monkeypatch.setenv("MOCHINUSHI_ALIAS", "Bad Alias")
    with pytest.raises(ValueError, match="MOCHINUSHI_ALIAS"):
        Settings()


def test_node_config_binds_loopback_only(tmp_path: Path) -> None:
    node = LocalNode(tmp_path, "2.15.0", port=9311)
    config = dict(
        line.split(": ", 1) for line in node._opensearch_yml().splitlines() if line.strip()
    )
    assert json.loads(config["network.host"]) == "127.0.0.1"
    assert json.loads(config["http.port"]) == 9311
    assert json.loads(config["discovery.type"]) == "single-node"
    assert os.fspath(tmp_path) in config["path.data"]
