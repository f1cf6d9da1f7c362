"""A serving process keeps the cyclic garbage collector off the startup objects."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from mochinushi.settings import Settings
from search_api.app import create_app


def test_serving_process_freezes_startup_objects_and_collects_young_objects_less_often(
    unique_name: str,
) -> None:
    threshold = gc.get_threshold()
    app = create_app(
        Settings(alias=unique_name, dev_mode=True, rate_limit="off"),
        freeze_startup_objects=True,
    )
    try:
        assert gc.get_freeze_count() == 0
        with TestClient(app):
            assert gc.get_freeze_count() > 10_000
            assert gc.get_threshold()[0] == 20_000
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_apps_made_for_tests_leave_the_collector_alone(unique_name: str) -> None:
    threshold = gc.get_threshold()
    with TestClient(create_app(Settings(alias=unique_name, dev_mode=True, rate_limit="off"))):
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == threshold
