"""File-drop ingest (SFTP folders): watch one folder for one source instance, for any source system.

Layout, all on one filesystem so that every move is an atomic ``os.replace``::

    DIR/                 the sender's job writes complete files here (``*.part``/``*.tmp``/dot-files ignored)
    DIR/processing/      a claimed file, while it is being ingested
    DIR/done/            accepted
    DIR/quarantine/      rejected, each with ``<name>.reason`` holding the reason

Guarantees:

- **Only complete files.** A file is taken when two consecutive polls, at least ``settle`` seconds
  apart, see the same size and modification time; partial-upload names are never taken.
- **Name order.** Files are taken in name order, one at a time (the export jobs name files by time).
- **Nothing lost, at least once.** A file is claimed (moved into ``processing/``) *before* it is
  ingested, and leaves ``processing/`` only after the ingest call answered. A watcher that dies
  mid-way leaves the file in ``processing/``; the next watcher ingests it again before taking anything
  new. Ingesting twice is safe: the adapter gives the same idempotency keys for the same bytes, so the
  processor ignores the repeat, and only a second raw-input row is stored.
- **Unavailable is not rejected.** If the ingest call raises (broker or database down), the file stays
  in ``processing/`` and the watcher backs off exponentially (up to ``max_backoff``) before trying the
  same file again; later files wait behind it so the order holds.
- **One watcher per folder.** ``DIR/.filedrop.lock`` is held with ``flock`` while the watcher lives
  (released by the kernel if the process dies).

Logs name the file and the ids the ingest returned, never the content.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import structlog

log = structlog.get_logger(__name__)

PROCESSING = "processing"
DONE = "done"
QUARANTINE = "quarantine"
LOCK_NAME = ".filedrop.lock"
IGNORED_SUFFIXES = (".part", ".partial", ".filepart", ".tmp", ".temp")
CONTENT_TYPES = {
    ".xml": "application/xml",
    ".eml": "message/rfc822",
    ".json": "application/json",
    ".csv": "text/csv",
}
MAX_FILE_BYTES = 64 * 1024 * 1024
"""Files above this are quarantined without being read (the adapters' own limits are lower)."""


@dataclass(frozen=True)
class Outcome:
    """What became of one file's ingest.

    ``accepted``: the events are with the broker (move to ``done/``). ``rejected``: the input is bad
    (move to ``quarantine/`` with ``reason``). ``retry``: refused for a reason that is not the file's
    fault (a broken mapping, an adapter bug): tried again, at most ``retry_limit`` times, then
    quarantined. An *exception* from the ingest call means "unavailable": retried without limit.
    """

    status: Literal["accepted", "rejected", "retry"]
    reason: str | None = None
    ids: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def accepted(cls, **ids: str) -> Outcome:
        return cls("accepted", None, ids)

    @classmethod
    def rejected(cls, reason: str, **ids: str) -> Outcome:
        return cls("rejected", reason, ids)

    @classmethod
    def retry(cls, reason: str, **ids: str) -> Outcome:
        return cls("retry", reason, ids)


class IngestFn(Protocol):
    """Ingest one file's bytes for the watcher's system and instance."""

    def __call__(self, body: bytes, content_type: str | None, filename: str) -> Outcome: ...


class IngestServiceLike(Protocol):
    """The part of gateway.ingest.service.IngestService the watcher uses."""

    def ingest(
        self,
        system: str,
        instance: str,
        body: bytes,
        *,
        content_type: str | None = None,
        filename: str | None = None,
        headers: Mapping[str, str] | None = None,
        channel: str = "http",
    ) -> Any: ...


def ingest_via_service(service: IngestServiceLike, system: str, instance: str) -> IngestFn:
    """Adapt an IngestService to the watcher: ``Rejected`` → an Outcome, anything else propagates."""
    from gateway.ingest.service import Rejected  # the service pulls in the broker and the store

    def ingest(body: bytes, content_type: str | None, filename: str) -> Outcome:
        try:
            result = service.ingest(
                system,
                instance,
                body,
                content_type=content_type,
                filename=filename,
                channel=channel_for(content_type),
            )
        except Rejected as exc:
            ids = {
                k: str(v)
                for k, v in (("raw_input_id", exc.raw_input_id), ("quarantine_id", exc.quarantine_id))
                if v is not None
            }
            if exc.http_status >= 500:  # the gateway's fault (mapping, adapter), not the file's
                return Outcome.retry(exc.reason, **ids)
            return Outcome.rejected(exc.reason, **ids)
        return Outcome.accepted(raw_input_id=str(result.raw_input_id), events=str(len(result.event_ids)))

    return ingest


def content_type_for(name: str) -> str | None:
    return CONTENT_TYPES.get(Path(name).suffix.lower())


def channel_for(content_type: str | None) -> str:
    """``email`` for a saved message (a mailbox job writing ``.eml`` files here), else ``file``."""
    return "email" if content_type == "message/rfc822" else "file"


def is_ignored(name: str) -> bool:
    """Dot-files and the names upload tools give a file while it is still being written."""
    return name.startswith(".") or name.lower().endswith(IGNORED_SUFFIXES)


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable across a power cut (POSIX); best effort elsewhere."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _free_name(directory: Path, name: str) -> str:
    """``name``, or ``stem~N.suffix`` if a file of that name is already there (a re-sent file)."""
    if not (directory / name).exists():
        return name
    path = Path(name)
    for n in range(1, 100_000):
        candidate = f"{path.stem}~{n}{path.suffix}"
        if not (directory / candidate).exists():
            return candidate
    raise FileExistsError(f"no free name for {name} in {directory}")


@dataclass
class PollResult:
    processed: int = 0
    waiting: int = 0  # seen but not yet stable
    blocked: bool = False  # a transient failure: backing off

    @property
    def idle(self) -> bool:
        return self.processed == 0 and self.waiting == 0 and not self.blocked


class FileDropWatcher:
    def __init__(
        self,
        directory: Path | str,
        system: str,
        instance: str,
        ingest: IngestFn | Callable[[bytes, str | None, str], Outcome],
        *,
        poll_interval: float = 2.0,
        settle: float | None = None,
        max_backoff: float = 300.0,
        retry_limit: int = 5,
        max_file_bytes: int = MAX_FILE_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.directory = Path(directory)
        self.system = system
        self.instance = instance
        self._ingest = ingest
        self.poll_interval = poll_interval
        self.settle = poll_interval if settle is None else settle
        self.max_backoff = max_backoff
        self.retry_limit = retry_limit
        self.max_file_bytes = max_file_bytes
        self._clock = clock
        self._stop = threading.Event()
        # name -> (size, mtime_ns, clock time these were first seen): two looks that agree = complete
        self._seen: dict[str, tuple[int, int, float]] = {}
        self._failures = 0
        self._next_attempt = 0.0
        self._retries: dict[str, int] = {}
        if not self.directory.is_dir():
            raise NotADirectoryError(f"{self.directory} is not a directory")
        for sub in (PROCESSING, DONE, QUARANTINE):
            (self.directory / sub).mkdir(exist_ok=True)
        self._lock_fd: int | None = self._lock()

    # --- lifecycle ---------------------------------------------------------------------
    def _lock(self) -> int | None:
        try:
            import fcntl
        except ImportError:  # not POSIX: one watcher per folder is then the operator's job
            return None
        fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise RuntimeError(f"another watcher is already watching {self.directory}") from None
        return fd

    def close(self) -> None:
        self._stop.set()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def __enter__(self) -> FileDropWatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stop(self) -> None:
        """Ask :meth:`run` to return after the file in hand (safe from a signal handler)."""
        self._stop.set()

    def run(self, *, until_idle: bool = False) -> PollResult:
        """Poll until :meth:`stop`; with ``until_idle``, return once nothing is left to take or a
        transient failure makes the watcher back off (the returned result says which)."""
        result = PollResult()
        while not self._stop.is_set():
            try:
                result = self.poll_once()
            except OSError as exc:
                # A folder briefly unavailable (network share, permissions being fixed) must not end
                # the watcher: whatever was claimed is still in processing/ and is retried.
                log.error(
                    "filedrop.poll_failed",
                    system=self.system,
                    instance=self.instance,
                    error=type(exc).__name__,
                )
                self._back_off()
                result = PollResult(blocked=True)
            if until_idle and (result.idle or result.blocked):
                break
            wait = max(self.poll_interval, self._next_attempt - self._clock())
            self._stop.wait(wait)
        return result

    # --- one pass ----------------------------------------------------------------------
    def poll_once(self) -> PollResult:
        """Finish what a previous run left in ``processing/``, then take each stable file in name order."""
        result = PollResult()
        if self._clock() < self._next_attempt:
            result.blocked = True
            return result
        for name in sorted(p.name for p in (self.directory / PROCESSING).iterdir() if p.is_file()):
            if self._stop.is_set():
                return result
            if not self._process(name):
                result.blocked = True
                return result
            result.processed += 1
        stable, waiting = self._observe()
        result.waiting = waiting
        for name in stable:
            if self._stop.is_set():
                break
            claimed = self._claim(name)
            if claimed is None:
                continue
            if not self._process(claimed):
                result.blocked = True
                return result
            result.processed += 1
        return result

    def _observe(self) -> tuple[list[str], int]:
        now = self._clock()
        current: dict[str, tuple[int, int, float]] = {}
        stable: list[str] = []
        with os.scandir(self.directory) as entries:
            for entry in entries:
                # Symlinks are never followed: a link dropped in the folder must not read other files.
                if is_ignored(entry.name) or not entry.is_file(follow_symlinks=False):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                before = self._seen.get(entry.name)
                if before is not None and before[:2] == (st.st_size, st.st_mtime_ns):
                    current[entry.name] = before
                    if now - before[2] >= self.settle:
                        stable.append(entry.name)
                else:
                    current[entry.name] = (st.st_size, st.st_mtime_ns, now)
        self._seen = current
        return sorted(stable), len(current) - len(stable)

    def _claim(self, name: str) -> str | None:
        """Move ``name`` into ``processing/`` before anything is sent, so a crash cannot lose it."""
        target = _free_name(self.directory / PROCESSING, name)
        try:
            os.replace(self.directory / name, self.directory / PROCESSING / target)
        except FileNotFoundError:  # taken away (or by another process) since it was seen
            self._seen.pop(name, None)
            return None
        self._seen.pop(name, None)
        _fsync_dir(self.directory / PROCESSING)
        log.info("filedrop.claimed", system=self.system, instance=self.instance, file=name)
        return target

    def _process(self, name: str) -> bool:
        """Ingest ``processing/name``; True when it has left ``processing/``, False to retry later."""
        path = self.directory / PROCESSING / name
        try:
            size = path.stat().st_size
            if size > self.max_file_bytes:
                self._quarantine(
                    name,
                    f"file is {size} bytes, over the {self.max_file_bytes}-byte limit "
                    "of the file-drop watcher",
                    {},
                )
                return True
            body = path.read_bytes()
        except FileNotFoundError:
            log.warning("filedrop.vanished", system=self.system, instance=self.instance, file=name)
            return True
        except OSError as exc:
            log.error(
                "filedrop.unreadable",
                system=self.system,
                instance=self.instance,
                file=name,
                error=type(exc).__name__,
            )
            self._back_off()
            return False
        try:
            outcome = self._ingest(body, content_type_for(name), name)
        except Exception as exc:
            # Not a rejection: the broker or the database is unavailable. Only the type is logged,
            # as an exception's text might quote the input.
            log.warning(
                "filedrop.ingest_unavailable",
                system=self.system,
                instance=self.instance,
                file=name,
                error=type(exc).__name__,
                failures=self._failures + 1,
            )
            self._back_off()
            return False
        if outcome.status == "accepted":
            self._move(name, DONE)
            log.info(
                "filedrop.accepted",
                system=self.system,
                instance=self.instance,
                file=name,
                **dict(outcome.ids),
            )
        elif outcome.status == "rejected":
            self._quarantine(name, outcome.reason or "rejected", outcome.ids)
        else:
            attempts = self._retries.get(name, 0) + 1
            if attempts < self.retry_limit:
                self._retries[name] = attempts
                log.warning(
                    "filedrop.retry",
                    system=self.system,
                    instance=self.instance,
                    file=name,
                    attempts=attempts,
                    **dict(outcome.ids),
                )
                self._back_off()
                return False
            self._quarantine(
                name, f"{outcome.reason or 'refused'} (gave up after {attempts} attempts)", outcome.ids
            )
        self._retries.pop(name, None)
        self._failures = 0
        self._next_attempt = 0.0
        return True

    # --- moves -------------------------------------------------------------------------
    def _move(self, name: str, folder: str) -> str:
        target = _free_name(self.directory / folder, name)
        os.replace(self.directory / PROCESSING / name, self.directory / folder / target)
        _fsync_dir(self.directory / folder)
        return target

    def _quarantine(self, name: str, reason: str, ids: Mapping[str, str]) -> None:
        folder = self.directory / QUARANTINE
        target = _free_name(folder, name)
        lines = [
            " ".join(reason.split()),
            f"system: {self.system}",
            f"instance: {self.instance}",
            f"file: {name}",
            f"at: {datetime.now(UTC).isoformat(timespec='seconds')}",
            *(f"{key}: {value}" for key, value in ids.items()),
        ]
        # The reason is written before the file moves: a crash in between leaves the file in
        # processing/ (re-ingested on restart, reason rewritten), never a quarantined file without one.
        temporary = folder / f".{target}.reason.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, folder / f"{target}.reason")
        os.replace(self.directory / PROCESSING / name, folder / target)
        _fsync_dir(folder)
        log.warning(
            "filedrop.quarantined", system=self.system, instance=self.instance, file=name, **dict(ids)
        )

    def _back_off(self) -> None:
        self._failures += 1
        delay = min(self.max_backoff, self.poll_interval * (2 ** min(self._failures - 1, 16)))
        self._next_attempt = self._clock() + delay
