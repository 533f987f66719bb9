"""``gateway deliver``, ``gateway recipients …`` and ``gateway dead …`` (docs/recipients.md).

Mounted into the main command with ``app.add_typer(cli_delivery.app)`` (no name: ``deliver`` joins the
top level, ``recipients`` and ``dead`` become groups).

- ``gateway deliver [--channel webhook ...]``: the delivery workers on their own (dispatcher, channel
  consumers, digest release), for deployments that run them apart from ``gateway worker``
  (``GATEWAY_DELIVERY_ENABLED=false`` there).
- ``gateway recipients list | check | provision``: the directory as loaded; what is missing (secrets,
  channel implementations); AMQP queues and read-only RabbitMQ users (a generated password is printed
  once, on standard output, and never stored or logged).
- ``gateway dead list | show | replay``: delivery dead letters and recipients with no channel; replay to
  the chosen endpoint only; ``--by`` names who did it (audited).

Exit codes: 0 done; 1 configuration error (invalid directory, unknown recipient); 2 nothing to do
or refused (no such dead letter, still no endpoint); 3 the broker or database is unreachable.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import uuid
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gateway import logs
from gateway.settings import Settings, get_settings

app = typer.Typer(help="Delivery to recipients", no_args_is_help=True)
recipients_app = typer.Typer(help="The recipient directory and recipients' AMQP queues", no_args_is_help=True)
dead_app = typer.Typer(
    help="Notifications that could not be delivered: list, show, replay", no_args_is_help=True
)
app.add_typer(recipients_app, name="recipients")
app.add_typer(dead_app, name="dead")
err = Console(stderr=True)

EXIT_CONFIG = 1
EXIT_REFUSED = 2
EXIT_UNAVAILABLE = 3


def _settings() -> Settings:
    return get_settings()


def _directory(settings: Settings):  # type: ignore[no-untyped-def]
    from gateway.delivery.directory import DirectoryError, directory_from_settings

    try:
        return directory_from_settings(settings)
    except DirectoryError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(EXIT_CONFIG) from None


def _actor(by: str | None) -> str:
    who = (by or "").strip()
    if not who:
        err.print("[red]say who you are with --by (it is audited)[/red]")
        raise typer.Exit(EXIT_CONFIG)
    return who[:128]


# --- deliver ----------------------------------------------------------------------------------


@app.command("deliver")
def deliver(
    channel: Annotated[
        list[str] | None, typer.Option("--channel", "-c", help="only these channels (repeat); default all")
    ] = None,
) -> None:
    """Run the delivery workers: dispatcher, one consumer per channel, school digest release."""
    from gateway.broker.publisher import ConfirmedPublisher
    from gateway.delivery.worker import build_delivery
    from gateway.runtime import open_store

    s = _settings()
    logs.configure(s.log_level, s.log_json)
    s.check_production()
    directory = _directory(s)
    engine, sessions = open_store(s)
    publisher = ConfirmedPublisher(s.amqp_url, name="gateway-deliver-publisher", heartbeat=s.heartbeat_s)
    publisher.start(wait=None)
    service = build_delivery(s, sessions, publisher, directory, name="gateway-deliver", only=channel or None)
    service.start()
    err.print(f"[green]delivering[/green] ({', '.join(sorted(service.channel_objects))}; Ctrl-C to stop)")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        service.stop()
        publisher.close()
        engine.dispose()


# --- recipients --------------------------------------------------------------------------------


@recipients_app.command("list")
def recipients_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every recipient in the directory, with its endpoints and where it was defined."""
    s = _settings()
    directory = _directory(s)
    rows = []
    for key in sorted(directory.entries):
        entry = directory.entries[key]
        rows.append(
            {
                "recipient": key,
                "name": entry.name,
                "endpoints": [f"{e.channel}:{e.id}" for e in entry.endpoints()],
                "digest": entry.digest_time_text(s.delivery_digest_time) if entry.holds_digest else None,
                "example": entry.example,
                "file": str(directory.sources[key]),
            }
        )
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("recipient", "name", "endpoints", "digest", "file")
    for r in rows:
        table.add_row(
            r["recipient"] + (" (example)" if r["example"] else ""),
            r["name"],
            ", ".join(r["endpoints"]),
            r["digest"] or "",
            r["file"],
        )
    Console().print(table)


@recipients_app.command("check")
def recipients_check(
    strict: Annotated[bool, typer.Option(help="exit 1 when anything is missing")] = False,
) -> None:
    """Validate the directory; report unset webhook secrets and channels with no implementation."""
    from gateway.delivery.channel import channels
    from gateway.delivery.worker import load_channel_modules

    s = _settings()
    directory = _directory(s)
    load_channel_modules()
    registered = set(channels())
    problems: list[str] = []
    for key in sorted(directory.entries):
        for ep in directory.entries[key].endpoints():
            if ep.channel not in registered:
                problems.append(f"{key}: endpoint {ep.id}: no {ep.channel} channel is installed")
            env = ep.settings().get("secret_env")
            if env and not os.environ.get(str(env)):
                problems.append(f"{key}: endpoint {ep.id}: environment variable {env} is not set")
    err.print(f"{len(directory)} recipients, channels used: {', '.join(sorted(directory.channels_used()))}")
    for p in problems:
        err.print(f"[yellow]{p}[/yellow]")
    if not problems:
        err.print("[green]directory OK[/green]")
    if problems and strict:
        raise typer.Exit(EXIT_CONFIG)


@recipients_app.command("provision")
def recipients_provision(
    recipient: Annotated[
        list[str] | None, typer.Option("--recipient", "-r", help="only these routing keys (repeat)")
    ] = None,
    rotate: Annotated[bool, typer.Option(help="give existing users a new generated password")] = False,
    by: Annotated[str | None, typer.Option(help="who is provisioning (audited)")] = None,
) -> None:
    """Create each AMQP recipient's queue (bound on missing.notifications) and a RabbitMQ user that
    may read only that queue. Generated passwords are printed once, here, and nowhere else."""
    import httpx
    import pika.exceptions

    from gateway.delivery import store
    from gateway.delivery.provision import provision
    from gateway.runtime import open_store
    from gateway.store.db import transaction

    s = _settings()
    actor = _actor(by or os.environ.get("USER"))
    directory = _directory(s)
    try:
        done = provision(s, directory, only=set(recipient) if recipient else None, rotate=rotate)
    except KeyError as exc:
        err.print(f"[red]{exc.args[0]}[/red]")
        raise typer.Exit(EXIT_CONFIG) from None
    except (httpx.HTTPError, pika.exceptions.AMQPError) as exc:
        err.print(f"[red]broker or management API unreachable or refused: {type(exc).__name__}: {exc}[/red]")
        raise typer.Exit(EXIT_UNAVAILABLE) from None
    engine, sessions = open_store(s)
    try:
        with transaction(sessions) as session:
            for p in done:
                store.audit(
                    session,
                    action="provision",
                    actor=actor,
                    now=datetime.now(UTC),
                    recipient=p.recipient,
                    endpoint=p.queue,
                    details={"user": p.user, "password": p.password_from, "created_user": p.created_user},
                )
    finally:
        engine.dispose()
    table = Table("recipient", "queue", "user", "password")
    for p in done:
        table.add_row(p.recipient, p.queue, p.user, p.password_from)
    err.print(table)
    generated = [p for p in done if p.password]
    if generated:
        err.print(
            "[bold yellow]Passwords generated now: shown this once, hand them over securely.[/bold yellow]"
        )
        for p in generated:
            typer.echo(f"{p.user}\t{p.password}")


# --- dead letters ------------------------------------------------------------------------------


@dead_app.command("list")
def dead_list(
    recipient: Annotated[str | None, typer.Option(help="routing key, e.g. school.123456.school_dsl")] = None,
    status: Annotated[str | None, typer.Option(help="dead or no_channel (default both)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Dead letters (an endpoint gave up) and notices whose recipient has no channel."""
    from gateway.delivery.deadletters import list_dead
    from gateway.runtime import open_store

    engine, sessions = open_store(_settings())
    try:
        with sessions() as session:
            rows = list_dead(session, recipient=recipient, status=status)
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("notification", "recipient", "endpoint", "status", "attempts", "since", "reason")
    for r in rows:
        table.add_row(
            r["notification_id"],
            r["recipient"],
            f"{r['channel']}:{r['endpoint']}",
            r["status"],
            str(r["attempts"]),
            r["updated_at"],
            r["reason"] or "",
        )
    Console().print(table)
    err.print(f"{len(rows)} undelivered")


@dead_app.command("show")
def dead_show(
    notification: str,
    body: Annotated[
        bool, typer.Option("--body", help="include the notification (a child's details)")
    ] = False,
) -> None:
    """One notification's delivery: every endpoint, every attempt, every replay."""
    from gateway.delivery.deadletters import show
    from gateway.runtime import open_store

    engine, sessions = open_store(_settings())
    try:
        with sessions() as session:
            found = show(session, uuid.UUID(notification), include_body=body)
    finally:
        engine.dispose()
    if found is None:
        err.print(f"[red]no delivery record for {notification}[/red]")
        raise typer.Exit(EXIT_REFUSED)
    typer.echo(json.dumps(found, indent=2))


@dead_app.command("replay")
def dead_replay(
    notification: Annotated[str | None, typer.Argument(help="notification id")] = None,
    recipient: Annotated[str | None, typer.Option(help="replay every dead letter of this recipient")] = None,
    endpoint: Annotated[str | None, typer.Option(help="only this endpoint of the recipient")] = None,
    by: Annotated[str | None, typer.Option(help="who is replaying (audited)")] = None,
    note: Annotated[str | None, typer.Option(help="why (audited)")] = None,
) -> None:
    """Send dead letters again, to the chosen endpoint only (default: the endpoints that gave up)."""
    from gateway.broker.publisher import BrokerUnavailable, ConfirmedPublisher, PublishError
    from gateway.delivery.deadletters import ReplayError, replay, replay_recipient
    from gateway.runtime import open_store

    if (notification is None) == (recipient is None):
        err.print("[red]give a notification id or --recipient[/red]")
        raise typer.Exit(EXIT_CONFIG)
    s = _settings()
    actor = _actor(by)
    directory = _directory(s)
    engine, sessions = open_store(s)
    try:
        publisher = ConfirmedPublisher(s.amqp_url, name="gateway-cli-replay").start()
    except BrokerUnavailable as exc:
        engine.dispose()
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(EXIT_UNAVAILABLE) from None
    now = datetime.now(UTC)
    try:
        if notification is not None:
            done = replay(
                sessions,
                publisher,
                directory,
                uuid.UUID(notification),
                actor=actor,
                now=now,
                endpoint=endpoint,
                note=note,
                confirm_timeout=s.publish_confirm_timeout_s,
            )
            skipped: list[tuple[str, str]] = []
        else:
            assert recipient is not None
            done, skipped = replay_recipient(
                sessions,
                publisher,
                directory,
                recipient,
                actor=actor,
                now=now,
                endpoint=endpoint,
                note=note,
                confirm_timeout=s.publish_confirm_timeout_s,
            )
    except ReplayError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(EXIT_REFUSED) from None
    except PublishError as exc:
        err.print(
            f"[red]the broker did not take the replay ({type(exc).__name__}): nothing was changed[/red]"
        )
        raise typer.Exit(EXIT_UNAVAILABLE) from None
    finally:
        publisher.close()
        engine.dispose()
    for r in done:
        err.print(f"replayed {r.notification_id} to {r.recipient} {r.channel}:{r.endpoint}")
    for nid, why in skipped:
        err.print(f"[yellow]skipped {nid}: {why}[/yellow]")
    if not done:
        raise typer.Exit(EXIT_REFUSED)
