"""A data node SIGKILLed on a 3-node cluster while checks run (the scenario of bench/faults.py).

Soak: starting the cluster, indexing and the load with a restart take about three minutes on a
2-core machine. Writes var/faults/faults.json (bench/results/faults.json with
MOCHINUSHI_UPDATE_RESULTS=1).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.faults import node_kill_scenario, running_cluster, write_result
from mochinushi.localdev.node import LocalCluster
from mochinushi.localdev.settings import LocalNodeSettings

pytestmark = [pytest.mark.faults, pytest.mark.soak, pytest.mark.opensearch]

BOUND_SECONDS = 600


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """The default local cluster; stopped afterwards only if this test started it."""
    settings = LocalNodeSettings()
    local = LocalCluster(settings.home, settings.opensearch_version)
    with running_cluster(local, progress=lambda _: None) as running:
        yield running


async def test_node_killed_under_load_is_503_or_right_never_wrong(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    async with asyncio.timeout(BOUND_SECONDS):
        result = await node_kill_scenario(cluster, tmp_path)
    write_result(result)
    summary = json.dumps({k: v for k, v in result.items() if k != "timeline"}, indent=1)
    assert result["phases"]["health_while_down"]["number_of_nodes"] == 2, summary
    assert result["wrong_answers"] == 0, summary
    assert result["other_statuses"] == {}, summary
    for phase in ("before_kill", "node_down", "node_rejoining", "after_green"):
        assert result["by_phase"][phase].get("ok", 0) > 0, summary
    assert cluster.status().running, "the killed node is back"
