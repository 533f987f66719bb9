"""The ``gateway`` command (typer): serve, worker, run, db, schema, notifications, ingest, watch."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gateway import logs
from gateway.settings import get_settings

app = typer.Typer(help="Missing-episode gateway", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations", no_args_is_help=True)
schema_app = typer.Typer(help="JSON Schemas of the canonical contract", no_args_is_help=True)
notifications_app = typer.Typer(help="Read a recipient queue (for integration teams)", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(schema_app, name="schema")
app.add_typer(notifications_app, name="notifications")
console = Console(stderr=True)


def _setup_logging() -> None:
    s = get_settings()
    logs.configure(s.log_level, s.log_json)


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Create or migrate the store to ``revision`` (default: latest)."""
    from gateway.store.migrate import upgrade

    url = get_settings().database_url
    upgrade(url, revision)
    console.print(f"[green]database at {revision}[/green]")


@schema_app.command("export")
def schema_export(directory: Path) -> None:
    """Write the JSON Schemas of MissingEpisodeEvent, Episode and Notification to DIRECTORY."""
    from gateway.model.schemas import export

    for path in export(directory):
        console.print(f"wrote {path}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None, port: Annotated[int | None, typer.Option()] = None
) -> None:
    """Run the HTTP API (ingest endpoints)."""
    import uvicorn

    from gateway.api.app import create_app

    _setup_logging()
    s = get_settings()
    uvicorn.run(
        create_app(s), host=host or s.api_host, port=port or s.api_port, log_config=None, proxy_headers=False
    )


@app.command()
def worker() -> None:
    """Run the processor (consumer of gateway.process) and the outbox relay."""
    from gateway.runtime import build_worker, open_store

    _setup_logging()
    s = get_settings()
    s.check_production()
    engine, sessions = open_store(s)
    w = build_worker(s, sessions).start()
    console.print("[green]worker running[/green] (Ctrl-C to stop)")
    try:
        _wait_for_signal()
    finally:
        w.stop()
        engine.dispose()


@app.command()
def run(
    host: Annotated[str | None, typer.Option()] = None, port: Annotated[int | None, typer.Option()] = None
) -> None:
    """API and worker in one process: for one machine."""
    import uvicorn

    from gateway.api.app import create_app
    from gateway.runtime import build_worker, declare_topology, open_store

    _setup_logging()
    s = get_settings()
    s.check_production()
    declare_topology(s)
    engine, sessions = open_store(s)
    w = build_worker(s, sessions).start()
    try:
        uvicorn.run(create_app(s), host=host or s.api_host, port=port or s.api_port, log_config=None)
    finally:
        w.stop()
        engine.dispose()


@notifications_app.command("read")
def notifications_read(
    queue: str,
    count: Annotated[int, typer.Option(help="at most this many")] = 10,
    ack: Annotated[bool, typer.Option(help="remove what was read")] = False,
) -> None:
    """Print notifications waiting in a recipient queue, e.g. ``la.886.front_door``.

    Without ``--ack`` they are put back (nothing is consumed)."""
    import pika

    from gateway.broker.connection import parameters

    conn = pika.BlockingConnection(parameters(get_settings().amqp_url, name="gateway-cli-read"))
    try:
        ch = conn.channel()
        tags = []
        for _ in range(count):
            method, _props, body = ch.basic_get(queue)
            if method is None:
                break
            tags.append(method.delivery_tag)
            typer.echo(json.dumps(json.loads(body), indent=2))
        for tag in tags:
            ch.basic_ack(tag) if ack else ch.basic_nack(tag, requeue=True)
        if not tags:
            console.print(f"no messages in {queue}")
    finally:
        conn.close()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
