"""``gateway ingest`` / ``gateway watch`` (gateway/cli_ingest.py), without a broker or database."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from gateway import cli_ingest
from gateway.ingest.filedrop import DONE, QUARANTINE
from tests.adapters.compact import variants as v

runner = CliRunner()


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The commands configure logging onto the runner's stderr, which is closed after each invoke."""
    handlers, level = list(logging.root.handlers), logging.root.level
    yield
    structlog.reset_defaults()
    logging.root.handlers[:] = handlers
    logging.root.setLevel(level)


def invoke(*args: str | Path):  # type: ignore[no-untyped-def]
    return runner.invoke(cli_ingest.app, [str(a) for a in args])


def test_dry_run_prints_the_canonical_events_as_json() -> None:
    result = invoke(
        "ingest", "compact", v.COMPACT / v.DELTA, "--instance", "staffordshire-police", "--dry-run", "--json"
    )
    assert result.exit_code == 0, result.stderr
    events = json.loads(result.stdout)
    assert [e["event_type"] for e in events] == ["closed", "reported", "found"]
    assert all(e["schema"] == "missing-episode-event/1" for e in events)  # by alias
    assert "null" not in result.stdout  # exclude_none


def test_dry_run_takes_an_eml() -> None:
    result = invoke(
        "ingest", "compact", v.COMPACT / v.EMAIL, "-i", "staffordshire-police", "--dry-run", "--json"
    )
    assert result.exit_code == 0, result.stderr
    [event] = json.loads(result.stdout)
    assert (event["event_type"], event["source"]["event_id"]) == ("found", "AUD-88411902")


def test_dry_run_works_for_any_registered_system() -> None:
    example = Path(cli_ingest.__file__).parents[1] / "examples" / "canonical-event.json"
    result = invoke("ingest", "manual", example, "--instance", "demo", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)[0]["source"]["record_id"] == "DEMO/2026/0001"


def test_the_summary_names_ids_not_the_child() -> None:
    result = invoke("ingest", "compact", v.COMPACT / v.CANCELLED, "-i", "staffordshire-police", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "cancelled" in result.stdout and "MP/2026/001241" in result.stdout
    assert "child.ids.nhs_number" in result.stdout  # the data-quality field, not a value
    assert "Oliver" not in result.stdout and "Brandwood" not in result.stdout


def test_a_rejection_exits_2_with_the_reason_on_stderr(tmp_path: Path) -> None:
    bad = tmp_path / "xxe.xml"
    bad.write_bytes(v.xxe("/etc/passwd"))
    result = invoke("ingest", "compact", bad, "--instance", "staffordshire-police", "--dry-run", "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "hostile" in result.stderr and "DOCTYPE" in result.stderr


def test_an_unknown_system_or_instance_exits_2() -> None:
    for system, instance in (("nosuch", "staffordshire-police"), ("compact", "atlantis-police")):
        result = invoke("ingest", system, v.COMPACT / v.NEW_REPORT, "-i", instance, "--dry-run")
        assert result.exit_code == 2
        assert result.stderr


# --- with a (fake) ingest service ------------------------------------------------------------------------


class FakeService:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.closed = False
        self.calls: list[tuple[str, str, bytes, dict[str, object]]] = []

    def ingest(self, system: str, instance: str, body: bytes, **kwargs: object) -> object:
        self.calls.append((system, instance, body, kwargs))
        if self.error:
            raise self.error
        from gateway.ingest.service import IngestResult

        return IngestResult(uuid.uuid4(), [uuid.uuid4()], [])

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> FakeService:
    import gateway.ingest.service as ingest_service

    fake = FakeService()
    monkeypatch.setattr(ingest_service, "build_ingest_service", lambda settings: fake)
    return fake


def test_ingest_sends_the_file_through_the_service(service: FakeService) -> None:
    result = invoke("ingest", "compact", v.COMPACT / v.EMAIL, "-i", "staffordshire-police", "--json")
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)["event_ids"]) == 1
    system, instance, body, kwargs = service.calls[0]
    assert body == (v.COMPACT / v.EMAIL).read_bytes()
    assert (system, instance, kwargs["content_type"], kwargs["channel"]) == (
        "compact",
        "staffordshire-police",
        "message/rfc822",
        "email",
    )
    assert service.closed


def test_ingest_exit_codes_for_rejected_and_unavailable(service: FakeService) -> None:
    from gateway.ingest.service import PublishFailed, Rejected

    service.error = Rejected("no COMPACT export attached", 422, "invalid", uuid.uuid4(), uuid.uuid4())
    result = invoke("ingest", "compact", v.COMPACT / v.NEW_REPORT, "-i", "staffordshire-police")
    assert (result.exit_code, "no COMPACT export attached" in result.stderr) == (2, True)
    service.error = PublishFailed(uuid.uuid4(), "no confirms")
    result = invoke("ingest", "compact", v.COMPACT / v.NEW_REPORT, "-i", "staffordshire-police")
    assert result.exit_code == 3 and "try again" in result.stderr
    assert service.closed


def test_watch_once_moves_files_and_closes_the_service(tmp_path: Path, service: FakeService) -> None:
    from gateway.ingest.service import Rejected

    (tmp_path / "a.xml").write_bytes((v.COMPACT / v.NEW_REPORT).read_bytes())
    result = invoke(
        "watch", "compact", tmp_path, "--instance", "staffordshire-police", "--interval", "0.05", "--once"
    )
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / DONE / "a.xml").is_file()
    assert service.closed and service.calls[0][3]["channel"] == "file"

    service.error = Rejected("report MP/2026/001187: bad", 422, "invalid", uuid.uuid4(), uuid.uuid4())
    (tmp_path / "b.xml").write_bytes(b"<x/>")
    result = invoke(
        "watch", "compact", tmp_path, "-i", "staffordshire-police", "--interval", "0.05", "--once"
    )
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / QUARANTINE / "b.xml.reason").read_text().startswith("report MP/2026/001187: bad\n")


def test_watch_once_exits_3_while_the_broker_is_down(tmp_path: Path, service: FakeService) -> None:
    service.error = ConnectionError("broker down")
    (tmp_path / "a.xml").write_bytes(b"<x/>")
    result = invoke(
        "watch", "compact", tmp_path, "-i", "staffordshire-police", "--interval", "0.05", "--once"
    )
    assert result.exit_code == 3
    assert (tmp_path / "processing" / "a.xml").is_file()


def test_watch_refuses_an_unknown_instance_before_connecting(tmp_path: Path, service: FakeService) -> None:
    result = invoke("watch", "compact", tmp_path, "-i", "atlantis-police", "--once")
    assert result.exit_code == 2 and "atlantis-police" in result.stderr
    assert not service.calls and not service.closed


def test_a_broker_down_at_start_up_exits_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gateway.ingest.service as ingest_service

    def refuse(settings: object) -> object:
        raise ConnectionRefusedError("amqp://guest:guest@localhost")

    monkeypatch.setattr(ingest_service, "build_ingest_service", refuse)
    for args in (("watch", "compact", tmp_path), ("ingest", "compact", v.COMPACT / v.NEW_REPORT)):
        result = invoke(*args, "-i", "staffordshire-police")
        assert result.exit_code == 3
        assert "ConnectionRefusedError" in result.stderr and "guest" not in result.stderr
