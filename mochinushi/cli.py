"""The ``mochinushi`` command: the verbs of CONTRACTS §2."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from mochinushi.local_node import LocalNode, LocalNodeError, NodeStatus
from mochinushi.opensearch_dist import DistributionError
from mochinushi.settings import Settings

app = typer.Typer(help="Finds the owners of unmatched pension records.", no_args_is_help=True)
opensearch_app = typer.Typer(help="Run a local OpenSearch node (fetched from Maven Central).")
app.add_typer(opensearch_app, name="opensearch")

PortOption = Annotated[int | None, typer.Option("--port", help="HTTP port of the local node")]
HeapOption = Annotated[str | None, typer.Option("--heap", help="JVM heap, e.g. 1g or 512m")]


def _say(message: str) -> None:
    typer.echo(message, err=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def _local_node(port: int | None, heap: str | None = None) -> LocalNode:
    settings = Settings()
    return LocalNode(
        home=settings.home,
        version=settings.opensearch_version,
        port=port or settings.opensearch_port,
        heap=heap or settings.opensearch_heap,
    )


def _print_status(status: NodeStatus) -> None:
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


@opensearch_app.command("up")
def opensearch_up(port: PortOption = None, heap: HeapOption = None) -> None:
    """Ensure a local node runs and is healthy (fetches and caches it on first use)."""
    node = _local_node(port, heap)
    try:
        status = node.up(progress=_say)
    except (LocalNodeError, DistributionError) as error:
        raise _fail(str(error)) from None
    _print_status(status)


@opensearch_app.command("down")
def opensearch_down(port: PortOption = None) -> None:
    """Stop the local node."""
    stopped = _local_node(port).down()
    typer.echo("stopped" if stopped else "not running")


@opensearch_app.command("status")
def opensearch_status(port: PortOption = None) -> None:
    """Version, plugins, pid, heap and data path of the local node."""
    status = _local_node(port).status()
    _print_status(status)
    if not status.running:
        raise typer.Exit(3)


AliasOption = Annotated[str | None, typer.Option("--alias", help="Alias to build/serve")]


def _sync_client(settings: Settings) -> Any:
    from opensearchpy import OpenSearch

    auth = (
        (settings.opensearch_user, settings.opensearch_password)
        if settings.opensearch_user
        else None
    )
    return OpenSearch(
        hosts=[settings.opensearch_url],
        http_auth=auth,
        verify_certs=settings.opensearch_verify_certs,
        timeout=60,
    )


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
    max_drop_ratio: Annotated[float | None, typer.Option("--max-drop-ratio")] = None,
    shards: Annotated[int, typer.Option("--shards")] = 1,
    replicas: Annotated[int, typer.Option("--replicas")] = 0,
) -> None:
    """Build a new versioned index from an extract, validate it, and swap the alias."""
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
        max_drop_ratio=max_drop_ratio,
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


@app.command("indices")
def indices_command(alias: AliasOption = None) -> None:
    """List the versioned indices of the alias, newest first."""
    from indexer.lifecycle import list_versions

    settings = Settings()
    for v in list_versions(_sync_client(settings), alias or settings.alias):
        typer.echo(f"{'*' if v.live else ' '} {v.name}  docs={v.docs}  created={v.created}  {v.state}")


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


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    alias: AliasOption = None,
) -> None:
    """Serve the API and the web page."""
    import uvicorn

    from search_api.app import ConfigurationError, create_app

    settings = Settings(**({"alias": alias} if alias else {}))
    try:
        application = create_app(settings)
    except ConfigurationError as error:
        raise _fail(str(error)) from None
    uvicorn.run(application, host=host, port=port, log_level="warning")


def main() -> None:
    app(prog_name="mochinushi")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
