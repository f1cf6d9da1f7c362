"""The ``mochinushi`` command: the verbs of CONTRACTS §2."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

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


def main() -> None:
    app(prog_name="mochinushi")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
