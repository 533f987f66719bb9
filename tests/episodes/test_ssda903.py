"""The SSDA903 missing table against hand-checked rows, and the DfE rules on it."""

from __future__ import annotations

from datetime import date

from typer.testing import CliRunner

from gateway.cli import app
from gateway.episodes.ssda903 import Row, check, export
from tests.episodes.conftest import Harness, ev


def lac(la_id: str, nhs: str, dob: str = "2011-05-01", **care: object) -> dict:
    return {
        "child": {
            "given_name": "X",
            "date_of_birth": dob,
            "ids": {"nhs_number": nhs, "la_ids": [{"la_code": "886", "id": la_id}]},
        },
        "care": {"looked_after": True, "responsible_la": "886", "host_la": "860", **care},
    }


def build(harness: Harness) -> None:
    # K1: missing 2 April 19:30 BST → found 3 April (a BST date either side of midnight UTC).
    harness.process(
        ev(
            "compact",
            "staffordshire-police",
            "R1",
            occurred_at="2026-04-02T21:00:00Z",
            episode={"category": "missing", "last_seen_at": "2026-04-02T18:30:00Z"},
            **lac("K1", "9996501388"),
        ),
        ev(
            "compact",
            "staffordshire-police",
            "R1",
            "found",
            occurred_at="2026-04-03T09:00:00Z",
            episode={"found_at": "2026-04-03T09:00:00Z"},
            **lac("K1", "9996501388"),
        ),
    )
    # K1 again, last seen 23:30 UTC on 9 April = 00:30 BST on 10 April; still open.
    harness.process(
        ev(
            "compact",
            "staffordshire-police",
            "R2",
            occurred_at="2026-04-10T01:00:00Z",
            episode={"category": "missing", "last_seen_at": "2026-04-09T23:30:00Z"},
            **lac("K1", "9996501388"),
        )
    )
    # K2: away from placement without authorisation (whereabouts known), winter time.
    harness.process(
        ev(
            "liberi",
            "kent-liberi",
            "P9",
            occurred_at="2026-01-15T12:00:00Z",
            episode={"category": "away_without_authorisation", "last_seen_at": "2026-01-15T10:00:00Z"},
            **lac("K2", "9993981435", dob="2010-02-02"),
        ),
        ev(
            "liberi",
            "kent-liberi",
            "P9",
            "found",
            occurred_at="2026-01-16T12:00:00Z",
            episode={"found_at": "2026-01-16T12:00:00Z"},
            **lac("K2", "9993981435", dob="2010-02-02"),
        ),
    )
    # Not exported: not looked after; another LA's child; outside the period.
    harness.process(
        ev(
            "compact",
            "staffordshire-police",
            "R3",
            occurred_at="2026-04-05T12:00:00Z",
            episode={"last_seen_at": "2026-04-05T10:00:00Z"},
            child={"given_name": "Y", "ids": {"nhs_number": "9993093807"}},
            care={"looked_after": False, "responsible_la": "886"},
        )
    )
    harness.process(
        ev(
            "compact",
            "staffordshire-police",
            "R4",
            occurred_at="2026-04-05T12:00:00Z",
            episode={"last_seen_at": "2026-04-05T10:00:00Z"},
            child={"given_name": "Z", "ids": {"la_ids": [{"la_code": "860", "id": "S1"}]}},
            care={"looked_after": True, "responsible_la": "860"},
        )
    )
    harness.process(
        ev(
            "compact",
            "staffordshire-police",
            "R5",
            occurred_at="2025-12-01T12:00:00Z",
            episode={"last_seen_at": "2025-12-01T10:00:00Z", "found_at": "2025-12-02T10:00:00Z"},
            **lac("K3", "9434765919"),
        )
    )


def test_export_matches_hand_checked_rows(harness: Harness) -> None:
    build(harness)
    with harness.sessions() as s:
        result = export(s, "886", date(2026, 1, 1), date(2026, 12, 31))
    assert result.csv().splitlines() == [
        "CHILD,DOB,MISSING,MIS_START,MIS_END",
        "K1,01/05/2011,M,02/04/2026,03/04/2026",
        "K1,01/05/2011,M,10/04/2026,",
        "K2,02/02/2010,A,15/01/2026,16/01/2026",
    ]
    assert result.violations == []


def test_the_dfe_rules_are_reported() -> None:
    rows = [
        Row("e1", "K1", date(2011, 5, 1), "M", date(2026, 4, 2), None),  # still open...
        Row("e2", "K1", date(2011, 5, 1), "M", date(2026, 4, 9), date(2026, 4, 8)),  # ...574; and 567
        Row("e3", "K2", date(2026, 6, 1), "A", date(2026, 5, 1), date(2026, 5, 2)),  # 586
        Row("e4", "K3", date(2011, 1, 1), "unauthorised_absence", date(2026, 5, 1), date(2026, 5, 1)),  # 1006
        Row("e5", "K4", date(2011, 1, 1), "M", date(2026, 5, 1), date(2026, 5, 3)),
        Row(
            "e6", "K4", date(2011, 1, 1), "M", date(2026, 5, 3), date(2026, 5, 4)
        ),  # same-day restart: allowed
    ]
    assert [(v.rule, v.row, v.episode_id) for v in check(rows)] == [
        ("567", 2, "e2"),
        ("574", 2, "e2"),
        ("586", 3, "e3"),
        ("1006", 4, "e4"),
    ]


def test_the_export_command_writes_the_file_and_reports(
    harness: Harness, database_url: str, tmp_path, monkeypatch
) -> None:
    build(harness)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", database_url)
    from gateway.settings import get_settings

    get_settings.cache_clear()
    out = tmp_path / "missing.csv"
    result = CliRunner().invoke(
        app,
        [
            "export",
            "ssda903",
            "--la",
            "886",
            "--from",
            "2026-01-01",
            "--to",
            "2026-12-31",
            "--output",
            str(out),
        ],
    )
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines()[1] == "K1,01/05/2011,M,02/04/2026,03/04/2026"
    assert "3 rows" in result.output
