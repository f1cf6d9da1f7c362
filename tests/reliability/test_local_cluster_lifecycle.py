"""``mochinushi opensearch up|status|down --nodes 3`` on a real, throw-away cluster.

Soak: a cold 3-node start takes 20-60 s on a 2-core machine. The cluster uses free ports of its
own and its folders are removed afterwards, so every run also exercises the fresh bootstrap.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from mochinushi.cli import app
from mochinushi.localdev.node import LocalCluster
from mochinushi.localdev.settings import LocalNodeSettings
from tests.reliability.conftest import free_node_ports

pytestmark = [pytest.mark.faults, pytest.mark.soak, pytest.mark.opensearch]

SIZE = 3


@pytest.fixture()
def throwaway_cluster() -> Iterator[LocalCluster]:
    """A cluster on free ports of its own (never one another run may hold), removed after."""
    settings = LocalNodeSettings()
    base_port = free_node_ports(SIZE)
    cluster = LocalCluster(settings.home, settings.opensearch_version, base_port=base_port)
    try:
        yield cluster
    finally:
        cluster.down()
        shutil.rmtree(cluster.root, ignore_errors=True)


def test_up_is_idempotent_status_lists_the_nodes_and_down_stops_them_all(
    throwaway_cluster: LocalCluster,
) -> None:
    runner = CliRunner()
    args = ["--nodes", str(SIZE), "--port", str(throwaway_cluster.base_port)]
    up = runner.invoke(app, ["opensearch", "up", *args])
    assert up.exit_code == 0, up.output
    assert "bootstrapping a new cluster" in up.stderr
    assert f"{throwaway_cluster.name}  health green  3/3 nodes answering" in up.stdout
    pids = [m.read_pid() for m in throwaway_cluster.members]

    messages: list[str] = []
    assert throwaway_cluster.up(progress=messages.append).running
    assert messages == [], "a second up neither starts nor bootstraps anything"
    assert [m.read_pid() for m in throwaway_cluster.members] == pids

    status = runner.invoke(app, ["opensearch", "status", *args])
    assert status.exit_code == 0, status.output
    for member, pid in zip(throwaway_cluster.members, pids, strict=True):
        assert f"{member.name:8} {member.url}  pid {pid}" in status.stdout
    assert status.stdout.count("*") == 1, "one elected cluster manager"

    down = runner.invoke(app, ["opensearch", "down", *args])
    assert down.exit_code == 0 and down.stdout.strip() == "stopped"
    after = runner.invoke(app, ["opensearch", "status", *args])
    assert after.exit_code == 3 and after.stdout.count("not running") == 3
