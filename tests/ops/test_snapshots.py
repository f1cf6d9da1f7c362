"""``mochinushi snapshot create|list|restore`` against a real node's filesystem repository.

The shared test node serves when its ``path.repo`` is set (every node ``mochinushi opensearch
up`` started since ``path.repo`` was written); a node started before that has none, and the
setting cannot be changed on a running node, so the test then starts a throw-away node of its
own (on free ports, removed afterwards: concurrent runs of the suite do not meet) — the same
code path either way.
"""

from __future__ import annotations

import shutil
import socket
import uuid
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
from opensearchpy import OpenSearch
from typer.testing import CliRunner

from analyzers.readings import default_reading_dictionary
from indexer import lifecycle
from indexer.build import BuildOptions, build_index
from mochinushi.cli import app
from mochinushi.localdev.node import TRANSPORT_PORT_OFFSET, LocalCluster, LocalNode
from mochinushi.localdev.settings import LocalNodeSettings
from tests.conftest import TEST_OPENSEARCH_URL, write_extract

pytestmark = pytest.mark.opensearch

RECORDS = [
    {"record_id": "S1", "name_kana": "ヤマダ ハナコ", "birth_date": "1938-05-03", "gender": "F"},
    {"record_id": "S2", "name_kana": "サトウ イチロウ", "birth_date": "1931-02-11", "gender": "M"},
    {"record_id": "S3", "name_kana": "スズキ カズコ", "birth_date": "5-100707", "gender": "2"},
]


@dataclass
class SnapshotNode:
    url: str
    client: OpenSearch
    repo_root: Path
    """The node's ``path.repo`` (a relative repository location lands under it)."""


def _free_http_port() -> int:
    """A free port whose transport port (``+ TRANSPORT_PORT_OFFSET``) is free too."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if port + TRANSPORT_PORT_OFFSET > 65535:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + TRANSPORT_PORT_OFFSET))
            except OSError:
                continue
        return port
    raise RuntimeError("no free pair of ports")


def _path_repo(client: OpenSearch) -> list[str]:
    nodes = client.nodes.info(node_id="_all", metric="settings")["nodes"]
    found: list[str] = []
    for node in nodes.values():
        value = node["settings"].get("path", {}).get("repo", [])
        found += [value] if isinstance(value, str) else value
    return found


@pytest.fixture(scope="module")
def snapshot_node() -> Iterator[SnapshotNode]:
    shared = OpenSearch(hosts=[TEST_OPENSEARCH_URL], timeout=60)
    repos = _path_repo(shared) if shared.ping() else []
    if repos:
        yield SnapshotNode(TEST_OPENSEARCH_URL, shared, Path(repos[0]))
        shared.close()
        return
    shared.close()
    settings = LocalNodeSettings()
    node = LocalNode(settings.home, settings.opensearch_version, _free_http_port(), heap="512m")
    shutil.rmtree(node.paths.root, ignore_errors=True)
    try:
        node.up()
        client = OpenSearch(hosts=[node.url], timeout=60)
        assert _path_repo(client) == [str(node.snapshots)]
        yield SnapshotNode(node.url, client, node.snapshots)
        client.close()
    finally:
        node.down()
        shutil.rmtree(node.paths.root, ignore_errors=True)


@pytest.fixture()
def names(snapshot_node: SnapshotNode) -> Iterator[dict[str, str]]:
    tag = uuid.uuid4().hex[:10]
    values = {"alias": f"test-snap-{tag}", "repository": f"test-repo-{tag}", "location": tag}
    yield values
    client = snapshot_node.client
    for name in client.indices.get(index=f"{values['alias']}-*", expand_wildcards="all"):
        client.indices.delete(index=name)
    with suppress(Exception):
        client.delete(index=lifecycle.LOCK_INDEX, id=values["alias"], refresh=True)
    with suppress(Exception):
        for snap in client.snapshot.get(repository=values["repository"], snapshot="_all")[
            "snapshots"
        ]:
            client.snapshot.delete(repository=values["repository"], snapshot=snap["snapshot"])
        client.snapshot.delete_repository(repository=values["repository"])
    shutil.rmtree(snapshot_node.repo_root / tag, ignore_errors=True)


def _cli(
    node: SnapshotNode, names: dict[str, str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str]:
    monkeypatch.setenv("MOCHINUSHI_OPENSEARCH_URL", node.url)
    monkeypatch.setenv("MOCHINUSHI_ALIAS", names["alias"])
    monkeypatch.setenv("MOCHINUSHI_SNAPSHOT_REPOSITORY", names["repository"])
    monkeypatch.setenv("MOCHINUSHI_SNAPSHOT_LOCATION", names["location"])
    result = CliRunner().invoke(app, ["snapshot", *args])
    return result.exit_code, result.output


def test_local_node_config_sets_path_repo(tmp_path: Path) -> None:
    node = LocalNode(tmp_path, "2.15.0", 9299)
    assert f'path.repo: ["{tmp_path}/nodes/9299/snapshots"]' in node._opensearch_yml()
    cluster = LocalCluster(tmp_path, "2.15.0", size=2, base_port=9298)
    repos = {m._opensearch_yml().split("path.repo: ")[1].split("\n")[0] for m in cluster.members}
    assert repos == {f'["{cluster.root}/snapshots"]'}, "one shared directory for all members"


def test_snapshot_delete_restore_brings_the_documents_back(
    snapshot_node: SnapshotNode,
    names: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, alias = snapshot_node.client, names["alias"]
    extract = write_extract(tmp_path / "records.jsonl", RECORDS)
    options = BuildOptions(alias=alias, sample_size=len(RECORDS))
    older = build_index(client, extract, options, default_reading_dictionary()).index
    live = build_index(client, extract, options, default_reading_dictionary()).index
    before = {
        hit["_id"]: hit["_source"]
        for hit in client.search(index=alias, body={"size": 10})["hits"]["hits"]
    }
    assert sorted(before) == ["S1", "S2", "S3"]

    code, output = _cli(snapshot_node, names, monkeypatch, "create")
    assert code == 0, output
    assert older in output and live in output
    code, listing = _cli(snapshot_node, names, monkeypatch, "list")
    assert code == 0 and f"*{live}" in listing and "SUCCESS" in listing, listing

    code, output = _cli(snapshot_node, names, monkeypatch, "restore")
    assert code == 1 and "exist in the cluster" in output, "never overwrites an index"

    for index in (older, live):
        client.indices.delete(index=index)
    assert not client.indices.exists_alias(name=alias)

    code, output = _cli(snapshot_node, names, monkeypatch, "restore")
    assert code == 0, output
    assert lifecycle.live_indices(client, alias) == [live]
    assert client.indices.exists(index=older), "the kept index is back too, for rollback"
    after = {
        hit["_id"]: hit["_source"]
        for hit in client.search(index=alias, body={"size": 10})["hits"]["hits"]
    }
    assert after == before
    lifecycle.check_servable(client, live)  # mapping version and _meta as the API reads them


def test_create_keeps_the_newest_snapshots(
    snapshot_node: SnapshotNode,
    names: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    extract = write_extract(tmp_path / "records.jsonl", RECORDS)
    options = BuildOptions(alias=names["alias"], sample_size=len(RECORDS))
    build_index(snapshot_node.client, extract, options, default_reading_dictionary())
    for n in range(3):
        code, output = _cli(
            snapshot_node, names, monkeypatch, "create", "--name", f"snap-{n}", "--keep", "2"
        )
        assert code == 0, output
    assert "deleted snapshot snap-0" in output
    code, listing = _cli(snapshot_node, names, monkeypatch, "list")
    assert [line.split()[0] for line in listing.splitlines()] == ["snap-2", "snap-1"]


def test_a_location_outside_path_repo_is_refused(
    snapshot_node: SnapshotNode, names: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output = _cli(snapshot_node, names, monkeypatch, "create", "--location", "/nowhere")
    assert code == 1 and "path.repo" in output, output
