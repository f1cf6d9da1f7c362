"""Fault tests: the service under a cluster that is down, slow, closed or losing a node.

Every test here is marked ``faults``; the long ones are also marked ``soak`` and are skipped
unless selected (``pytest -m soak``), so that the normal suite stays quick. The markers are
registered here until pyproject.toml lists them.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from opensearchpy import OpenSearch

from analyzers.readings import default_reading_dictionary
from indexer.build import BuildOptions, build_index
from mochinushi.localdev.node import TRANSPORT_PORT_OFFSET
from tests.conftest import drop_alias, write_extract

# A person on file (found by their own data, typed as a person would) and one who is not.
TINY_RECORDS = [
    {"record_id": "F-1", "name_kana": "マツモト キヨシ", "birth_date": "1930-01-30", "gender": "M"},
    {"record_id": "F-2", "name_kana": "ナカシマ ハルコ", "birth_date": "1930-07-21", "gender": "F"},
    {"record_id": "F-3", "name_kana": "ヤマダ キヨウコ", "birth_date": "5-130503", "gender": "2"},
]
FOUND_CHECK = {
    "surname_kana": "まつもと",
    "given_name_kana": "キヨシ",
    "birth_date": "昭和5年1月30日",
    "gender": "M",
}
NOT_FOUND_CHECK = {
    "surname_kana": "ワタナベ",
    "given_name_kana": "ススム",
    "birth_date": "1950-10-10",
    "gender": "M",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faults: injects a cluster fault (down, slow, closed, kill)")
    config.addinivalue_line("markers", "soak: long fault run, skipped unless `-m soak` selects it")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "soak" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="soak test: run with `pytest -m soak` (make soak)")
    for item in items:
        if item.get_closest_marker("soak"):
            item.add_marker(skip)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_node_ports(size: int = 1) -> int:
    """A base port such that ``size`` consecutive HTTP ports and their transport ports (100
    higher) are all free now: a local node or cluster of its own, never one another run uses."""
    for _ in range(200):
        base = random.randrange(20000, 30000)
        ports = [base + i + offset for i in range(size) for offset in (0, TRANSPORT_PORT_OFFSET)]
        if all(_port_free(port) for port in ports):
            return base
    raise RuntimeError("no free block of ports for a local node")


def build_tiny_index(client: OpenSearch, alias: str, folder: Path) -> str:
    """A versioned index with ``TINY_RECORDS`` behind ``alias``; returns the index name."""
    extract = write_extract(folder / f"{alias}.jsonl", TINY_RECORDS)
    options = BuildOptions(alias=alias, sample_size=len(TINY_RECORDS))
    return build_index(client, extract, options, default_reading_dictionary()).index


@pytest.fixture()
def tiny_alias(os_client: OpenSearch, unique_name: str, tmp_path: Path) -> Iterator[str]:
    """``TINY_RECORDS`` indexed on the shared test node under a fresh alias, dropped after."""
    try:
        build_tiny_index(os_client, unique_name, tmp_path)
        yield unique_name
    finally:
        drop_alias(os_client, unique_name)
