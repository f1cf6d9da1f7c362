"""indexer.build helpers that need no cluster."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from indexer.build import _rare_collections


@pytest.fixture()
def gc_state() -> Iterator[None]:
    thresholds, frozen = gc.get_threshold(), gc.get_freeze_count()
    yield
    gc.set_threshold(*thresholds)
    if gc.get_freeze_count() != frozen:
        gc.unfreeze()


@pytest.mark.usefixtures("gc_state")
def test_rare_collections_restore_the_collector() -> None:
    thresholds = gc.get_threshold()
    frozen = gc.get_freeze_count()
    assert frozen == 0, "the process froze nothing before the load"
    with _rare_collections():
        assert gc.get_threshold()[0] > thresholds[0]
        assert gc.get_freeze_count() > 1000, "what existed before the load is frozen"
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == frozen


@pytest.mark.usefixtures("gc_state")
def test_rare_collections_keep_a_freeze_made_by_the_process() -> None:
    gc.freeze()
    frozen = gc.get_freeze_count()
    with _rare_collections():
        pass
    assert gc.get_freeze_count() == frozen
