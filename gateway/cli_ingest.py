"""``gateway ingest`` and ``gateway watch``: feed a file, or a file-drop folder, to any registered adapter.

Mounted into the main command with ``app.add_typer(cli_ingest.app)`` (no name: the two commands join
the top level). ``ingest --dry-run`` needs neither a broker nor a database: it runs the adapter and
prints the canonical events, which is how an integration team checks a mapping. Everything else
imports the ingest service lazily, so ``--dry-run`` works on a laptop with nothing running.

Exit codes: 0 done; 1 configuration error (bad mapping file, folder already watched); 2 the input was
rejected (reason on stderr) or the system/instance is unknown; 3 accepted input could not reach the
broker or database (try again), or ``watch --once`` stopped with files still waiting.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from adapters.base import AdapterError
from gateway import logs
from gateway.ingest.filedrop import FileDropWatcher, channel_for, content_type_for, ingest_via_service
from gateway.settings import Settings, get_settings

app = typer.Typer(help="Ingest files from the command line or a file-drop folder", no_args_is_help=True)
err = Console(stderr=True)

EXIT_CONFIG = 1
EXIT_REJECTED = 2
EXIT_UNAVAILABLE = 3

SystemArg = Annotated[str, typer.Argument(help="source system: compact, manual, mosaic, liquidlogic, ...")]
InstanceOpt = Annotated[
    str,
    typer.Option("--instance", "-i", help="deployment, e.g. staffordshire-police (selects the mapping file)"),
]


def _setup_logging() -> None:
    s = get_settings()
    logs.configure(s.log_level, s.log_json)  # logs go to stderr, so stdout stays pure JSON


def _fail(code: int, message: str) -> typer.Exit:
    err.print(message, markup=False, highlight=False)
    return typer.Exit(code)


def _summary(event: Any) -> str:
    """Ids, codes and times only: nothing about the child."""
    quality = ", ".join(sorted({q.field for q in event.data_quality}))
    line = (
        f"{event.event_type.value:<24} {event.source.record_id}  occurred {event.occurred_at.isoformat()}  "
        f"key {event.idempotency_key}"
    )
    return f"{line}  data_quality: {quality}" if quality else line


def _open_service(settings: Settings, build: Callable[[Settings], Any]) -> Any:
    try:
        return build(settings)
    except Exception as exc:  # broker or database unreachable at start-up
        raise _fail(EXIT_UNAVAILABLE, f"cannot start the ingest service ({type(exc).__name__})") from None


@app.command("ingest")
def ingest_command(
    system: SystemArg,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="the input file")],
    instance: InstanceOpt,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="only map and print the events: no broker, no database")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON (the events with --dry-run)")] = False,
    content_type: Annotated[
        str | None, typer.Option("--content-type", help="media type, if the file name does not say")
    ] = None,
    mappings: Annotated[
        Path | None,
        typer.Option("--mappings", help="with --dry-run: mappings directory (default: GATEWAY_MAPPINGS_DIR)"),
    ] = None,
) -> None:
    """Ingest FILE as SYSTEM input for INSTANCE; with --dry-run, print the canonical events instead."""
    _setup_logging()
    settings = get_settings()
    body = file.read_bytes()
    media_type = content_type or content_type_for(file.name)
    if dry_run:
        _dry_run(system, instance, body, media_type, file.name, mappings or settings.mappings_dir, as_json)
        return
    from gateway.ingest.service import PublishFailed, Rejected, build_ingest_service

    settings.check_production()
    service = _open_service(settings, build_ingest_service)
    try:
        result = service.ingest(
            system,
            instance,
            body,
            content_type=media_type,
            filename=file.name,
            channel=channel_for(media_type),
        )
    except Rejected as exc:
        raise _fail(EXIT_REJECTED, f"rejected ({exc.code}, HTTP {exc.http_status}): {exc.reason}") from None
    except PublishFailed as exc:
        raise _fail(
            EXIT_UNAVAILABLE,
            f"stored as raw input {exc.raw_input_id} but not accepted by the broker: try again",
        ) from None
    except Exception as exc:  # database or broker down: only the type, an error's text may quote data
        raise _fail(EXIT_UNAVAILABLE, f"gateway unavailable ({type(exc).__name__}): try again") from None
    finally:
        service.close()
    if as_json:
        typer.echo(
            json.dumps(
                {"raw_input_id": str(result.raw_input_id), "event_ids": [str(i) for i in result.event_ids]}
            )
        )
    else:
        typer.echo(f"accepted: raw input {result.raw_input_id}, {len(result.event_ids)} event(s)")


def _dry_run(
    system: str,
    instance: str,
    body: bytes,
    media_type: str | None,
    filename: str,
    mappings: Path,
    as_json: bool,
) -> None:
    from adapters.base import RawInput
    from adapters.mapping import MappingFileError
    from adapters.registry import get_adapter

    raw = RawInput(
        body=body,
        instance=instance,
        received_at=datetime.now(UTC),
        content_type=media_type,
        filename=filename,
    )
    try:
        # No authenticate(): a signature belongs to a live delivery, not to a file on disk.
        events = get_adapter(system, mappings).parse(raw)
    except AdapterError as exc:
        raise _fail(EXIT_REJECTED, f"rejected ({exc.code}, HTTP {exc.http_status}): {exc.reason}") from None
    except MappingFileError as exc:
        raise _fail(EXIT_CONFIG, f"mapping file error: {exc}") from None
    if as_json:
        docs = [json.loads(e.model_dump_json(by_alias=True, exclude_none=True)) for e in events]
        typer.echo(json.dumps(docs, indent=2, ensure_ascii=False))
        return
    for event in events:
        typer.echo(_summary(event))
    if not events:
        typer.echo("no events (valid input that carries no missing-episode change)")


@app.command("watch")
def watch_command(
    system: SystemArg,
    directory: Annotated[
        Path, typer.Argument(exists=True, file_okay=False, help="the folder the sender writes files into")
    ],
    instance: InstanceOpt,
    interval: Annotated[float, typer.Option("--interval", min=0.05, help="seconds between polls")] = 2.0,
    once: Annotated[
        bool, typer.Option("--once", help="take what is complete, then exit (3 if anything is left)")
    ] = False,
) -> None:
    """Watch DIRECTORY and ingest each complete file as SYSTEM input for INSTANCE (moves it to done/ or
    quarantine/ with a .reason file)."""
    from adapters.mapping import mapping_path
    from adapters.registry import available

    _setup_logging()
    settings = get_settings()
    if system not in available():
        raise _fail(
            EXIT_REJECTED, f"no adapter for source system {system!r}; known: {', '.join(available())}"
        )
    try:
        mapping = mapping_path(settings.mappings_dir, system, instance)
    except AdapterError as exc:
        raise _fail(EXIT_REJECTED, exc.reason) from None
    if not mapping.is_file():
        raise _fail(EXIT_REJECTED, f"no {system} mapping for instance {instance!r} ({mapping} is missing)")
    settings.check_production()
    from gateway.ingest.service import build_ingest_service

    service = _open_service(settings, build_ingest_service)
    try:
        try:
            from adapters.registry import get_adapter

            ingest = get_adapter(system, settings.mappings_dir).for_file_drop(
                ingest_via_service(service, system, instance), directory, instance
            )
            watcher = FileDropWatcher(directory, system, instance, ingest, poll_interval=interval)
        except RuntimeError as exc:
            raise _fail(EXIT_CONFIG, str(exc)) from None
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        with watcher:
            for sig in previous:
                # Stop after the file in hand: it is then in done/ or quarantine/, or still in processing/.
                signal.signal(sig, lambda *_: watcher.stop())
            try:
                err.print(f"watching {directory} for {system}/{instance} (Ctrl-C to stop)", markup=False)
                result = watcher.run(until_idle=once)
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
    finally:
        service.close()
    if once and not result.idle:
        raise _fail(EXIT_UNAVAILABLE, "stopped with files still waiting (see the log)")
