"""Index versions behind an alias: build, validate, swap atomically, keep K, roll back, lock.

Blue/green: every full load goes into a new index ``<alias>-<UTC timestamp>``; the alias moves
only after the new index passed its gates, in one ``_aliases`` call, so readers never see a
half-built index. A half-built index is marked ``_meta.state = "building"``; a crash leaves
the alias on the old index and the next run deletes the leftover.

Backups are snapshots into a filesystem repository (every node's ``path.repo`` must list its
directory): the live index and the kept ones, with the alias they belong to and which one was
live in the snapshot's metadata; a restore brings them back and moves the alias atomically.

The lock is a document in a small lock index created with ``op_type=create`` (fails when it
exists). A lock older than ``stale_after`` is taken over with optimistic concurrency
(``if_seq_no``/``if_primary_term``), so two runs that both see a stale lock cannot both win.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConflictError, NotFoundError, RequestError, TransportError

from mappings import MAPPING_VERSION, mapping_version_of
from matching.finder import SearchUnavailable, ServedIndex, served_index
from matching.index_meta import BUILT_AT_KEY

LOCK_INDEX = ".mochinushi-locks"

BUILT_AT_META_KEY = BUILT_AT_KEY
"""``_meta`` key of a finished index: when its build passed the gates (ISO 8601, UTC). The API
exports it as ``mochinushi_served_index_build_timestamp_seconds``; the monitoring alerts when
the index served is older than a nightly build should allow."""


class LockHeld(RuntimeError):
    """Another reindex holds the lock."""


class GateFailed(RuntimeError):
    """The new index failed a validation gate; the alias was not moved."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_index_name(alias: str, now: dt.datetime | None = None) -> str:
    stamp = (now or utc_now()).strftime("%Y%m%dt%H%M%S%f")
    return f"{alias}-{stamp}"


@dataclass(frozen=True)
class IndexVersion:
    name: str
    docs: int
    created: str
    state: str
    live: bool
    mapping_version: int | None = None


def list_versions(client: OpenSearch, alias: str) -> list[IndexVersion]:
    """Every versioned index of ``alias``, newest first."""
    try:
        indices = client.indices.get(index=f"{alias}-*", expand_wildcards="open,closed")
    except NotFoundError:
        return []
    live = set(live_indices(client, alias))
    versions: list[IndexVersion] = []
    for name, info in indices.items():
        meta = info.get("mappings", {}).get("_meta", {})
        created_ms = int(info["settings"]["index"]["creation_date"])
        created = dt.datetime.fromtimestamp(created_ms / 1000, dt.UTC).isoformat(timespec="seconds")
        try:
            docs = int(client.count(index=name)["count"])
        except Exception:
            docs = -1
        versions.append(
            IndexVersion(
                name,
                docs,
                created,
                meta.get("state", "?"),
                name in live,
                mapping_version_of(info),
            )
        )
    return sorted(versions, key=lambda v: v.name, reverse=True)


def live_indices(client: OpenSearch, alias: str) -> list[str]:
    try:
        return sorted(client.indices.get_alias(name=alias).keys())
    except NotFoundError:
        return []


def swap_alias(client: OpenSearch, alias: str, new_index: str) -> None:
    """Point ``alias`` at ``new_index`` only, in one atomic ``_aliases`` request."""
    actions: list[dict[str, Any]] = [
        {"remove": {"index": old, "alias": alias}}
        for old in live_indices(client, alias)
        if old != new_index
    ]
    actions.append({"add": {"index": new_index, "alias": alias}})
    client.indices.update_aliases(body={"actions": actions})


def delete_leftovers(client: OpenSearch, alias: str) -> list[str]:
    """Delete half-built or rejected indices left by earlier runs (never the live one)."""
    deleted = []
    for version in list_versions(client, alias):
        if version.state in ("building", "validating", "failed") and not version.live:
            client.indices.delete(index=version.name)
            deleted.append(version.name)
    return deleted


def prune_versions(client: OpenSearch, alias: str, keep_previous: int) -> list[str]:
    """Keep the live index and the ``keep_previous`` newest before it; delete the rest."""
    ready = [v for v in list_versions(client, alias) if v.state == "ready"]
    previous = [v for v in ready if not v.live]
    deleted = []
    for version in previous[keep_previous:]:
        client.indices.delete(index=version.name)
        deleted.append(version.name)
    return deleted


def rollback(client: OpenSearch, alias: str) -> str:
    """Point the alias at the newest ready index older than the live one."""
    live = live_indices(client, alias)
    if not live:
        raise GateFailed(f"alias {alias} serves no index: nothing to roll back from")
    older = [
        v
        for v in list_versions(client, alias)
        if v.state == "ready" and not v.live and v.name < max(live)
    ]
    if not older:
        raise GateFailed("no previous index is kept to roll back to")
    target = older[0]
    if target.mapping_version != MAPPING_VERSION:
        # The API refuses to search it (a missing field would silently match nothing), so
        # moving the alias would take the service down rather than back.
        raise GateFailed(
            f"{target.name} has mapping version {target.mapping_version} and this code "
            f"queries version {MAPPING_VERSION}: roll the code back with it, or rebuild"
        )
    # Kept indices were built by whichever code ran that night: one whose ``_meta`` this code
    # cannot read would take the service down rather than back.
    check_servable(client, target.name)
    swap_alias(client, alias, target.name)
    return target.name


def mapping_version(client: OpenSearch, index: str) -> int | None:
    mapping = client.indices.get_mapping(index=index)
    return mapping_version_of(next(iter(mapping.values())))


def check_mapping_version(client: OpenSearch, index: str) -> None:
    found = mapping_version(client, index)
    if found != MAPPING_VERSION:
        raise GateFailed(f"index {index} has mapping version {found}, expected {MAPPING_VERSION}")


def check_servable(client: OpenSearch, index: str) -> ServedIndex:
    """What the API would serve of ``index``: its mapping version and ``_meta`` statistics read
    as the API reads them (``matching.finder.served_index``); GateFailed if it could not."""
    try:
        return served_index(client.indices.get_mapping(index=index))
    except SearchUnavailable as error:
        raise GateFailed(f"index {index} cannot be served: {error}") from error


# -- the lock ----------------------------------------------------------------------------------


def ensure_lock_index(client: OpenSearch) -> None:
    """The hidden index of reindex locks, one replica where a second node exists.

    Created explicitly: a first lock document written into a missing index would create it
    with the cluster's defaults (one replica that a single node can never allocate: yellow).
    """
    if not client.indices.exists(index=LOCK_INDEX):
        # Another run may create it at the same moment: that is fine.
        with suppress(RequestError):
            client.indices.create(
                index=LOCK_INDEX,
                body={
                    "settings": {
                        "index": {
                            "number_of_shards": 1,
                            "auto_expand_replicas": "0-1",
                            "hidden": True,
                        }
                    }
                },
            )


@contextmanager
def reindex_lock(
    client: OpenSearch, alias: str, stale_after: dt.timedelta = dt.timedelta(hours=6)
) -> Iterator[None]:
    holder = f"{socket.gethostname()}:{os.getpid()}"
    ensure_lock_index(client)
    doc = {"holder": holder, "acquired_at": utc_now().isoformat()}
    try:
        client.index(index=LOCK_INDEX, id=alias, body=doc, op_type="create", refresh=True)
    except ConflictError:
        _take_over_if_stale(client, alias, doc, stale_after)
    try:
        yield
    finally:
        try:
            current = client.get(index=LOCK_INDEX, id=alias)
            if current["_source"].get("holder") == holder:
                client.delete(
                    index=LOCK_INDEX,
                    id=alias,
                    if_seq_no=current["_seq_no"],
                    if_primary_term=current["_primary_term"],
                    refresh=True,
                )
        except (NotFoundError, ConflictError):
            pass


def _take_over_if_stale(
    client: OpenSearch, alias: str, doc: dict[str, Any], stale_after: dt.timedelta
) -> None:
    current = client.get(index=LOCK_INDEX, id=alias)
    acquired = dt.datetime.fromisoformat(current["_source"]["acquired_at"])
    age = utc_now() - acquired
    if age < stale_after:
        raise LockHeld(
            f"another reindex of {alias} holds the lock since {acquired.isoformat()} "
            f"({current['_source'].get('holder')}); it is considered stale after {stale_after}"
        )
    try:
        client.index(
            index=LOCK_INDEX,
            id=alias,
            body=doc,
            if_seq_no=current["_seq_no"],
            if_primary_term=current["_primary_term"],
            refresh=True,
        )
    except ConflictError as error:
        raise LockHeld(f"another run took over the stale lock of {alias} first") from error


# -- snapshots ---------------------------------------------------------------------------------

SNAPSHOT_TIMEOUT_SECONDS = 6 * 3600
"""How long a snapshot or a restore may take (one request that waits for completion)."""


@dataclass(frozen=True)
class SnapshotInfo:
    name: str
    state: str
    started: str
    indices: tuple[str, ...]
    live: tuple[str, ...]
    """The indices the alias served when the snapshot was taken."""


def ensure_snapshot_repository(client: OpenSearch, repository: str, location: str) -> None:
    """Register the filesystem repository (idempotent; OpenSearch verifies that every node can
    write to ``location``, which must be under its ``path.repo``)."""
    try:
        client.snapshot.create_repository(
            repository=repository, body={"type": "fs", "settings": {"location": location}}
        )
    except TransportError as error:
        raise GateFailed(
            f"snapshot repository {repository} at {location!r} cannot be used: "
            f"{error.error} (is {location!r} under every node's path.repo?)"
        ) from error


def list_snapshots(
    client: OpenSearch, alias: str, repository: str, location: str
) -> list[SnapshotInfo]:
    """The snapshots of ``alias`` in ``repository``, newest first."""
    ensure_snapshot_repository(client, repository, location)
    found = client.snapshot.get(repository=repository, snapshot="_all")
    snapshots = []
    for snap in found.get("snapshots", []):
        meta = snap.get("metadata") or {}
        if meta.get("alias") != alias:
            continue
        snapshots.append(
            SnapshotInfo(
                name=snap["snapshot"],
                state=snap.get("state", "?"),
                started=snap.get("start_time", "?"),
                indices=tuple(sorted(snap.get("indices", []))),
                live=tuple(meta.get("live", [])),
            )
        )
    return sorted(snapshots, key=lambda s: (s.started, s.name), reverse=True)


def create_snapshot(
    client: OpenSearch,
    alias: str,
    repository: str,
    location: str,
    name: str | None = None,
    keep: int | None = None,
) -> tuple[SnapshotInfo, list[str]]:
    """Snapshot the indices a ``rollback`` could serve (the live one and the kept ready ones),
    under the reindex lock so no build or delta runs meanwhile; then delete this alias's
    snapshots beyond the newest ``keep``. Returns the snapshot and the names deleted."""
    ensure_snapshot_repository(client, repository, location)
    with reindex_lock(client, alias):
        live = live_indices(client, alias)
        if not live:
            raise GateFailed(f"alias {alias} serves no index: nothing to snapshot")
        ready = [v.name for v in list_versions(client, alias) if v.state == "ready"]
        indices = sorted({*ready, *live})
        snapshot = name or new_index_name(alias)
        response = client.snapshot.create(
            repository=repository,
            snapshot=snapshot,
            body={
                "indices": ",".join(indices),
                "include_global_state": False,
                "metadata": {"alias": alias, "live": live},
            },
            params={"wait_for_completion": "true"},
            request_timeout=SNAPSHOT_TIMEOUT_SECONDS,
        )
    state = response.get("snapshot", {}).get("state")
    if state != "SUCCESS":
        raise GateFailed(f"snapshot {snapshot} ended {state}: {response.get('snapshot')}")
    taken = SnapshotInfo(
        snapshot, state, response["snapshot"].get("start_time", ""), tuple(indices), tuple(live)
    )
    pruned = []
    if keep is not None:
        for old in list_snapshots(client, alias, repository, location)[keep:]:
            client.snapshot.delete(
                repository=repository, snapshot=old.name, request_timeout=SNAPSHOT_TIMEOUT_SECONDS
            )
            pruned.append(old.name)
    return taken, pruned


def restore_snapshot(
    client: OpenSearch, alias: str, repository: str, location: str, name: str | None = None
) -> str:
    """Restore a snapshot of ``alias`` (default: the newest complete one) and point the alias at
    the index that was live in it; returns that index.

    Refused while any of the snapshot's indices exists: a restore never overwrites an index,
    and the one the alias serves is never deleted for it.
    """
    snapshots = [
        s for s in list_snapshots(client, alias, repository, location) if s.state == "SUCCESS"
    ]
    chosen = (
        next((s for s in snapshots if s.name == name), None)
        if name
        else next(iter(snapshots), None)
    )
    if chosen is None:
        raise GateFailed(
            f"no complete snapshot {name or ''} of {alias} in repository {repository}".replace(
                "  ", " "
            )
        )
    if not chosen.live:
        raise GateFailed(f"snapshot {chosen.name} does not say which index was live")
    with reindex_lock(client, alias):
        existing = [i for i in chosen.indices if client.indices.exists(index=i)]
        if existing:
            raise GateFailed(
                f"{', '.join(existing)} exist in the cluster: delete them first to restore "
                f"{chosen.name} (or go back to a kept index with `mochinushi rollback`)"
            )
        client.snapshot.restore(
            repository=repository,
            snapshot=chosen.name,
            body={
                "indices": ",".join(chosen.indices),
                "include_aliases": False,
                "include_global_state": False,
            },
            params={"wait_for_completion": "true"},
            request_timeout=SNAPSHOT_TIMEOUT_SECONDS,
        )
        client.cluster.health(
            index=",".join(chosen.indices),
            params={"wait_for_status": "yellow", "timeout": "300s"},
            request_timeout=330,
        )
        target = max(chosen.live)
        check_servable(client, target)
        swap_alias(client, alias, target)
    return target
