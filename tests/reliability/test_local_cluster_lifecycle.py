"""``mochinushi opensearch up|status|down --nodes 3`` on a real, throw-away cluster.

Soak: a cold 3-node start takes 20-60 s on a 2-core machine. The cluster uses its own base port
and its folders are removed afterwards, so every run also exercises the fresh bootstrap.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from mochinushi.cli import app
from mochinushi.localdev.node import LocalCluster
from mochinushi.localdev.settings import LocalNodeSettings

pytestmark = [pytest.mark.faults, pytest.mark.soak, pytest.mark.opensearch]

BASE_PORT = 9220
ARGS = ["--nodes", "3", "--port", str(BASE_PORT)]


@pytest.fixture()
def throwaway_cluster() -> Iterator[LocalCluster]:
    settings = LocalNodeSettings()
    cluster = LocalCluster(settings.home, settings.opensearch_version, base_port=BASE_PORT)
    cluster.down()
    shutil.rmtree(cluster.root, ignore_errors=True)
    yield cluster
    cluster.down()
    shutil.rmtree(cluster.root, ignore_errors=True)


def test_up_is_idempotent_status_lists_the_nodes_and_down_stops_them_all(
    throwaway_cluster: LocalCluster,
) -> None:
    runner = CliRunner()
    up = runner.invoke(app, ["opensearch", "up", *ARGS])
    assert up.exit_code == 0, up.output
    assert "bootstrapping a new cluster" in up.stderr
    assert f"{throwaway_cluster.name}  health green  3/3 nodes answering" in up.stdout
    pids = [m.read_pid() for m in throwaway_cluster.members]

    messages: list[str] = []
    assert throwaway_cluster.up(progress=messages.append).running
    assert messages == [], "a second up neither starts nor bootstraps anything"
    assert [m.read_pid() for m in throwaway_cluster.members] == pids

    status = runner.invoke(app, ["opensearch", "status", *ARGS])
    assert status.exit_code == 0, status.output
    for member, pid in zip(throwaway_cluster.members, pids, strict=True):
        assert f"{member.name:8} {member.url}  pid {pid}" in status.stdout
    assert status.stdout.count("*") == 1, "one elected cluster manager"

    down = runner.invoke(app, ["opensearch", "down", *ARGS])
    assert down.exit_code == 0 and down.stdout.strip() == "stopped"
    after = runner.invoke(app, ["opensearch", "status", *ARGS])
    assert after.exit_code == 3 and after.stdout.count("not running") == 3
