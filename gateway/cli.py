"""The ``gateway`` command (typer): serve, worker, run, db, schema, notifications, ingest, watch."""

from __future__ import annotations

import json
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gateway import cli_delivery, cli_ingest, cli_replay, logs
from gateway.cli_rules import rules_app, simulate_command, timers_app
from gateway.settings import get_settings

app = typer.Typer(help="Missing-episode gateway", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations", no_args_is_help=True)
schema_app = typer.Typer(help="JSON Schemas of the canonical contract", no_args_is_help=True)
notifications_app = typer.Typer(help="Read a recipient queue (for integration teams)", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(schema_app, name="schema")
app.add_typer(notifications_app, name="notifications")
export_app = typer.Typer(help="Statutory returns", no_args_is_help=True)
review_app = typer.Typer(help="Possible matches waiting for a person's decision", no_args_is_help=True)
episodes_app = typer.Typer(help="Episodes: show, split", no_args_is_help=True)
app.add_typer(export_app, name="export")
app.add_typer(review_app, name="review")
app.add_typer(episodes_app, name="episodes")
app.add_typer(cli_ingest.app)  # `gateway ingest` and `gateway watch` at the top level
app.add_typer(cli_delivery.app)  # `gateway deliver`, `gateway recipients …`, `gateway dead …`
app.add_typer(cli_replay.app)  # `gateway replay FILE` (canonical events, JSON Lines)
app.add_typer(rules_app, name="rules")  # gateway rules check | explain FILE [--at T] [--json]
app.add_typer(timers_app, name="timers")  # gateway timers run (standalone scheduler)
app.command("simulate")(simulate_command)  # gateway simulate SCENARIO.yaml [--json]
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


@schema_app.command("openapi")
def schema_openapi(path: Path) -> None:
    """Write the API's OpenAPI document (committed as docs/openapi.json)."""
    from gateway.api.app import create_app

    path.write_text(
        json.dumps(create_app(get_settings()).openapi(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
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
def worker(
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            help="run only these parts (repeat): processor, relay, timers, delivery; default all",
        ),
    ] = None,
) -> None:
    """Run the processor (consumer of gateway.process), the outbox relay, timers and delivery."""
    from gateway.runtime import WORKER_PARTS, build_worker, open_store

    parts = frozenset(only or WORKER_PARTS)
    if not parts <= WORKER_PARTS:
        console.print(f"[red]--only takes {', '.join(sorted(WORKER_PARTS))}[/red]")
        raise typer.Exit(2)
    _setup_logging()
    s = get_settings()
    s.check_production()
    engine, sessions = open_store(s)
    w = build_worker(s, sessions, parts=parts).start()
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


def _sessions():  # type: ignore[no-untyped-def]
    from gateway.runtime import open_store

    return open_store(get_settings())


@export_app.command("ssda903")
def export_ssda903(
    la: Annotated[str, typer.Option(help="DfE code of the exporting (responsible) LA, e.g. 886")],
    date_from: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="period start")],
    date_to: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="period end (inclusive)")],
    output: Annotated[Path | None, typer.Option(help="CSV file (default: standard output)")] = None,
    strict: Annotated[bool, typer.Option(help="exit 1 when a DfE rule is broken")] = False,
) -> None:
    """Write the SSDA903 Missing table (CHILD, DOB, MISSING, MIS_START, MIS_END) and check the DfE rules."""
    from rich.table import Table

    from gateway.episodes.ssda903 import export

    engine, sessions = _sessions()
    try:
        with sessions() as s:
            result = export(s, la, date_from.date(), date_to.date())
    finally:
        engine.dispose()
    if output:
        output.write_text(result.csv(), encoding="utf-8", newline="")
    else:
        typer.echo(result.csv(), nl=False)
    console.print(f"{len(result.rows)} rows for LA {la}, {len(result.violations)} DfE rule violation(s)")
    if result.violations:
        table = Table("rule", "row", "episode", "message")
        for v in result.violations:
            table.add_row(v.rule, str(v.row), v.episode_id, v.message)
        console.print(table)
    for episode_id, why in result.skipped:
        console.print(f"[yellow]skipped episode {episode_id}: {why}[/yellow]")
    if strict and result.violations:
        raise typer.Exit(1)


@review_app.command("list")
def review_list() -> None:
    """Open review items: a provisional episode, its possible match, the score and what agreed."""
    from rich.table import Table

    from gateway.episodes.review import open_review_items

    engine, sessions = _sessions()
    try:
        with sessions() as s:
            items = open_review_items(s)
    finally:
        engine.dispose()
    table = Table("item", "episode", "possible match", "score", "agreed on", "since")
    for i in items:
        table.add_row(
            i["id"],
            i["episode_id"],
            i["candidate_episode_id"],
            f"{i['score']:.2f}",
            ", ".join(i["reasons"]),
            i["created_at"],
        )
    Console().print(table)


def _decide(item: str, by: str, note: str | None, merge: bool) -> None:
    import uuid

    from gateway.episodes.review import ReviewError, decide_keep_apart, decide_merge
    from gateway.runtime import build_router
    from gateway.store.db import transaction

    engine, sessions = _sessions()
    try:
        with transaction(sessions) as s:
            now = datetime.now(UTC)
            if merge:
                router = build_router(get_settings())
                survivor = decide_merge(s, uuid.UUID(item), by, now, note, router.reconcile)
                console.print(f"merged into episode {survivor}")
            else:
                decide_keep_apart(s, uuid.UUID(item), by, now, note)
                console.print("kept apart")
    except ReviewError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        engine.dispose()


@review_app.command("merge")
def review_merge(
    item: str,
    by: Annotated[str, typer.Option(help="who decided (audited)")],
    note: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Merge the two episodes of a review item (the earlier one survives; nothing is deleted)."""
    _decide(item, by, note, merge=True)


@review_app.command("keep-apart")
def review_keep_apart(
    item: str,
    by: Annotated[str, typer.Option(help="who decided (audited)")],
    note: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Record that the two episodes are different children."""
    _decide(item, by, note, merge=False)


@episodes_app.command("split")
def episodes_split(
    episode: str,
    event: Annotated[list[str], typer.Option(help="event id to move (repeat)")],
    by: Annotated[str, typer.Option(help="who decided (audited)")],
    note: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Move events (and their source records) out of an episode into a new one."""
    import uuid

    from gateway.episodes.review import ReviewError, split
    from gateway.runtime import build_router
    from gateway.store.db import transaction

    engine, sessions = _sessions()
    try:
        with transaction(sessions) as s:
            router = build_router(get_settings())
            new_id = split(
                s,
                uuid.UUID(episode),
                {uuid.UUID(e) for e in event},
                by,
                datetime.now(UTC),
                note,
                router.reconcile,
            )
        console.print(f"new episode {new_id}")
    except ReviewError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        engine.dispose()


@episodes_app.command("history")
def episodes_history(episode: str) -> None:
    """The child's earlier episodes and the window counts (ids and dates only)."""
    import uuid

    from rich.table import Table

    from gateway.episodes.history import previous_episodes
    from gateway.episodes.repository import keys_of, load
    from gateway.store import tables

    engine, sessions = _sessions()
    try:
        with sessions() as s:
            row = s.get(tables.Episode, uuid.UUID(episode))
            if row is None:
                console.print(f"[red]no episode {episode}[/red]")
                raise typer.Exit(2)
            ep, _ = load(row)
            earlier = previous_episodes(s, ep.episode_id, keys_of(ep)[0])
    finally:
        engine.dispose()
    console.print(f"episode {episode}: {ep.status.value}; counts {ep.episode_counts}")
    table = Table("earlier episode", "status", "started", "found")
    for p in earlier:
        table.add_row(
            str(p.episode_id),
            p.status,
            p.started_at.isoformat(),
            p.found_at.isoformat() if p.found_at else "",
        )
    Console().print(table)


keys_app = typer.Typer(help="API keys: create (shown once), list, revoke", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    name: Annotated[
        str, typer.Option(help="who or what uses it, e.g. 'Staffordshire Police COMPACT export'")
    ],
    role: Annotated[str, typer.Option(help="source, recipient or operator")],
    scope: Annotated[
        list[str] | None,
        typer.Option(help="ingest:SYSTEM/INSTANCE (source) or recipient:KIND.ID[.ROLE] (recipient); repeat"),
    ] = None,
    days: Annotated[int, typer.Option(help="valid for this many days")] = 365,
) -> None:
    """Create a key. It is printed once and stored only as a hash: keep it now."""
    from gateway.security.keys import KeyError_, create_key
    from gateway.store.db import transaction

    engine, sessions = _sessions()
    try:
        with transaction(sessions) as s:
            new = create_key(s, name=name, role=role, scopes=list(scope or []), days=days)  # type: ignore[arg-type]
    except KeyError_ as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    console.print(f"key {new.prefix} created for {role}; it will not be shown again:")
    typer.echo(new.secret)


@keys_app.command("list")
def keys_list() -> None:
    """Keys by prefix, role, scopes and state (never the keys themselves)."""
    from rich.table import Table

    from gateway.security.keys import list_keys

    engine, sessions = _sessions()
    try:
        with sessions() as s:
            rows = list_keys(s)
    finally:
        engine.dispose()
    table = Table("prefix", "name", "role", "scopes", "expires", "state", "last used")
    now = datetime.now(UTC)
    for r in rows:
        state = "revoked" if r.revoked_at else "expired" if r.expires_at and r.expires_at <= now else "active"
        table.add_row(
            r.prefix,
            r.name,
            r.role,
            " ".join(r.scopes),
            r.expires_at.date().isoformat() if r.expires_at else "never",
            state,
            r.last_used_at.isoformat() if r.last_used_at else "",
        )
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(prefix: str) -> None:
    """Revoke a key at once (it is refused from the next request)."""
    from gateway.security.keys import revoke_key
    from gateway.store.db import transaction

    engine, sessions = _sessions()
    try:
        with transaction(sessions) as s:
            done = revoke_key(s, prefix)
    finally:
        engine.dispose()
    if not done:
        console.print(f"[red]no active key {prefix}[/red]")
        raise typer.Exit(2)
    console.print(f"key {prefix} revoked")


retention_app = typer.Typer(help="Retention of personal data", no_args_is_help=True)
app.add_typer(retention_app, name="retention")


@retention_app.command("run")
def retention_run() -> None:
    """Delete what is past its retention period (GATEWAY_RETENTION_*_DAYS); the run is audited."""
    from gateway.retention import run_retention

    engine, sessions = _sessions()
    try:
        report = run_retention(sessions, get_settings())
    finally:
        engine.dispose()
    for name, n in vars(report).items():
        console.print(f"{name.replace('_', ' ')}: {n}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
