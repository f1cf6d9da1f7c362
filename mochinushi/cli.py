"""The ``mochinushi`` command and its verbs (``mochinushi --help``; README, "Using it")."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from indexer.build import DEFAULT_MAX_DROP_RATIO
from mochinushi.localdev.distribution import DistributionError
from mochinushi.localdev.node import (
    CLUSTER_BASE_PORT,
    CLUSTER_HEAP,
    ClusterStatus,
    LocalCluster,
    LocalNode,
    LocalNodeError,
    NodeStatus,
)
from mochinushi.localdev.settings import LocalNodeSettings
from mochinushi.settings import Settings

app = typer.Typer(help="Finds the owners of unmatched pension records.", no_args_is_help=True)
opensearch_app = typer.Typer(help="Run a local OpenSearch node (fetched from Maven Central).")
app.add_typer(opensearch_app, name="opensearch")
keys_app = typer.Typer(help="Fresh keys for MOCHINUSHI_TOKEN_SECRET and MOCHINUSHI_STAFF_API_KEYS.")
app.add_typer(keys_app, name="keys")
snapshot_app = typer.Typer(
    help="Back up and restore the alias's indices (a filesystem snapshot repository)."
)
app.add_typer(snapshot_app, name="snapshot")

PortOption = Annotated[
    int | None,
    typer.Option(
        "--port",
        help="HTTP port of the local node (with --nodes > 1: of the first node, "
        f"default {CLUSTER_BASE_PORT})",
    ),
]
HeapOption = Annotated[
    str | None,
    typer.Option(
        "--heap", help=f"JVM heap, e.g. 1g or 512m (per node; {CLUSTER_HEAP} in a cluster)"
    ),
]
NodesOption = Annotated[
    int,
    typer.Option(
        "--nodes",
        min=1,
        max=9,
        help="1: the single node; more: a local cluster of that many nodes on consecutive ports",
    ),
]


def _say(message: str) -> None:
    typer.echo(message, err=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def _local_node(port: int | None, heap: str | None = None) -> LocalNode:
    settings = LocalNodeSettings()
    return LocalNode(
        home=settings.home,
        version=settings.opensearch_version,
        port=port or settings.opensearch_port,
        heap=heap or settings.opensearch_heap,
    )


def _local_target(
    nodes: int, port: int | None, heap: str | None = None
) -> LocalNode | LocalCluster:
    """The single node for ``--nodes 1`` (exactly as before clusters existed), else a cluster."""
    if nodes == 1:
        return _local_node(port, heap)
    settings = LocalNodeSettings()
    return LocalCluster(
        settings.home,
        settings.opensearch_version,
        size=nodes,
        base_port=port or CLUSTER_BASE_PORT,
        heap=heap or CLUSTER_HEAP,
    )


def _print_status(status: NodeStatus | ClusterStatus) -> None:
    if isinstance(status, ClusterStatus):
        _print_cluster_status(status)
        return
    if not status.running:
        typer.echo(f"not running ({status.url})")
        return
    typer.echo(f"url:      {status.url}")
    typer.echo(f"version:  {status.version}")
    typer.echo(f"health:   {status.health}")
    typer.echo(f"pid:      {status.pid}")
    typer.echo(f"heap:     {status.heap_max}")
    typer.echo(f"data:     {status.data_path}")
    typer.echo(f"plugins:  {', '.join(status.plugins)}")


def _print_cluster_status(status: ClusterStatus) -> None:
    """One header for the cluster, then one line per node (``*`` marks the cluster manager)."""
    answering = [node for _, node in status.nodes if node.running]
    typer.echo(
        f"cluster:  {status.name}  health {status.health or 'unknown'}  "
        f"{len(answering)}/{len(status.nodes)} nodes answering"
    )
    if answering:
        typer.echo(f"version:  {answering[0].version}")
        typer.echo(f"plugins:  {', '.join(answering[0].plugins)}")
    for name, node in status.nodes:
        manager = "*" if name == status.cluster_manager else " "
        if node.running:
            typer.echo(
                f"{manager} {name:8} {node.url}  pid {node.pid}  heap {node.heap_max}  "
                f"data {node.data_path}"
            )
        elif node.pid is not None:
            typer.echo(f"{manager} {name:8} {node.url}  pid {node.pid}  not answering")
        else:
            typer.echo(f"{manager} {name:8} {node.url}  not running")


@opensearch_app.command("up")
def opensearch_up(port: PortOption = None, heap: HeapOption = None, nodes: NodesOption = 1) -> None:
    """Ensure a local node runs and is healthy (fetches and caches it on first use).

    With --nodes N > 1: a local cluster of N nodes, started until green with all N.
    """
    target = _local_target(nodes, port, heap)
    try:
        status = target.up(progress=_say)
    except (LocalNodeError, DistributionError) as error:
        raise _fail(str(error)) from None
    _print_status(status)


@opensearch_app.command("down")
def opensearch_down(port: PortOption = None, nodes: NodesOption = 1) -> None:
    """Stop the local node (every node of the cluster with --nodes N > 1)."""
    stopped = _local_target(nodes, port).down()
    typer.echo("stopped" if stopped else "not running")


@opensearch_app.command("status")
def opensearch_status(port: PortOption = None, nodes: NodesOption = 1) -> None:
    """Version, plugins, pid, heap and data path of the local node (of each cluster node).

    Exits 3 unless the node (every node of the cluster) runs.
    """
    status = _local_target(nodes, port).status()
    _print_status(status)
    if not status.running:
        raise typer.Exit(3)


AliasOption = Annotated[str | None, typer.Option("--alias", help="Alias to build/serve")]


def _sync_client(settings: Settings) -> Any:
    from mochinushi.clients import cli_client

    return cli_client(settings)


@app.command("index")
def index_command(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    format: Annotated[str | None, typer.Option("--format", help="jsonl or csv")] = None,
    encoding: Annotated[str, typer.Option("--encoding", help="utf-8 or cp932")] = "utf-8",
    alias: AliasOption = None,
    delta: Annotated[bool, typer.Option("--delta", help="apply upserts/deletes to live")] = False,
    quarantine: Annotated[Path | None, typer.Option("--quarantine")] = None,
    keep: Annotated[int, typer.Option("--keep", help="previous indices kept")] = 2,
    min_count: Annotated[int | None, typer.Option("--min-count")] = None,
    max_drop_ratio: Annotated[
        float | None,
        typer.Option(
            "--max-drop-ratio",
            min=0.0,
            max=1.0,
            help="refuse a build with this share fewer documents than the live index",
        ),
    ] = DEFAULT_MAX_DROP_RATIO,
    shards: Annotated[int, typer.Option("--shards")] = 1,
    replicas: Annotated[int, typer.Option("--replicas")] = 0,
    allow_drop: Annotated[
        bool,
        typer.Option(
            "--allow-drop",
            help="build even with far fewer documents than the live index (no drop gate)",
        ),
    ] = False,
) -> None:
    """Build a new versioned index from an extract, validate it, and swap the alias.

    A truncated extract must not replace the ledger: the build is refused when it holds more
    than --max-drop-ratio fewer documents than the index served now (--allow-drop when a
    smaller ledger is intended)."""
    from analyzers.readings import default_reading_dictionary
    from indexer.build import BuildOptions, apply_delta, build_index
    from indexer.lifecycle import GateFailed, LockHeld
    from indexer.progress import progress_reporter

    if format not in (None, "jsonl", "csv"):
        raise _fail("--format must be jsonl or csv", 2)
    if encoding.lower().replace("_", "-") not in ("utf-8", "utf8", "cp932", "shift-jis", "sjis"):
        raise _fail("--encoding must be utf-8 or cp932", 2)
    settings = Settings()
    options = BuildOptions(
        alias=alias or settings.alias,
        format=format,  # type: ignore[arg-type]
        encoding="cp932" if encoding.lower() not in ("utf-8", "utf8") else "utf-8",
        quarantine_path=quarantine,
        keep_previous=keep,
        min_count=min_count,
        max_drop_ratio=None if allow_drop else max_drop_ratio,
        shards=shards,
        replicas=replicas,
    )
    client = _sync_client(settings)
    readings = default_reading_dictionary()
    try:
        with progress_reporter(path) as progress:
            if delta:
                summary = apply_delta(client, path, options, readings, progress)
            else:
                summary = build_index(client, path, options, readings, progress, _say)
    except (GateFailed, LockHeld) as error:
        raise _fail(f"{error}; the alias was not changed") from None
    typer.echo(summary.to_json())


@keys_app.command("new")
def keys_new_command(
    kid: Annotated[
        str | None,
        typer.Option("--kid", help="key id, 1-16 of A-Z a-z 0-9 . _ - (default: k + UTC time)"),
    ] = None,
    staff: Annotated[
        bool, typer.Option("--staff", help="a staff bearer key instead of a token key")
    ] = False,
) -> None:
    """Print a fresh random key on stdout; nothing is stored or logged.

    A token key prints as ``kid:secret``, an entry of MOCHINUSHI_TOKEN_SECRET (README,
    "Rotating keys", says in which order the replicas take it); with --staff, a bearer key
    for MOCHINUSHI_STAFF_API_KEYS.
    """
    import datetime as dt
    import secrets

    from search_api.tokens import TokenKeyRing

    secret = secrets.token_urlsafe(32)
    if staff:
        typer.echo(secret)
        return
    entry = f"{kid or dt.datetime.now(dt.UTC).strftime('k%Y%m%d%H%M')}:{secret}"
    try:
        TokenKeyRing(entry)
    except ValueError as error:
        raise _fail(f"--kid: {error}", 2) from None
    typer.echo(entry)


RepositoryOption = Annotated[
    str | None,
    typer.Option("--repository", help="snapshot repository name (MOCHINUSHI_SNAPSHOT_REPOSITORY)"),
]
LocationOption = Annotated[
    str | None,
    typer.Option(
        "--location",
        help="its directory: relative to the nodes' path.repo, or absolute and listed in it "
        "(MOCHINUSHI_SNAPSHOT_LOCATION)",
    ),
]


def _snapshot_target(
    alias: str | None, repository: str | None, location: str | None
) -> tuple[Any, str, str, str]:
    settings = Settings()
    return (
        _sync_client(settings),
        alias or settings.alias,
        repository or settings.snapshot_repository,
        location or settings.snapshot_location,
    )


@snapshot_app.command("create")
def snapshot_create_command(
    alias: AliasOption = None,
    repository: RepositoryOption = None,
    location: LocationOption = None,
    name: Annotated[str | None, typer.Option("--name", help="default: <alias>-<UTC time>")] = None,
    keep: Annotated[
        int, typer.Option("--keep", min=1, help="snapshots of this alias kept, newest first")
    ] = 7,
) -> None:
    """Snapshot the live index and the kept previous ones (not the cluster's global state)."""
    from indexer.lifecycle import GateFailed, LockHeld, create_snapshot

    client, alias, repository, location = _snapshot_target(alias, repository, location)
    try:
        taken, pruned = create_snapshot(client, alias, repository, location, name, keep)
    except (GateFailed, LockHeld) as error:
        raise _fail(str(error)) from None
    typer.echo(f"snapshot {taken.name} in {repository}: {', '.join(taken.indices)}")
    for old in pruned:
        typer.echo(f"deleted snapshot {old} (keeping {keep})")


@snapshot_app.command("list")
def snapshot_list_command(
    alias: AliasOption = None, repository: RepositoryOption = None, location: LocationOption = None
) -> None:
    """The alias's snapshots, newest first (``*``: its index that was live then)."""
    from indexer.lifecycle import list_snapshots

    client, alias, repository, location = _snapshot_target(alias, repository, location)
    for snap in list_snapshots(client, alias, repository, location):
        indices = ", ".join(f"*{i}" if i in snap.live else i for i in snap.indices)
        typer.echo(f"{snap.name}  {snap.state}  {snap.started}  {indices}")


@snapshot_app.command("restore")
def snapshot_restore_command(
    snapshot: Annotated[str | None, typer.Argument(help="default: the newest one")] = None,
    alias: AliasOption = None,
    repository: RepositoryOption = None,
    location: LocationOption = None,
) -> None:
    """Restore a snapshot's indices and point the alias at the one that was live then.

    Refused while any of them exists in the cluster (delete it first, or use `rollback` to
    go back to a kept index)."""
    from indexer.lifecycle import GateFailed, LockHeld, restore_snapshot

    client, alias, repository, location = _snapshot_target(alias, repository, location)
    try:
        live = restore_snapshot(client, alias, repository, location, snapshot)
    except (GateFailed, LockHeld) as error:
        raise _fail(f"{error}; the alias was not changed") from None
    typer.echo(f"alias {alias} now serves {live}")


@app.command("indices")
def indices_command(alias: AliasOption = None) -> None:
    """List the versioned indices of the alias, newest first."""
    from indexer.lifecycle import list_versions

    settings = Settings()
    for v in list_versions(_sync_client(settings), alias or settings.alias):
        typer.echo(
            f"{'*' if v.live else ' '} {v.name}  docs={v.docs}  created={v.created}  {v.state}"
            f"  mapping=v{v.mapping_version}"
        )


@app.command("rollback")
def rollback_command(alias: AliasOption = None) -> None:
    """Point the alias back at the previous kept index."""
    from indexer.lifecycle import GateFailed, rollback

    settings = Settings()
    try:
        name = rollback(_sync_client(settings), alias or settings.alias)
    except GateFailed as error:
        raise _fail(str(error)) from None
    typer.echo(f"alias {alias or settings.alias} now serves {name}")


def available_cores() -> int:
    """Cores this process may use: its CPU affinity, capped by a cgroup CPU quota (in a
    container ``os.cpu_count()`` is the host's, not the container's)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return max(1, cores)


def _cgroup_cpu_quota() -> float | None:
    """CPUs the cgroup may use (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``); None when unlimited."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text(encoding="ascii").split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        v1 = Path("/sys/fs/cgroup/cpu")
        quota_us = int((v1 / "cpu.cfs_quota_us").read_text(encoding="ascii"))
        period_us = int((v1 / "cpu.cfs_period_us").read_text(encoding="ascii"))
        return None if quota_us <= 0 else quota_us / period_us
    except (OSError, ValueError):
        return None


SERVE_ENV_OVERRIDES = {
    "alias": "MOCHINUSHI_ALIAS",
    "forwarded_allow_ips": "MOCHINUSHI_FORWARDED_ALLOW_IPS",
}
"""``serve`` options that workers (separate processes, configured from the environment) inherit."""


def serving_app() -> Any:
    """The application of one serving process (``uvicorn`` calls it in each worker); its
    settings come from the environment, which ``serve`` set up for it."""
    from search_api.app import create_app

    application = create_app(Settings(), freeze_startup_objects=True)
    application.state.service.metrics.registry.register(_WorkerInfo())
    return application


class _WorkerInfo:
    """``mochinushi_worker_info{pid}``: which process answered the scrape. With ``serve
    --workers N`` each worker has its own counters and a scrape reaches one of them."""

    def collect(self) -> Any:
        from prometheus_client.core import GaugeMetricFamily

        info = GaugeMetricFamily(
            "mochinushi_worker_info",
            "The API process (one of serve --workers) that answered this scrape.",
            labels=["pid"],
        )
        info.add_metric([str(os.getpid())], 1.0)
        yield info


def _check_serving_configuration(settings: Settings) -> None:
    """What ``create_app`` would refuse, found before any worker starts (a worker that fails at
    start-up would otherwise be restarted over and over)."""
    from mochinushi.clients import api_client
    from search_api.service import service_parts, token_ring

    token_ring(settings)
    service_parts(settings, api_client(settings))


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    alias: AliasOption = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            help="Proxies (addresses or networks, comma-separated, or *) whose X-Forwarded-For "
            "names the client that the public rate limit counts (MOCHINUSHI_FORWARDED_ALLOW_IPS)",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="API processes sharing the port (default: one per available core; one when "
            "partner keys are set, since counter sessions live in one process). They share "
            "nothing but the cluster: rate limits count per process unless "
            "MOCHINUSHI_RATE_LIMIT_STORAGE is redis (or the limit is off behind a gateway), "
            "/metrics shows the counters of the worker a scrape reaches, and counter (/counter) "
            "sessions live in one worker",
        ),
    ] = None,
) -> None:
    """Serve the API and the web page."""
    import uvicorn

    from search_api.app import ConfigurationError

    settings = Settings()
    overrides = {"alias": alias, "forwarded_allow_ips": forwarded_allow_ips}
    for name, value in overrides.items():
        if value is not None:
            settings = settings.model_copy(update={name: value})
            os.environ[SERVE_ENV_OVERRIDES[name]] = value  # the workers read the environment
    if workers is None and settings.partner_keys_text().strip():
        # Counter mode keeps each clerk's session in one process's memory: with several workers
        # a clerk would be signed out whenever a request reached another one.
        workers = 1
        typer.secho(
            "serve: 1 worker, because partner keys are set and counter (/counter) sessions live "
            "in one process; pass --workers N to choose (then route /counter to one process)",
            err=True,
        )
    workers = workers or available_cores()
    try:
        _check_serving_configuration(settings)
    except (ConfigurationError, ValueError) as error:
        raise _fail(str(error)) from None
    if workers > 1:
        typer.secho(
            f"serve: {workers} worker processes; each keeps its own counter (/counter) sessions "
            "and /metrics counters"
            + (
                ", and its own rate-limit counts (MOCHINUSHI_RATE_LIMIT_STORAGE=redis://… shares "
                "them; or turn the limits off behind a gateway that limits)"
                if settings.rate_limit_storage_url().startswith("memory")
                else ""
            ),
            err=True,
        )
    if workers > 1 and settings.dev_mode and settings.token_secret_text() is None:
        # One dev key for all workers (as TokenKeyRing.generate_dev makes it): a number issued
        # by one must open in another. It dies with the server, as a dev key does.
        import secrets

        from search_api.tokens import DEV_KID

        os.environ["MOCHINUSHI_TOKEN_SECRET"] = f"{DEV_KID}:{secrets.token_urlsafe(32)}"
    # The API logs every request itself (one JSON line with the request id and outcome).
    # X-Forwarded-For is read by the app, from the proxies it trusts, not by uvicorn (which by
    # default trusts 127.0.0.1's header): one rule, tested with the app.
    # loop/http "auto": uvloop and httptools (uvicorn[standard]) when installed.
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "warning",
        "access_log": False,
        "proxy_headers": False,
    }
    if workers == 1:
        uvicorn.run(serving_app(), **common)
    else:
        uvicorn.run("mochinushi.cli:serving_app", factory=True, workers=workers, **common)


@app.command("synth")
def synth_command(
    out: Annotated[Path, typer.Option("--out", help="output folder")],
    records: Annotated[int, typer.Option("--records")] = 20000,
    checks: Annotated[int, typer.Option("--checks")] = 1000,
    seed: Annotated[int, typer.Option("--seed")] = 7,
    density: Annotated[str, typer.Option("--density", help="production or uniform")] = "production",
) -> None:
    """Write a synthetic extract with labelled checks (ground truth per error pattern)."""
    from relevance.synth import SynthConfig, generate, write_synth_set

    if density not in ("production", "uniform"):
        raise _fail("--density must be production or uniform", 2)
    synth = generate(
        SynthConfig(
            records=records,
            checks=checks,
            seed=seed,
            density="production" if density == "production" else "uniform",
        )
    )
    out.mkdir(parents=True, exist_ok=True)
    write_synth_set(synth, out)
    typer.echo(f"wrote {len(synth.records)} records and {len(synth.checks)} checks to {out}")


def _finder(
    settings: Settings, client: Any, alias: str, config: Path | None, served: Any = None
) -> Any:
    """A finder over ``alias``; over exactly the indices of ``served`` when given (two runs to
    compare must search the same index even if the alias moves in between)."""
    from analyzers.readings import default_reading_dictionary
    from matching.config import MatchingConfig
    from matching.finder import Finder, load_name_stats

    return Finder(
        alias=served.names if served else alias,
        config=MatchingConfig.load(config),
        readings=default_reading_dictionary(),
        stats=served.stats if served else load_name_stats(client, alias),
        request_timeout=30,
    )


ConfigOption = Annotated[Path | None, typer.Option("--config", help="matching.toml to use")]


@app.command("eval")
def eval_command(
    checks: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    alias: AliasOption = None,
    config: ConfigOption = None,
    out: Annotated[Path | None, typer.Option("--out", help="folder for JSON + PNG")] = None,
    compare: Annotated[
        Path | None,
        typer.Option(
            "--compare",
            exists=True,
            dir_okay=False,
            help="a second matching.toml: also list every check whose answer it would change",
        ),
    ] = None,
) -> None:
    """Recall of owners and false "found" rates per error pattern, with the baseline."""
    from matching.finder import served_index
    from relevance.evaluate import changed_outcomes, load_checks, plot, report, run_check

    settings = Settings()
    client = _sync_client(settings)
    served = served_index(client.indices.get_mapping(index=alias or settings.alias))
    finder = _finder(settings, client, alias or settings.alias, config, served)
    labelled = load_checks(checks)
    outcomes = [run_check(client, finder, item) for item in labelled]
    result = report(outcomes, finder.config.threshold)
    _print_report(result)
    changed: list[dict[str, Any]] = []
    if compare:
        other = _finder(settings, client, alias or settings.alias, compare, served)
        other_outcomes = [
            run_check(client, other, item, baseline=o.baseline_found)
            for item, o in zip(labelled, outcomes, strict=True)
        ]
        other_result = report(other_outcomes, other.config.threshold)
        changed = changed_outcomes(
            outcomes, other_outcomes, finder.config.threshold, other.config.threshold
        )
        _print_comparison(result, other_result, compare, changed)
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / "evaluation.json").write_text(result.to_json() + "\n")
        plot(result, out / "precision_recall.png")
        typer.echo(f"wrote {out / 'evaluation.json'} and {out / 'precision_recall.png'}")
        if compare:
            (out / "comparison.json").write_text(
                json.dumps({"compared_with": str(compare), "changed": changed}, indent=2) + "\n"
            )
            typer.echo(f"wrote {out / 'comparison.json'}")


def _print_comparison(result: Any, other: Any, path: Path, changed: list[dict[str, Any]]) -> None:
    typer.echo(f"with {path}:")
    typer.echo(
        f"  recall of owners {result.recall:.3f} → {other.recall:.3f}, "
        f"false found {result.false_found:.4f} → {other.false_found:.4f}"
    )
    for tag, row in result.recall_by_tag.items():
        after = other.recall_by_tag[tag]["recall"]
        if after != row["recall"]:
            typer.echo(f"  {tag:22} {row['recall']:.3f} → {after:.3f}")
    for kind, row in result.false_found_by_kind.items():
        after = other.false_found_by_kind[kind]["false_found"]
        if after != row["false_found"]:
            typer.echo(f"  {kind:22} {row['false_found']:.4f} → {after:.4f}")
    typer.echo(f"  {len(changed)} checks answered differently:")
    for row in changed:
        what = ",".join(row["tags"]) or row["kind"]
        typer.echo(
            f"  {row['check_id']:10} {row['effect']:16} {what:32} "
            f"{row['score_before']:7.2f} → {row['score_after']:7.2f}"
        )


def _print_report(result: Any) -> None:
    typer.echo(
        f"threshold {result.threshold}: recall of owners {result.recall:.3f} "
        f"(baseline {result.baseline_recall:.3f}), false found "
        f"{result.false_found:.4f} (baseline {result.baseline_false_found:.4f}); "
        f"{result.owners} owners, {result.negatives} negatives, "
        f"{result.blocking_misses} blocking misses; found for someone else "
        f"{result.found_for_someone_else:.4f}"
    )
    typer.echo(f"{'error pattern':24} {'n':>6} {'recall':>8} {'baseline':>9}")
    for tag, row in result.recall_by_tag.items():
        typer.echo(f"{tag:24} {row['n']:>6} {row['recall']:>8.3f} {row['baseline']:>9.3f}")
    typer.echo(f"{'keying errors':24} {'n':>6} {'recall':>8}")
    for count, row in result.recall_by_error_count.items():
        typer.echo(f"{count:24} {row['n']:>6} {row['recall']:>8.3f}")
    typer.echo(f"{'negative kind':24} {'n':>6} {'false':>8} {'baseline':>9}")
    for kind, row in result.false_found_by_kind.items():
        typer.echo(f"{kind:24} {row['n']:>6} {row['false_found']:>8.4f} {row['baseline']:>9.4f}")


@app.command("calibrate")
def calibrate_command(
    checks: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    max_false_found: Annotated[float, typer.Option("--max-false-found")] = 0.01,
    alias: AliasOption = None,
    config: ConfigOption = None,
    write: Annotated[bool, typer.Option("--write/--dry-run")] = False,
) -> None:
    """Pick the lowest threshold meeting a false "found" target; optionally write it."""
    from matching.config import default_config_path
    from relevance.evaluate import calibrated_threshold, load_checks, run_check, write_threshold

    settings = Settings()
    client = _sync_client(settings)
    finder = _finder(settings, client, alias or settings.alias, config)
    outcomes = [run_check(client, finder, item) for item in load_checks(checks)]
    threshold = calibrated_threshold(outcomes, max_false_found)
    typer.echo(f"threshold for false found <= {max_false_found}: {threshold}")
    if write:
        target = config or default_config_path()
        write_threshold(target, threshold)
        typer.echo(f"wrote threshold = {threshold} to {target}")


@app.command("fit")
def fit_command(
    checks: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    alias: AliasOption = None,
    config: ConfigOption = None,
    out: Annotated[Path | None, typer.Option("--out", help="write the estimates as JSON")] = None,
) -> None:
    """Estimate each comparison level's m, u and log2(m/u) weight from labelled checks."""
    from relevance.evaluate import load_checks
    from relevance.fit import count_levels, estimate, to_json

    settings = Settings()
    client = _sync_client(settings)
    finder = _finder(settings, client, alias or settings.alias, config)
    rows = estimate(*count_levels(client, finder, load_checks(checks)))
    typer.echo(f"{'feature':16} {'level':20} {'m':>8} {'u':>9} {'weight':>7}  configured")
    for row in rows:
        weights = (
            getattr(finder.config, row.feature, {})
            if row.feature in ("surname", "given", "full", "birth_date", "gender")
            else {}
        )
        configured = weights.get(row.level, "")
        typer.echo(
            f"{row.feature:16} {row.level:20} {row.m:8.4f} {row.u:9.5f} "
            f"{row.weight:+7.2f}  {configured}"
        )
    if out:
        out.write_text(to_json(rows) + "\n")


@app.command("explain")
def explain_command(
    check: Annotated[str, typer.Argument(help="check JSON, or @file with one JSON object")],
    record: Annotated[
        str | None,
        typer.Option("--record", help="record id to explain (default: the top candidates)"),
    ] = None,
    top: Annotated[int, typer.Option("--top", help="candidates shown without --record")] = 3,
    alias: AliasOption = None,
    config: ConfigOption = None,
) -> None:
    """Why a check is found or not: the decision and each candidate's waterfall."""
    from matching.explain import RecordNotFound, explain, waterfall_lines
    from search_api.models import ExistenceCheckIn

    settings = Settings()
    client = _sync_client(settings)
    finder = _finder(settings, client, alias or settings.alias, config)
    text = Path(check[1:]).read_text(encoding="utf-8") if check.startswith("@") else check
    data = json.loads(text)
    request = ExistenceCheckIn.model_validate(data.get("request", data))
    try:
        result = explain(client, finder, request.to_check(), record, top)
    except RecordNotFound:
        raise _fail(f"record {record} is not in {finder.alias}") from None
    decision = result.decision
    typer.echo(
        f"decision: {'FOUND' if decision.found else 'not found'} "
        f"({len(decision.record_ids)} records in the token, {result.retrieved} candidates)"
    )
    for candidate in result.candidates:
        typer.echo("")
        if candidate.rank is None:
            typer.echo(f"record {candidate.score.record_id}")
            typer.echo("BLOCKING MISS: the record was not among the candidates of the query")
        else:
            typer.echo(f"record {candidate.score.record_id}")
            typer.echo(f"retrieved: candidate {candidate.rank} of {result.retrieved}")
            typer.echo(f"retrieved by: {', '.join(candidate.matched_clauses)}")
        for line in waterfall_lines(candidate, result.threshold):
            typer.echo(line)


@app.command("demo")
def demo_command(
    port: Annotated[int, typer.Option("--port")] = 8000,
    records: Annotated[int, typer.Option("--records")] = 20000,
) -> None:
    """Local node + synthetic extract + index + API and web page on 127.0.0.1."""
    node = _local_node(None)
    settings = Settings()
    try:
        node.up(progress=_say)
    except (LocalNodeError, DistributionError) as error:
        raise _fail(str(error)) from None
    demo_dir = Path("var/demo")
    if not (demo_dir / "records.jsonl").exists():
        synth_command(out=demo_dir, records=records, checks=200, seed=7, density="production")
    client = _sync_client(settings)
    if not client.indices.exists_alias(name=settings.alias):
        index_command(
            path=demo_dir / "records.jsonl",
            format=None,
            encoding="utf-8",
            alias=None,
            delta=False,
            quarantine=None,
            keep=2,
            min_count=None,
            max_drop_ratio=None,
            shards=1,
            replicas=0,
        )
    _say(
        f"serving on http://127.0.0.1:{port} (web page /, API docs /docs); "
        f"sample checks in {demo_dir / 'checks.jsonl'}; Ctrl-C to stop"
    )
    serve_command(host="127.0.0.1", port=port, alias=None)


# --- reference numbers (search_api/references.py) ---------------------------------------------

references_app = typer.Typer(help="The reference-number index (search_api/references.py).")
app.add_typer(references_app, name="references")


@references_app.command("cleanup")
def references_cleanup_command() -> None:
    """Delete the reference entries that expired more than MOCHINUSHI_REFERENCE_GRACE_DAYS ago."""
    import asyncio
    import datetime as dt

    from mochinushi.clients import api_client
    from search_api.references import ReferenceStore

    settings = Settings()

    async def run() -> int:
        client = api_client(settings)
        try:
            store = ReferenceStore(
                client,
                settings.reference_index,
                timeout=settings.opensearch_timeout_seconds,
                grace=dt.timedelta(days=settings.reference_grace_days),
            )
            return await store.cleanup(dt.datetime.now(dt.UTC))
        finally:
            await client.close()

    try:
        deleted = asyncio.run(run())
    except Exception as error:
        raise _fail(f"cleanup failed ({type(error).__name__}); run it again") from None
    typer.echo(f"deleted {deleted} expired reference entries from {settings.reference_index}")


# --- the campaign report (search_api/report.py) -------------------------------------------------


@app.command("report")
def report_command(
    first: Annotated[str, typer.Option("--from", help="first day, YYYY-MM-DD (Japan time)")],
    last: Annotated[str, typer.Option("--to", help="last day, YYYY-MM-DD, inclusive")],
    by: Annotated[str, typer.Option("--by", help="channel or office")] = "channel",
    output: Annotated[str, typer.Option("--format", help="table or csv")] = "table",
    plot: Annotated[
        Path | None, typer.Option("--plot", help="PNG: checks and resolutions per day by channel")
    ] = None,
) -> None:
    """The campaign's daily counts per channel (or office): checks, outcomes, numbers issued and
    resolved, median days from issue to resolution."""
    import asyncio
    import datetime as dt

    from mochinushi.clients import api_client
    from search_api.report import campaign_report, plot_report, report_csv, report_table

    if by not in ("channel", "office"):
        raise _fail("--by must be channel or office", 2)
    if output not in ("table", "csv"):
        raise _fail("--format must be table or csv", 2)
    try:
        first_day, last_day = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    except ValueError:
        raise _fail("--from and --to must be dates such as 2026-12-01", 2) from None
    if last_day < first_day:
        raise _fail("--to must not be before --from", 2)
    settings = Settings()

    async def run() -> Any:
        client = api_client(settings)
        try:
            return await campaign_report(
                client,
                settings.report_index,
                first_day,
                last_day,
                by,  # type: ignore[arg-type]
            )
        finally:
            await client.close()

    try:
        rows = asyncio.run(run())
    except Exception as error:
        raise _fail(f"the report could not be read ({type(error).__name__})") from None
    typer.echo(report_csv(rows, by) if output == "csv" else report_table(rows, by), nl=False)  # type: ignore[arg-type]
    if output == "table":
        typer.echo("")
    if plot is not None:
        plot_report(rows, str(plot))
        _say(f"plot written to {plot}")


def main() -> None:
    app(prog_name="mochinushi")


if __name__ == "__main__":  # pragma: no cover
    main()
