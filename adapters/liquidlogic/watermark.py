"""What the CSV file-drop has already delivered, so a re-read file or an overlapping delta creates
nothing twice (``gateway watch liquidlogic DIR``).

The state is a small JSON file in the watch directory (``.liquidlogic-watermark.json``), per
instance: the highest MODIFIED_DTTM delivered (the high-water mark) and the key of every row delivered
within ``retention`` of it. A row key is the row's id, its MODIFIED_DTTM and a digest of its content
(:meth:`LcsRecord.row_key`), the same tail as the event's idempotency key.

Protocol (README "Watermark"): ``fresh = filter_new_rows(data, state_path, instance=...)``; ingest
``fresh``; only once the ingest succeeded, ``commit_watermark(fresh, state_path, instance=...)``. A crash
between the two re-delivers the rows next time, which the idempotency keys make harmless: the watermark
can only ever err towards delivering twice, never towards losing a row.

Why rows are remembered by key and not dropped for being older than the high-water mark: a warehouse
load that runs late can bring a change with an older MODIFIED_DTTM after a newer one has been seen.
Dropping it for its age would lose a missing-child report without trace; delivering it costs nothing.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import structlog

from adapters.base import AdapterError
from adapters.common.times import iso_z
from adapters.liquidlogic.csv_extract import Table, read_record, read_table, to_row

log = structlog.get_logger(__name__)

STATE_FILE = ".liquidlogic-watermark.json"
STATE_VERSION = 1
DEFAULT_INSTANCE = "default"
DEFAULT_RETENTION = timedelta(days=45)


def default_state_path(watch_dir: Path) -> Path:
    """Where the watcher keeps the state: a dot-file, so it is never taken for an input file."""
    return watch_dir / STATE_FILE


@dataclass(frozen=True)
class FilterResult:
    body: bytes  # header + the rows not delivered before; the input unchanged when passthrough
    new_rows: int
    dropped_rows: int
    passthrough: bool  # not a readable CSV delta: hand it to ingest as it is, the adapter says why


@dataclass(frozen=True)
class _Keyed:
    key: str
    changed_at: datetime


class LiquidlogicWatermark:
    def __init__(
        self, state_path: Path, instance: str = DEFAULT_INSTANCE, retention: timedelta = DEFAULT_RETENTION
    ):
        self.state_path = Path(state_path)
        self.instance = instance
        self.retention = retention

    # --- reading a file -----------------------------------------------------------------------
    @staticmethod
    def _keyed(csv_bytes: bytes) -> tuple[Table, list[_Keyed]] | None:
        """Every row's key, or None when the file is not a readable delta (an XML notification, a broken
        CSV): such input is passed through untouched so that the adapter rejects it with its reason and
        line numbers that match the file."""
        try:
            table = read_table(csv_bytes)
            keyed = []
            for line, raw in table.rows:
                rec = read_record(to_row(table, line, raw))
                keyed.append(_Keyed(rec.row_key(), rec.changed_at))
        except AdapterError:
            return None
        return table, keyed

    def filter(self, csv_bytes: bytes) -> FilterResult:
        parsed = self._keyed(csv_bytes)
        if parsed is None:
            return FilterResult(csv_bytes, 0, 0, True)
        table, keyed = parsed
        state = self._load().get(self.instance, {})
        seen: dict[str, str] = state.get("seen", {})
        horizon = _horizon(state, self.retention)
        keep: list[list[str]] = []
        dropped = late = 0
        in_file: set[str] = set()
        for (_, raw), row in zip(table.rows, keyed, strict=True):
            if row.key in seen or row.key in in_file:
                dropped += 1
                continue
            if horizon is not None and row.changed_at < horizon:
                late += 1
            in_file.add(row.key)
            keep.append(raw)
        if late:
            log.warning(
                "liquidlogic.watermark.rows_older_than_retention",
                instance=self.instance,
                rows=late,
                note="delivered anyway; idempotency keys stop repeats",
            )
        log.info(
            "liquidlogic.watermark.filtered", instance=self.instance, new_rows=len(keep), dropped=dropped
        )
        return FilterResult(_write_csv(table.raw_header, keep), len(keep), dropped, False)

    # --- after a successful ingest --------------------------------------------------------------
    def commit(self, ingested_csv_bytes: bytes) -> None:
        """Remember the rows of ``ingested_csv_bytes`` (the bytes ``filter`` returned and ingest
        accepted). Call it only after the ingest succeeded."""
        parsed = self._keyed(ingested_csv_bytes)
        if parsed is None or not parsed[1]:
            return
        with self._locked():
            states = self._load(quarantine_corrupt=True)
            state = states.setdefault(self.instance, {})
            seen: dict[str, str] = dict(state.get("seen", {}))
            for row in parsed[1]:
                seen[row.key] = iso_z(row.changed_at)
            high = max(
                [_parse(state.get("high_water"))] + [r.changed_at for r in parsed[1]],
                key=lambda t: t or datetime.min.replace(tzinfo=UTC),
            )
            assert high is not None
            horizon = high - self.retention
            state["high_water"] = iso_z(high)
            # Keys are kept while they are within retention of the high-water mark, not of the clock,
            # so a feed that pauses for a month does not forget what it delivered before the pause.
            state["seen"] = {k: t for k, t in sorted(seen.items()) if (_parse(t) or high) >= horizon}
            state["updated_at"] = iso_z(datetime.now(UTC))
            self._save(states)
        log.info(
            "liquidlogic.watermark.committed",
            instance=self.instance,
            rows=len(parsed[1]),
            high_water=state["high_water"],
        )

    # --- state file -------------------------------------------------------------------------------
    def _load(self, *, quarantine_corrupt: bool = False) -> dict[str, Any]:
        try:
            doc = json.loads(self.state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            return self._corrupt(f"unreadable ({type(exc).__name__})", quarantine_corrupt)
        if (
            not isinstance(doc, dict)
            or doc.get("version") != STATE_VERSION
            or not isinstance(doc.get("instances"), dict)
        ):
            return self._corrupt("not a watermark state file", quarantine_corrupt)
        instances: dict[str, Any] = {}
        for name, state in doc["instances"].items():
            if isinstance(state, dict) and isinstance(state.get("seen", {}), dict):
                instances[name] = state
        return instances

    def _corrupt(self, why: str, quarantine: bool) -> dict[str, Any]:
        # Forgetting means delivering again, which idempotency keys make harmless; refusing to run would
        # stop every missing-child report in the folder. So: keep going, keep the evidence, shout.
        log.error("liquidlogic.watermark.state_corrupt", path=str(self.state_path), problem=why)
        if quarantine:
            aside = self.state_path.with_name(
                f"{self.state_path.name}.corrupt-{datetime.now(UTC):%Y%m%dT%H%M%S}"
            )
            with contextlib.suppress(OSError):
                os.replace(self.state_path, aside)
        return {}

    def _save(self, instances: dict[str, Any]) -> None:
        doc = {"version": STATE_VERSION, "instances": instances}
        directory = self.state_path.parent
        fd, tmp = tempfile.mkstemp(prefix=f".{self.state_path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, indent=1, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.state_path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        with contextlib.suppress(OSError):  # make the rename itself durable
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Two watchers on one folder must not lose each other's rows: read-merge-write under a lock."""
        lock_path = self.state_path.with_name(self.state_path.name + ".lock")
        with open(lock_path, "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _parse(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _horizon(state: dict[str, Any], retention: timedelta) -> datetime | None:
    high = _parse(state.get("high_water"))
    return high - retention if high else None


def _write_csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def filter_new_rows(csv_bytes: bytes, state_path: Path, *, instance: str = DEFAULT_INSTANCE) -> bytes:
    """The CSV with the rows already delivered removed (header kept; a header-only result means nothing
    new). Input that is not a readable CSV delta is returned unchanged for the adapter to reject."""
    return LiquidlogicWatermark(state_path, instance).filter(csv_bytes).body


def commit_watermark(
    ingested_csv_bytes: bytes, state_path: Path, *, instance: str = DEFAULT_INSTANCE
) -> None:
    """Record the rows of ``ingested_csv_bytes`` as delivered. Call only after the ingest succeeded."""
    LiquidlogicWatermark(state_path, instance).commit(ingested_csv_bytes)


Outcome = TypeVar("Outcome")
IngestCall = Callable[[bytes, str | None, str], Outcome]


def watermarked(ingest: IngestCall[Outcome], state_path: Path, *, instance: str) -> IngestCall[Outcome]:
    """Wrap a file-drop ingest call ``(body, content_type, filename) -> outcome`` with the watermark:
    rows already delivered are taken out before the call, and the rows sent are remembered only when
    the outcome's ``status`` is ``"accepted"``. A rejected or failed ingest remembers nothing, so the
    rows are offered again with the next file or retry."""

    def call(body: bytes, content_type: str | None, filename: str) -> Outcome:
        mark = LiquidlogicWatermark(state_path, instance)
        fresh = mark.filter(body)
        outcome = ingest(fresh.body, content_type, filename)
        if getattr(outcome, "status", None) == "accepted" and not fresh.passthrough:
            try:
                mark.commit(fresh.body)
            except OSError as exc:
                # The events are already with the broker; failing here would only make the watcher retry
                # a file that succeeded. Forgetting costs a harmless re-delivery, so log and carry on.
                log.error("liquidlogic.watermark.commit_failed", instance=instance, error=type(exc).__name__)
        return outcome

    return call
