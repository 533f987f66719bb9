"""The file-drop watcher's own guarantees, with fake ingest functions (no broker, no database).

The watcher is generic (any system); it lives with the COMPACT tests because COMPACT's SFTP drop is its
first user. The end-to-end test with the real IngestService belongs to the ingest foundation's suite.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.base import AdapterError, RawInput
from adapters.registry import get_adapter
from gateway.ingest.filedrop import (
    DONE,
    PROCESSING,
    QUARANTINE,
    FileDropWatcher,
    Outcome,
    ingest_via_service,
)
from tests.adapters.compact import variants as v
from tests.adapters.contract import MAPPINGS


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Crash(BaseException):
    """Stands for the process dying (kill -9): nothing in the watcher may catch it."""


class Recorder:
    """An ingest function that records its calls and answers from a script (default: accepted)."""

    def __init__(self, *answers: Outcome | BaseException) -> None:
        self.calls: list[tuple[bytes, str | None, str]] = []
        self.answers = list(answers)

    def __call__(self, body: bytes, content_type: str | None, filename: str) -> Outcome:
        self.calls.append((body, content_type, filename))
        answer = self.answers.pop(0) if self.answers else Outcome.accepted()
        if isinstance(answer, BaseException):
            raise answer
        return answer

    @property
    def names(self) -> list[str]:
        return [name for _, _, name in self.calls]


class IdempotentService:
    """A stand-in for ingest + processor: effects are keyed like idempotency keys, so a repeat is a no-op."""

    def __init__(self) -> None:
        self.effects: dict[str, str] = {}  # key -> file name
        self.deliveries = 0
        self.crash_after_commit_on: str | None = None

    def __call__(self, body: bytes, content_type: str | None, filename: str) -> Outcome:
        self.deliveries += 1
        key = hashlib.sha256(body).hexdigest()
        self.effects.setdefault(key, filename)
        if filename == self.crash_after_commit_on:
            self.crash_after_commit_on = None
            raise Crash("died after the events were accepted, before the file was moved")
        return Outcome.accepted(raw_input_id=str(uuid.uuid4()))


def drop(folder: Path, name: str, body: bytes = b"<x/>") -> Path:
    path = folder / name
    path.write_bytes(body)
    return path


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def watcher(folder: Path, ingest, clock: Clock | None = None, **kwargs) -> FileDropWatcher:  # type: ignore[no-untyped-def]
    return FileDropWatcher(
        folder,
        "compact",
        "staffordshire-police",
        ingest,
        poll_interval=1.0,
        settle=0.0,
        clock=clock or Clock(),
        **kwargs,
    )


def test_a_complete_file_is_taken_on_the_second_look_and_moved_to_done(tmp_path: Path) -> None:
    ingest = Recorder()
    drop(tmp_path, "a.xml", b"<a/>")
    with watcher(tmp_path, ingest) as w:
        first = w.poll_once()
        assert (first.processed, first.waiting, ingest.calls) == (0, 1, [])
        second = w.poll_once()
        assert second.processed == 1
    assert ingest.calls == [(b"<a/>", "application/xml", "a.xml")]
    assert names(tmp_path / DONE) == ["a.xml"]
    assert names(tmp_path) == [] and names(tmp_path / PROCESSING) == []


def test_partial_and_hidden_files_are_never_taken(tmp_path: Path) -> None:
    ingest = Recorder()
    for name in (".hidden.xml", "a.xml.part", "b.xml.PART", "c.tmp", "d.xml.filepart", "e.TMP"):
        drop(tmp_path, name)
    with watcher(tmp_path, ingest) as w:
        for _ in range(4):
            w.poll_once()
        assert ingest.calls == []
        os.replace(tmp_path / "a.xml.part", tmp_path / "a.xml")  # the upload finished
        w.poll_once()
        w.poll_once()
    assert ingest.names == ["a.xml"]


def test_a_file_still_growing_waits_until_two_looks_agree(tmp_path: Path) -> None:
    ingest = Recorder()
    path = drop(tmp_path, "a.xml", b"<a>")
    with watcher(tmp_path, ingest) as w:
        w.poll_once()
        with open(path, "ab") as f:
            f.write(b"more")
        assert w.poll_once().processed == 0  # changed since the last look
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # same size, touched
        assert w.poll_once().processed == 0
        assert w.poll_once().processed == 1
    assert ingest.calls[0][0] == b"<a>more"


def test_a_file_must_also_be_settled_for_the_settle_time(tmp_path: Path) -> None:
    ingest, clock = Recorder(), Clock()
    drop(tmp_path, "a.xml")
    with FileDropWatcher(tmp_path, "compact", "x", ingest, poll_interval=1.0, settle=5.0, clock=clock) as w:
        w.poll_once()
        clock.now += 1
        assert w.poll_once().processed == 0
        clock.now += 5
        assert w.poll_once().processed == 1


def test_files_are_taken_in_name_order(tmp_path: Path) -> None:
    ingest = Recorder()
    for name in ("b.xml", "c.eml", "a.xml", "a0.json"):
        drop(tmp_path, name)
    with watcher(tmp_path, ingest) as w:
        w.poll_once()
        w.poll_once()
    assert ingest.names == ["a.xml", "a0.json", "b.xml", "c.eml"]
    assert [ct for _, ct, _ in ingest.calls] == [
        "application/xml",
        "application/json",
        "application/xml",
        "message/rfc822",
    ]


def test_a_rejected_file_goes_to_quarantine_with_its_reason(tmp_path: Path) -> None:
    reason = "report MP/2026/001234: Change/ChangeType is Found but the report has no Found section"
    ingest = Recorder(Outcome.rejected(reason, quarantine_id="q-1", raw_input_id="r-1"))
    drop(tmp_path, "bad.xml")
    drop(tmp_path, "good.xml")
    with watcher(tmp_path, ingest) as w:
        w.poll_once()
        w.poll_once()
    assert names(tmp_path / QUARANTINE) == ["bad.xml", "bad.xml.reason"]
    lines = (tmp_path / QUARANTINE / "bad.xml.reason").read_text().splitlines()
    assert lines[0] == reason
    assert "quarantine_id: q-1" in lines and "instance: staffordshire-police" in lines
    assert names(tmp_path / DONE) == ["good.xml"]


def test_unavailable_keeps_the_file_claimed_backs_off_and_keeps_the_order(tmp_path: Path) -> None:
    clock = Clock()
    ingest = Recorder(ConnectionError("broker down"), ConnectionError("broker down"))
    drop(tmp_path, "a.xml", b"<a/>")
    drop(tmp_path, "b.xml", b"<b/>")
    with watcher(tmp_path, ingest, clock, max_backoff=30.0) as w:
        w.poll_once()
        assert w.poll_once().blocked
        assert names(tmp_path / PROCESSING) == ["a.xml"] and names(tmp_path) == ["b.xml"]
        assert w.poll_once().blocked and len(ingest.calls) == 1  # backing off: not even tried
        clock.now += 1.0
        assert w.poll_once().blocked and len(ingest.calls) == 2  # tried again, failed again
        clock.now += 1.0
        assert w.poll_once().blocked and len(ingest.calls) == 2  # the delay doubled
        clock.now += 1.0
        result = w.poll_once()
        assert not result.blocked
    assert ingest.names == ["a.xml", "a.xml", "a.xml", "b.xml"]
    assert names(tmp_path / DONE) == ["a.xml", "b.xml"]


def test_the_back_off_is_capped(tmp_path: Path) -> None:
    clock = Clock()
    ingest = Recorder(*[OSError("db down")] * 20)
    drop(tmp_path, "a.xml")
    with watcher(tmp_path, ingest, clock, max_backoff=8.0) as w:
        w.poll_once()
        for _ in range(10):
            w.poll_once()
            clock.now += 8.0
        assert len(ingest.calls) == 10  # one try per capped interval


def test_a_gateway_side_refusal_is_retried_then_quarantined(tmp_path: Path) -> None:
    clock = Clock()
    ingest = Recorder(*[Outcome.retry("the compact mapping for x is invalid")] * 3)
    drop(tmp_path, "a.xml")
    with watcher(tmp_path, ingest, clock, retry_limit=3) as w:
        for _ in range(12):
            w.poll_once()
            clock.now += 100
    assert len(ingest.calls) == 3
    reason = (tmp_path / QUARANTINE / "a.xml.reason").read_text().splitlines()[0]
    assert reason == "the compact mapping for x is invalid (gave up after 3 attempts)"


def test_restart_after_dying_before_the_ingest_answered_loses_nothing(tmp_path: Path) -> None:
    service = IdempotentService()
    for name in ("a.xml", "b.xml", "c.xml"):
        drop(tmp_path, name, name.encode())
    dying = Recorder(Outcome.accepted(), Crash("killed while b.xml was being sent"))
    first = watcher(tmp_path, dying)
    first.poll_once()
    with pytest.raises(Crash):
        first.poll_once()
    first.close()  # what the kernel does for a dead process: the folder lock goes
    assert names(tmp_path / DONE) == ["a.xml"]
    assert names(tmp_path / PROCESSING) == ["b.xml"]  # claimed, never answered

    with watcher(tmp_path, service) as second:
        second.poll_once()  # processing/ first, then c.xml is seen once
        second.poll_once()
    assert names(tmp_path / DONE) == ["a.xml", "b.xml", "c.xml"]
    assert names(tmp_path / PROCESSING) == [] and names(tmp_path) == []
    assert sorted(service.effects.values()) == ["b.xml", "c.xml"]


def test_restart_after_dying_between_ingest_and_move_does_nothing_twice(tmp_path: Path) -> None:
    service = IdempotentService()
    service.crash_after_commit_on = "b.xml"
    for name in ("a.xml", "b.xml", "c.xml"):
        drop(tmp_path, name, name.encode())
    first = watcher(tmp_path, service)
    first.poll_once()
    with pytest.raises(Crash):
        first.poll_once()
    first.close()
    assert names(tmp_path / PROCESSING) == ["b.xml"]  # accepted, but not yet moved

    with watcher(tmp_path, service) as second:
        second.poll_once()
        second.poll_once()
    # b.xml was delivered twice (at least once), but its effect happened once (the idempotency key).
    assert service.deliveries == 4
    assert sorted(service.effects.values()) == ["a.xml", "b.xml", "c.xml"]
    assert names(tmp_path / DONE) == ["a.xml", "b.xml", "c.xml"]
    assert names(tmp_path / QUARANTINE) == []


def test_one_watcher_per_folder(tmp_path: Path) -> None:
    first = watcher(tmp_path, Recorder())
    with pytest.raises(RuntimeError, match="another watcher"):
        watcher(tmp_path, Recorder())
    first.close()
    watcher(tmp_path, Recorder()).close()


def test_symlinks_are_never_followed(tmp_path: Path) -> None:
    secret = tmp_path.parent / f"{tmp_path.name}-secret.txt"
    secret.write_text("not for the gateway")
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "link.xml").symlink_to(secret)
    ingest = Recorder()
    with watcher(inbox, ingest) as w:
        w.poll_once()
        w.poll_once()
    assert ingest.calls == []


def test_a_re_sent_name_does_not_overwrite_the_first(tmp_path: Path) -> None:
    ingest = Recorder(
        Outcome.accepted(), Outcome.rejected("bad"), Outcome.accepted(), Outcome.rejected("worse")
    )
    with watcher(tmp_path, ingest) as w:
        for body in (b"1", b"2", b"3", b"4"):
            drop(tmp_path, "same.xml", body)
            w.poll_once()
            w.poll_once()
    assert names(tmp_path / DONE) == ["same.xml", "same~1.xml"]
    assert (tmp_path / DONE / "same~1.xml").read_bytes() == b"3"
    assert names(tmp_path / QUARANTINE) == ["same.xml", "same.xml.reason", "same~1.xml", "same~1.xml.reason"]
    assert (tmp_path / QUARANTINE / "same~1.xml.reason").read_text().startswith("worse\n")


def test_a_file_too_large_is_quarantined_unread(tmp_path: Path) -> None:
    ingest = Recorder()
    drop(tmp_path, "big.xml", b"x" * 2048)
    with watcher(tmp_path, ingest, max_file_bytes=1024) as w:
        w.poll_once()
        w.poll_once()
    assert ingest.calls == []
    assert "over the 1024-byte limit" in (tmp_path / QUARANTINE / "big.xml.reason").read_text()


def test_run_until_idle(tmp_path: Path) -> None:
    ingest = Recorder()
    drop(tmp_path, "a.xml")
    w = FileDropWatcher(tmp_path, "compact", "x", ingest, poll_interval=0.01, settle=0.0)
    with w:
        assert w.run(until_idle=True).idle
    assert ingest.names == ["a.xml"]


def test_with_the_real_compact_adapter(tmp_path: Path) -> None:
    """Specimens through the real adapter behind the watcher: good ones to done/, hostile to quarantine/."""
    adapter = get_adapter("compact", MAPPINGS)

    def ingest(body: bytes, content_type: str | None, filename: str) -> Outcome:
        raw = RawInput(body, "staffordshire-police", datetime.now(UTC), content_type, filename)
        try:
            return Outcome.accepted(events=str(len(adapter.parse(raw))))
        except AdapterError as exc:
            return Outcome.rejected(exc.reason)

    drop(tmp_path, "01.xml", (v.COMPACT / v.NEW_REPORT).read_bytes())
    drop(tmp_path, "02-xxe.xml", v.xxe("/etc/passwd"))
    drop(tmp_path, "03.eml", (v.COMPACT / v.EMAIL).read_bytes())
    with watcher(tmp_path, ingest) as w:
        w.poll_once()
        w.poll_once()
    assert names(tmp_path / DONE) == ["01.xml", "03.eml"]
    assert "DOCTYPE" in (tmp_path / QUARANTINE / "02-xxe.xml.reason").read_text()


# --- the adapter to the real IngestService --------------------------------------------------------


class FakeService:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls: list[dict[str, object]] = []

    def ingest(self, system: str, instance: str, body: bytes, **kwargs: object) -> object:
        self.calls.append({"system": system, "instance": instance, **kwargs})
        if self.error:
            raise self.error
        from gateway.ingest.service import IngestResult

        return IngestResult(uuid.uuid4(), [uuid.uuid4(), uuid.uuid4()], [])


def test_ingest_via_service_maps_the_services_answers() -> None:
    from gateway.ingest.service import PublishFailed, Rejected

    ok = FakeService()
    outcome = ingest_via_service(ok, "compact", "staffordshire-police")(b"<x/>", "message/rfc822", "m.eml")
    assert outcome.status == "accepted" and outcome.ids["events"] == "2"
    assert ok.calls[0]["channel"] == "email" and ok.calls[0]["filename"] == "m.eml"
    assert (
        ingest_via_service(ok, "compact", "s")(b"", "application/xml", "a.xml")
        and ok.calls[1]["channel"] == "file"
    )

    qid = uuid.uuid4()
    bad = FakeService(Rejected("no COMPACT export attached", 422, "invalid", qid, uuid.uuid4()))
    outcome = ingest_via_service(bad, "compact", "s")(b"", None, "a.xml")
    assert (outcome.status, outcome.reason, outcome.ids["quarantine_id"]) == (
        "rejected",
        "no COMPACT export attached",
        str(qid),
    )
    broken = FakeService(Rejected("the compact mapping for s is invalid", 500, "mapping_error", None, None))
    assert ingest_via_service(broken, "compact", "s")(b"", None, "a.xml").status == "retry"

    down = FakeService(PublishFailed(uuid.uuid4(), "no confirms"))
    with pytest.raises(PublishFailed):
        ingest_via_service(down, "compact", "s")(b"", None, "a.xml")
