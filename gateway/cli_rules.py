"""``gateway rules check``, ``gateway rules explain``, ``gateway simulate`` and ``gateway timers run``.

Mounted on the main app (gateway/cli.py) with::

    from gateway.cli_rules import rules_app, simulate_command, timers_app
    app.add_typer(rules_app, name="rules")
    app.add_typer(timers_app, name="timers")
    app.command("simulate")(simulate_command)

None of these needs a broker except ``timers run``.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import structlog
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gateway import logs
from gateway.model.types import LONDON, to_utc
from gateway.rules.docs import describe_conditions, write_docs
from gateway.rules.explain import subject_from_document as _episode_of
from gateway.rules.loader import Rulebook, RuleFileError, load_rulebook
from gateway.rules.yamlio import load_yaml
from gateway.settings import get_settings

rules_app = typer.Typer(help="Sharing rules: validate and explain", no_args_is_help=True)
timers_app = typer.Typer(help="Deadlines and escalations", no_args_is_help=True)
err = Console(stderr=True)

MappingsOption = Annotated[
    Path | None, typer.Option("--mappings", help="mappings directory (default: GATEWAY_MAPPINGS_DIR)")
]


def _book(mappings: Path | None) -> Rulebook:
    directory = mappings or get_settings().mappings_dir
    try:
        return load_rulebook(directory)
    except RuleFileError as exc:
        err.print(f"[red]{len(exc.errors)} problem(s) in the rules under {directory}:[/red]")
        for e in exc.errors:
            err.print(f"  {e}", markup=False, highlight=False)
        raise typer.Exit(1) from exc


def _local(at: datetime | None) -> str:
    return "-" if at is None else at.astimezone(LONDON).strftime("%a %d %b %Y %H:%M %Z")


def _trigger(rule: Any) -> str:
    lines = [rule.trigger]
    if rule.when is not None and not rule.when.is_empty():
        lines.append("when " + describe_conditions(rule.when))
    if rule.while_ is not None:
        held = describe_conditions(rule.while_) if not rule.while_.is_empty() else "(always)"
        lines.append("while " + held)
    return "\n".join(lines)


def _actions(rule: Any) -> str:
    lines = []
    for n in rule.notify:
        due = f", due {n.due.describe()}" if n.due else ""
        lines.append(f"notify {n.describe()} [{n.profile}, {n.urgency.value}{due}]")
    for t in rule.task:
        lines.append(f"task {t.describe()}: {t.what} [due {t.due.describe()}, {t.profile}]")
    if rule.normalise:
        lines.append(f"normalise {rule.normalise.field}: {rule.normalise.from_} → {rule.normalise.to}")
    return "\n".join(lines)


@rules_app.command("check")
def check(mappings: MappingsOption = None) -> None:
    """Validate every area file, profile and calendar; list the rules of each area."""
    book = _book(mappings)
    out = Console()
    for f in book.files:
        scope = (
            "every episode"
            if f.is_national
            else ", ".join(
                [*(f"LA {a}" for a in f.header.authorities), *(f"police {p}" for p in f.header.police_forces)]
            )
        )
        table = Table(
            title=f"{f.area} — {f.header.name}",
            caption=f"{f.path} · applies to: {scope}",
            show_lines=True,
            expand=True,
        )
        table.add_column("rule", overflow="fold")
        table.add_column("trigger", overflow="fold")
        table.add_column("actions", overflow="fold")
        table.add_column("cite", overflow="fold")
        for lr in f.rules:
            table.add_row(lr.id, escape(_trigger(lr.rule)), escape(_actions(lr.rule)), escape(lr.rule.cite))
        out.print(table)
    windows = ", ".join(f"{w}d" for w in book.windows()) or "none"
    out.print(
        f"[green]OK[/green]: {len(book.rules)} rules in {len(book.files)} files; profiles: "
        f"{', '.join(sorted(book.profiles))}; episode-count windows used: {windows}"
    )


@rules_app.command("docs")
def docs_command(
    out: Annotated[Path, typer.Option("--out", help="where the area documents go")] = Path("docs/areas"),
    check: Annotated[
        bool, typer.Option("--check", help="change nothing; exit 1 if a document is out of date")
    ] = False,
    mappings: MappingsOption = None,
) -> None:
    """Write docs/areas/<area>.md: each area's duty table from its rule file (hand-written
    "Interpretations and gaps" after the generated part is kept)."""
    book = _book(mappings)
    changed = write_docs(book, out, check=check)
    if check:
        for path in changed:
            err.print(f"out of date: {path} (run `gateway rules docs`)", markup=False)
        if changed:
            raise typer.Exit(1)
        Console().print(f"[green]OK[/green]: {len(book.files)} area documents match the rules")
        return
    for path in changed:
        Console().print(f"wrote {path}", markup=False)
    Console().print(f"{len(changed)} of {len(book.files)} area documents changed")


@rules_app.command("explain")
def explain_command(
    file: Annotated[Path, typer.Argument(help="a MissingEpisodeEvent or an Episode (JSON or YAML)")],
    at: Annotated[
        str | None, typer.Option("--at", help="evaluate at this time (default: the event's, or now)")
    ] = None,
    mappings: MappingsOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Which rules fire for this event or episode and why; which do not, and why not."""
    from gateway.rules.explain import explain

    book = _book(mappings)
    try:
        episode, event = _episode_of(load_yaml(file))
        when = (
            to_utc(datetime.fromisoformat(at)) if at else (event.received_at if event else datetime.now(UTC))
        )
    except Exception as exc:
        err.print(f"[red]{file}: {exc}[/red]", markup=True)
        raise typer.Exit(2) from exc
    result = explain(book, episode, event, when)
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
        return
    out = Console()
    out.print(f"Evaluated at {_local(when)} ({when.isoformat()})")
    out.print("Areas: " + "; ".join(f"{a} ({why})" for a, why in result.areas))
    if result.normalised:
        out.print("Normalised by: " + ", ".join(result.normalised))
    table = Table(show_lines=True, expand=True)
    for col in ("rule", "outcome", "why"):
        table.add_column(col, overflow="fold")
    for v in result.verdicts:
        style = "green" if v.fires else ("dim" if not v.applies else "")
        why = [v.trigger] + [("✓ " if c.ok else "✗ ") + c.detail for c in v.checks]
        why += [f"⚠ {u.where}: no recipient ({u.reason})" for u in v.unresolved]
        table.add_row(
            escape(f"{v.rule.id}\n{v.rule.rule.cite}"), escape(v.outcome), escape("\n".join(why)), style=style
        )
    out.print(table)
    if result.notifications:
        notes = Table(title="Notifications that would be sent", show_lines=True, expand=True)
        for col in ("recipient", "kind", "rules", "due by", "purpose", "profile"):
            notes.add_column(col, overflow="fold")
        for r in result.notifications:
            n = r.notification
            rules = "\n".join(f"{c.id} ({c.cite})" for c in n.rules)
            if n.conflicts:
                rules += "\nconflict: " + ", ".join(c.field for c in n.conflicts)
            notes.add_row(
                n.recipient.routing_key,
                n.kind.value,
                escape(rules),
                _local(n.due_by),
                escape(n.purpose),
                n.profile,
            )
        out.print(notes)
    for c, sent in result.digests:
        out.print(f"Digest held: {c.recipient.routing_key} ({c.rule.id}) sent {_local(sent)}")


class _Stderr:
    """Whatever sys.stderr is when a line is written (a test runner swaps it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


@contextmanager
def _warnings_to_stderr() -> Iterator[None]:
    """While simulating: only warnings, on stderr (stdout carries the result); then as it was."""
    saved = structlog.get_config()
    structlog.configure(
        processors=[structlog.processors.add_log_level, structlog.dev.ConsoleRenderer(colors=False)],
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    try:
        yield
    finally:
        structlog.configure(**saved)


def simulate_command(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML/JSON (contracts/CANONICAL.md §4)")],
    as_json: Annotated[
        bool, typer.Option("--json", help="print {notifications, episodes, review_items}")
    ] = False,
    mappings: MappingsOption = None,
) -> None:
    """Run a scenario through the real engine with a virtual clock; print every notification."""
    from gateway.simulate import ScenarioError, load_scenario, simulate

    book = _book(mappings)
    try:
        with _warnings_to_stderr():
            result = simulate(load_scenario(scenario), rulebook=book)
    except ScenarioError as exc:
        err.print(f"{exc}", markup=False)
        raise typer.Exit(2) from exc
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), indent=2, default=str) + "\n")
        return
    out = Console()
    table = Table(title=f"{len(result.notifications)} notification(s)", show_lines=True, expand=True)
    for col in ("when", "recipient", "kind", "rule · cite", "due by", "purpose"):
        table.add_column(col, overflow="fold")
    for n in result.notifications:
        when = datetime.fromisoformat(n["created_at"])
        cause = "timer" if n.get("event_id") is None else "event"
        rules = "\n".join(f"{r['id']} · {r['cite']}" for r in n.get("rules") or [n["rule"]])
        if n.get("conflicts"):
            rules += "\nconflict: " + ", ".join(c["field"] for c in n["conflicts"])
        due = datetime.fromisoformat(n["due_by"]) if n.get("due_by") else None
        r = n["recipient"]
        table.add_row(
            f"{_local(when)}\n({cause})",
            f"{r['kind']}.{r['id']}.{r['role']}",
            n["kind"],
            escape(rules),
            _local(due),
            escape(n["purpose"]),
        )
    out.print(table)
    for u in result.unresolved:
        out.print(
            f"[yellow]no recipient[/yellow] {escape(u['rule_id'])} {escape(u['action'])} "
            f"({u['recipient']}): {escape(u['reason'])}"
        )
    for e in result.episodes:
        out.print(f"episode {e['episode_id']}: {e['status']}")
    if result.review_items:
        out.print(f"{len(result.review_items)} correlation review item(s) open")


@timers_app.command("run")
def timers_run() -> None:
    """Run a timer scheduler on its own (the worker runs one too; several may run at once)."""
    import signal
    import threading

    from gateway.broker.publisher import ConfirmedPublisher
    from gateway.runtime import build_scheduler, declare_topology, open_store

    s = get_settings()
    logs.configure(s.log_level, s.log_json)
    declare_topology(s)
    engine, sessions = open_store(s)
    publisher = ConfirmedPublisher(
        s.amqp_url, name="gateway-timers-publisher", heartbeat=s.heartbeat_s
    ).start(wait=None)
    scheduler = build_scheduler(s, sessions, publisher, name="gateway-timers")
    thread = scheduler.run_in_thread()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    err.print("[green]timer scheduler running[/green] (Ctrl-C to stop)")
    try:
        stop.wait()
    finally:
        scheduler.stop()
        thread.join(10)
        publisher.close()
        engine.dispose()
