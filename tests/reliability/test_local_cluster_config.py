"""``LocalCluster`` without starting anything: ports, folders, names, discovery, CLI output."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mochinushi.cli import app
from mochinushi.localdev.node import CLUSTER_NAME, LocalCluster, LocalNodeError

pytestmark = pytest.mark.faults


def _yml(text: str) -> dict[str, object]:
    return {
        key: json.loads(value)
        for key, value in (line.split(": ", 1) for line in text.splitlines() if line.strip())
    }


def test_members_have_their_own_ports_folders_and_a_distinct_cluster_name(tmp_path: Path) -> None:
    cluster = LocalCluster(tmp_path, "2.15.0", size=3, base_port=9300)
    assert [m.port for m in cluster.members] == [9300, 9301, 9302]
    transports = [m.transport_port for m in cluster.members]
    assert len(set(transports) | {9300, 9301, 9302}) == 6, "every port distinct"
    assert [m.paths.root for m in cluster.members] == [
        tmp_path / "clusters" / "9300" / f"node-{i}" for i in range(3)
    ]
    config = _yml(cluster.members[1]._opensearch_yml())
    assert config["cluster.name"] == cluster.name != CLUSTER_NAME
    assert config["node.name"] == "node-1"
    assert config["network.host"] == "127.0.0.1"
    assert (config["http.port"], config["transport.port"]) == (9301, transports[1])
    assert config["discovery.seed_hosts"] == [f"127.0.0.1:{port}" for port in transports]
    assert "discovery.type" not in config
    assert config["path.data"] == str(tmp_path / "clusters" / "9300" / "node-1" / "data")
    assert "-Xmx512m" in cluster.members[0]._jvm_options()


def test_first_election_is_bootstrapped_only_for_a_fresh_cluster(tmp_path: Path) -> None:
    cluster = LocalCluster(tmp_path, "2.15.0")
    assert cluster.is_fresh()
    cluster.bootstrapping = True
    voters = _yml(cluster.members[0]._opensearch_yml())["cluster.initial_cluster_manager_nodes"]
    assert voters == ["node-0", "node-1", "node-2"]
    for member in cluster.members:
        (member.paths.data / "nodes").mkdir(parents=True)
    assert cluster.is_fresh(), "nodes that never formed a cluster may still bootstrap it"
    cluster.root.mkdir(parents=True, exist_ok=True)
    cluster.formed_marker.touch()
    assert not cluster.is_fresh()
    cluster.bootstrapping = False
    assert "cluster.initial_cluster_manager_nodes" not in _yml(cluster.members[0]._opensearch_yml())


def test_a_taken_port_stops_up_before_any_member_starts(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        cluster = LocalCluster(tmp_path, "2.15.0", base_port=taken - 1)
        with pytest.raises(LocalNodeError, match="used by another process"):
            cluster.up()
    assert not any(m.paths.pid_file.exists() for m in cluster.members)


def test_one_node_is_not_a_cluster(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 2"):
        LocalCluster(tmp_path, "2.15.0", size=1)


def test_cli_status_and_down_of_a_cluster_that_is_not_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOCHINUSHI_HOME", str(tmp_path))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    killed = LocalCluster(tmp_path, "2.15.0", base_port=int(port)).members[1]
    dead = subprocess.Popen(["true"])
    dead.wait()
    killed.paths.root.mkdir(parents=True)
    killed.paths.pid_file.write_text(f"{dead.pid}\n")  # what a SIGKILL leaves behind
    runner = CliRunner()
    status = runner.invoke(app, ["opensearch", "status", "--nodes", "3", "--port", port])
    assert status.exit_code == 3, status.output
    assert status.output.count("not running") == 3, "a dead pid is not 'not answering'"
    assert "0/3 nodes answering" in status.output
    down = runner.invoke(app, ["opensearch", "down", "--nodes", "3", "--port", port])
    assert down.exit_code == 0 and down.output.strip() == "not running"
