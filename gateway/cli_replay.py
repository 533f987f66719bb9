"""``gateway replay FILE``: publish canonical events from a file to ``missing.inbound``, the path every
event takes, with a progress bar.

What it replays: ``MissingEpisodeEvent`` documents, one JSON object per line (JSON Lines; ``-`` reads
standard input): an export of the ``events`` table, another deployment's events, a partner's backlog
converted with ``gateway ingest --dry-run --json``, or the bench's generated load. Each line is
validated against the canonical model before it is sent (a bad line is counted with its line number,
never printed: it may hold a child's details). Publishing uses streaming confirms with a bounded
window, so memory stays flat however long the file is. The processor handles replayed events like any
other: an event whose idempotency key is known already changes nothing, so replaying the same file
twice, or a file that overlaps what was processed, is safe.

``--wait`` keeps the bar open until the processor has stored as many new events as were published
(counted in the store), which is how the bench times a replay end to end.

Exit codes: 0 all published; 1 some lines were invalid (the rest were published); 3 the broker did
not confirm in time.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Annotated, TextIO

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gateway.settings import get_settings

app = typer.Typer()
err = Console(stderr=True)

EXIT_INVALID = 1
EXIT_UNAVAILABLE = 3


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    stream: TextIO = sys.stdin if str(path) == "-" else path.open(encoding="utf-8")
    try:
        for number, line in enumerate(stream, start=1):
            if line.strip():
                yield number, line
    finally:
        if stream is not sys.stdin:
            stream.close()


def _count_lines(path: Path) -> int | None:
    if str(path) == "-":
        return None
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip())


def _stored_events() -> int:
    from sqlalchemy import func, select

    from gateway.runtime import open_store
    from gateway.store import tables

    engine, sessions = open_store(get_settings())
    try:
        with sessions() as s:
            return int(s.scalar(select(func.count()).select_from(tables.Event)) or 0)
    finally:
        engine.dispose()


@app.command("replay")
def replay(
    path: Annotated[
        Path, typer.Argument(help="JSON Lines file of canonical events, or - for standard input")
    ],
    window: Annotated[int, typer.Option(help="publishes awaiting the broker's confirm at once")] = 2_000,
    wait: Annotated[
        bool, typer.Option("--wait", help="also wait until the processor has stored them")
    ] = False,
    wait_timeout: Annotated[float, typer.Option(help="seconds --wait waits without progress")] = 120.0,
) -> None:
    """Publish canonical events from a JSON Lines file to missing.inbound (processed idempotently)."""
    from gateway import logs
    from gateway.broker.publisher import ConfirmedPublisher, PublishError
    from gateway.broker.topology import INBOUND
    from gateway.model import MissingEpisodeEvent
    from gateway.runtime import declare_topology

    s = get_settings()
    logs.configure(s.log_level, s.log_json)
    declare_topology(s)
    before = _stored_events() if wait else 0
    total = _count_lines(path)
    publisher = ConfirmedPublisher(s.amqp_url, name="gateway-replay", heartbeat=s.heartbeat_s).start()
    in_flight: deque[Future[None]] = deque()
    invalid: list[int] = []
    published = 0
    started = time.monotonic()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>8.0f}/s"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=err) as progress:
            sent = progress.add_task("published", total=total, rate=0.0)
            for number, line in _lines(path):
                try:
                    event = MissingEpisodeEvent.model_validate_json(line)
                except ValidationError:
                    invalid.append(number)
                    continue
                in_flight.append(
                    publisher.publish(
                        INBOUND,
                        f"{event.source.system.value}.{event.source.instance}",
                        event.to_json(),
                        message_id=str(event.event_id),
                        mandatory=True,
                    )
                )
                # A bounded window: memory stays flat and the broker paces us.
                while len(in_flight) > window:
                    in_flight.popleft().result(timeout=s.publish_confirm_timeout_s)
                    published += 1
                if published % 1000 == 0:
                    rate = published / max(time.monotonic() - started, 1e-6)
                    progress.update(sent, completed=published, rate=rate)
            while in_flight:
                in_flight.popleft().result(timeout=s.publish_confirm_timeout_s)
                published += 1
            progress.update(
                sent,
                completed=published,
                total=published,
                rate=published / max(time.monotonic() - started, 1e-6),
            )
            if wait:
                _wait_processed(progress, before, published, wait_timeout, started)
    except (PublishError, TimeoutError) as exc:
        err.print(
            f"[red]the broker did not confirm in time ({type(exc).__name__}); {published} confirmed[/red]"
        )
        raise typer.Exit(EXIT_UNAVAILABLE) from None
    finally:
        publisher.close()
    elapsed = time.monotonic() - started
    err.print(f"{published} events replayed in {elapsed:.1f}s ({published / max(elapsed, 1e-6):.0f}/s)")
    if invalid:
        err.print(
            f"[yellow]{len(invalid)} invalid line(s), not sent: {', '.join(map(str, invalid[:20]))}"
            f"{' …' if len(invalid) > 20 else ''}[/yellow]"
        )
        raise typer.Exit(EXIT_INVALID)


def _wait_processed(progress: Progress, before: int, published: int, timeout: float, started: float) -> None:
    task = progress.add_task("processed", total=published, rate=0.0)
    last, last_change = -1, time.monotonic()
    while True:
        done = _stored_events() - before
        progress.update(
            task, completed=min(done, published), rate=done / max(time.monotonic() - started, 1e-6)
        )
        if done >= published:
            return
        if done != last:
            last, last_change = done, time.monotonic()
        elif time.monotonic() - last_change > timeout:
            # Repeats of known events add no rows: a file replayed twice stops here, and says so.
            err.print(
                f"[yellow]{done} of {published} stored; no progress for {timeout:.0f}s "
                "(events already known are not stored again)[/yellow]"
            )
            return
        time.sleep(1.0)
