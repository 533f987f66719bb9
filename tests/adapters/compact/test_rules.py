"""COMPACT rules beyond the contract: hostile input, times, "accepted but flagged", event types, e-mail,
per-force mapping files."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

import adapters.compact.xml as compact_xml
from adapters.base import (
    AdapterError,
    HostileInput,
    InvalidInput,
    RawInput,
    UnknownInstance,
    UnreadableInput,
    WrongInstance,
)
from adapters.common import xml as common_xml
from adapters.compact import message_id
from adapters.compact.mapping import CompactDeployment
from adapters.compact.times import parse_date, parse_datetime
from adapters.compact.xml import hardened_parser, parse_xml
from adapters.mapping import MappingFileError, load_source_mapping
from adapters.registry import get_adapter
from gateway.model import MissingEpisodeEvent
from tests.adapters.compact import variants as v
from tests.adapters.contract import MAPPINGS

RECEIVED = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
STAFFS = "staffordshire-police"
LONDON = ZoneInfo("Europe/London")


def parse(
    body: bytes,
    *,
    instance: str = STAFFS,
    content_type: str | None = None,
    filename: str | None = None,
    mappings: Path = MAPPINGS,
    received_at: datetime = RECEIVED,
) -> list[MissingEpisodeEvent]:
    raw = RawInput(
        body=body, instance=instance, received_at=received_at, content_type=content_type, filename=filename
    )
    return get_adapter("compact", mappings).parse(raw)


def one(body: bytes, **kwargs: object) -> MissingEpisodeEvent:
    events = parse(body, **kwargs)  # type: ignore[arg-type]
    assert len(events) == 1
    return events[0]


def rejected(body: bytes, kind: type[AdapterError] = AdapterError, **kwargs: object) -> AdapterError:
    with pytest.raises(kind) as info:
        parse(body, **kwargs)  # type: ignore[arg-type]
    return info.value


def quality(event: MissingEpisodeEvent, field: str) -> list[dict[str, str | None]]:
    return [q.model_dump() for q in event.data_quality if q.field == field]


# --- hostile input ----------------------------------------------------------------------------------


def test_xxe_is_refused_and_the_file_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    exc = rejected(v.xxe(str(secret)), HostileInput)
    assert "DOCTYPE" in exc.reason
    assert "TOP-SECRET" not in exc.reason
    assert exc.http_status == 400


def test_even_without_the_byte_scan_the_parser_resolves_no_entity(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    root = etree.fromstring(v.xxe(str(secret)), hardened_parser())
    assert b"TOP-SECRET" not in etree.tostring(root)
    try:
        laughs = etree.fromstring(v.billion_laughs(), hardened_parser())
    except etree.XMLSyntaxError as exc:  # libxml2 >= 2.13 stops at its amplification limit
        assert "amplification" in str(exc)
    else:
        assert b"lollollol" not in etree.tostring(laughs)  # nothing expanded


def test_the_docinfo_layer_refuses_a_doctype_the_byte_scan_missed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common_xml, "DECLARATIONS", re.compile(rb"(?!x)x"))  # matches nothing
    for body in (v.billion_laughs(), v.xxe("/etc/passwd"), v.with_prolog(v.NEW_REPORT, "<!DOCTYPE X>")):
        with pytest.raises(HostileInput):
            parse_xml(body)


def test_billion_laughs_is_refused_quickly() -> None:
    exc = rejected(v.billion_laughs(), HostileInput)
    assert "DOCTYPE" in exc.reason


def test_size_and_depth_limits_are_hostile() -> None:
    big = v.edit(v.NEW_REPORT, ("<Town>Stafford</Town>", "<Town>" + "x" * (5 * 1024 * 1024) + "</Town>"))
    assert "limit" in rejected(big, HostileInput).reason
    deep = b"<a>" * 300 + b"</a>" * 300  # beyond libxml2's own limit too
    assert "excessive depth" in rejected(deep, HostileInput).reason.lower()


def test_not_utf8_is_unreadable() -> None:
    latin = v.edit(v.NEW_REPORT, ('encoding="UTF-8"', 'encoding="ISO-8859-1"'))
    assert "not UTF-8" in rejected(latin, UnreadableInput).reason
    assert "not UTF-8" in rejected(b"<a>\xe9</a>", UnreadableInput).reason
    utf8_bom = b"\xef\xbb\xbf" + (v.COMPACT / v.NEW_REPORT).read_bytes()
    assert one(utf8_bom).source.record_id == "MP/2026/001187"


def test_truncated_and_garbage_are_unreadable() -> None:
    body = (v.COMPACT / v.NEW_REPORT).read_bytes()
    for cut in (10, 500, len(body) - 5):
        assert "not well-formed" in rejected(body[:cut], UnreadableInput).reason
    assert rejected(b"\x00\x01\x02 not xml", UnreadableInput).reason


def test_schema_reasons_never_quote_the_value() -> None:
    cases = {
        "9994224964": "1234567",  # NHS number of the wrong length
        "<DateOfBirth>2011-09-17<": "<DateOfBirth>2011-02-30<",
        "<ReportNumber>MP/2026/001187<": "<ReportNumber>Kacey Dunmore<",
        "<Postcode>ST16 9ZQ</Postcode>": "<Postcode>Kacey's house</Postcode>",
        "<InterpreterRequired>false<": "<InterpreterRequired>Kacey<",
    }
    for old, new in cases.items():
        exc = rejected(v.edit(v.NEW_REPORT, (old, new)), InvalidInput)
        value = re.sub(r"<[^>]*>", "", new)
        assert value not in exc.reason, exc.reason
        assert "Kacey" not in exc.reason
        assert "does not match the COMPACT schema" in exc.reason


def test_schema_reasons_name_the_report_the_element_and_the_allowed_codes() -> None:
    exc = rejected(v.edit(v.DELTA, ("<FoundBy>ParentOrCarer</FoundBy>", "<FoundBy>Neighbour</FoundBy>")))
    assert exc.record_id == "MP/2026/001258"
    assert exc.reason.startswith("report MP/2026/001258: ")
    assert "Found/FoundBy" in exc.reason
    assert "'MemberOfPublic'" in exc.reason
    assert "Neighbour" not in exc.reason


def test_rule_reasons_name_the_report_number() -> None:
    exc = rejected(v.drop_section(v.FOUND, "Found"), InvalidInput)
    assert exc.record_id == "MP/2026/001234"
    assert "MP/2026/001234" in exc.reason


# --- namespace, structure -----------------------------------------------------------------------------


def prefixed(name: str, prefix: str = "mpx") -> bytes:
    body = v.text(name).replace(
        'xmlns="urn:compact:missing-person-export:1"', f'xmlns:{prefix}="urn:compact:missing-person-export:1"'
    )
    body = re.sub(r"<(/?)([A-Za-z])", rf"<\1{prefix}:\2", body)
    return body.encode()


def test_the_namespace_prefix_does_not_matter() -> None:
    plain = one((v.COMPACT / v.PLACED).read_bytes())
    for prefix in ("mpx", "c"):
        event = one(prefixed(v.PLACED, prefix))
        assert event.model_dump(exclude={"event_id"}) == plain.model_dump(exclude={"event_id"})


def test_the_right_element_in_the_wrong_namespace_is_refused() -> None:
    body = (
        prefixed(v.NEW_REPORT)
        .replace(b"<mpx:Grade>", b'<other:Grade xmlns:other="urn:other">')
        .replace(b"</mpx:Grade>", b"</other:Grade>")
    )
    assert "Grade" in rejected(body, InvalidInput).reason


def test_comments_and_entities_do_not_split_or_garble_text() -> None:
    body = v.edit(
        v.NEW_REPORT, ("<Surname>Dunmore</Surname>", "<Surname>Dun<!-- c -->more &amp; Co</Surname>")
    )
    assert one(body).child.family_name == "Dunmore & Co"


def test_an_exact_repeat_in_one_export_is_kept_once_and_a_conflicting_one_is_refused() -> None:
    body = v.text(v.DELTA)
    start = body.index("  <MissingPersonReport>")
    end = body.index("</MissingPersonReport>", start) + len("</MissingPersonReport>\n")
    first = body[start:end]
    repeated = body.replace("</MissingPersonExport>", first + "</MissingPersonExport>").replace(
        "<RecordCount>3<", "<RecordCount>4<"
    )
    assert [e.source.record_id for e in parse(repeated.encode())] == [
        "MP/2026/001234",
        "MP/2026/001262",
        "MP/2026/001258",
    ]
    conflicting = repeated.replace(first, first.replace("<Version>5<", "<Version>6<"), 1)
    assert "appears twice" in rejected(conflicting.encode(), InvalidInput).reason


# --- times ----------------------------------------------------------------------------------------------


def test_a_naive_july_time_is_bst_and_a_naive_january_time_is_gmt() -> None:
    july = one(
        v.edit(
            v.NEW_REPORT,
            ("<DateTime>2026-02-27T16:10:00Z<", "<DateTime>2026-07-14T21:40:00<"),
            ("<ReportedAt>2026-02-27T23:05:00Z<", "<ReportedAt>2026-07-14T22:05:00<"),
        ),
        received_at=datetime(2026, 7, 15, tzinfo=UTC),
    )
    assert july.episode.last_seen_at == datetime(2026, 7, 14, 20, 40, tzinfo=UTC)
    assert july.occurred_at == datetime(2026, 7, 14, 21, 5, tzinfo=UTC)
    january = one(
        v.edit(
            v.NEW_REPORT,
            ("<DateTime>2026-02-27T16:10:00Z<", "<DateTime>2026-01-14T21:40:00<"),
            ("<ReportedAt>2026-02-27T23:05:00Z<", "<ReportedAt>2026-01-14T22:05:00<"),
        )
    )
    assert january.episode.last_seen_at == datetime(2026, 1, 14, 21, 40, tzinfo=UTC)
    assert january.occurred_at == datetime(2026, 1, 14, 22, 5, tzinfo=UTC)


def test_an_offset_is_taken_as_given() -> None:
    event = one(
        v.edit(v.NEW_REPORT, ("<ReportedAt>2026-02-27T23:05:00Z<", "<ReportedAt>2026-07-14T22:05:00+02:00<"))
    )
    assert event.occurred_at == datetime(2026, 7, 14, 20, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-29T01:30:00", datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),  # in the spring gap: read as GMT
        ("2026-10-25T01:30:00", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),  # repeated hour: the earlier
        ("2026-02-27T24:00:00Z", datetime(2026, 2, 28, 0, 0, tzinfo=UTC)),
        ("2026-02-27T23:05:00.123456789Z", datetime(2026, 2, 27, 23, 5, 0, 123456, tzinfo=UTC)),
        (" 2026-02-27T23:05:00-05:30 ", datetime(2026, 2, 28, 4, 35, tzinfo=UTC)),
    ],
)
def test_xs_datetime_forms(text: str, expected: datetime) -> None:
    assert parse_datetime(text, LONDON) == expected


@pytest.mark.parametrize(
    "text",
    [
        "10000-01-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "2026-02-27T24:00:01Z",
        "2026-02-30T00:00:00Z",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T24:00:00Z",
        "27/02/2026",
        "2026-02-27T23:05:00+15:00",
    ],
)
def test_xs_datetime_forms_python_cannot_hold_raise_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_datetime(text, LONDON)


def test_xs_date_ignores_a_zone() -> None:
    assert parse_date("2011-09-17Z").isoformat() == "2011-09-17"
    assert parse_date("2011-09-17+01:00").isoformat() == "2011-09-17"
    with pytest.raises(ValueError):
        parse_date("10000-01-01")


def test_an_unusable_time_is_flagged_unless_it_is_the_time_of_the_change() -> None:
    flagged = one(
        v.edit(v.NEW_REPORT, ("<DateTime>2026-02-27T16:10:00Z<", "<DateTime>10000-02-27T16:10:00Z<"))
    )
    assert flagged.episode.last_seen_at is None
    assert quality(flagged, "episode.last_seen_at")[0]["original"] == "10000-02-27T16:10:00Z"
    exc = rejected(
        v.edit(v.NEW_REPORT, ("<ReportedAt>2026-02-27T23:05:00Z<", "<ReportedAt>10000-02-27T23:05:00Z<")),
        InvalidInput,
    )
    assert "Occurrence/ReportedAt" in exc.reason and "MP/2026/001187" in exc.reason


# --- accepted but flagged ------------------------------------------------------------------------------


def test_a_date_of_birth_in_the_future_is_not_a_rejection() -> None:
    event = one(v.edit(v.NEW_REPORT, ("<DateOfBirth>2011-09-17<", "<DateOfBirth>2030-01-01<")))
    assert event.event_type.value == "reported"
    assert event.child.date_of_birth is None
    assert quality(event, "child.date_of_birth") == [
        {
            "field": "child.date_of_birth",
            "problem": "date of birth is in the future",
            "original": "2030-01-01",
        }
    ]


def test_a_date_of_birth_after_the_last_seen_time_is_not_a_rejection() -> None:
    event = one(v.edit(v.NEW_REPORT, ("<DateOfBirth>2011-09-17<", "<DateOfBirth>2026-03-01<")))
    assert event.child.date_of_birth is None
    assert quality(event, "child.date_of_birth")[0]["problem"] == "date of birth is after the last-seen time"


def test_an_nhs_number_failing_its_check_digit_is_not_a_rejection() -> None:
    event = one(v.edit(v.NEW_REPORT, ("<NhsNumber>9994224964<", "<NhsNumber>9994224965<")))
    assert event.event_type.value == "reported"
    assert event.child.ids.nhs_number is None
    [issue] = quality(event, "child.ids.nhs_number")
    assert "Modulus 11" in str(issue["problem"])
    assert issue["original"] == "9994224965"
    assert event.child.family_name == "Dunmore"  # everything else kept


def test_a_found_time_before_the_last_seen_time_keeps_both_and_is_flagged() -> None:
    event = one(v.edit(v.FOUND, ("<FoundAt>2026-03-05T02:50:00Z<", "<FoundAt>2026-03-03T18:00:00Z<")))
    assert event.event_type.value == "found"
    assert event.episode.found_at == datetime(2026, 3, 3, 18, 0, tzinfo=UTC)
    assert event.episode.last_seen_at == datetime(2026, 3, 3, 19, 30, tzinfo=UTC)
    assert quality(event, "episode.found_at")[0]["problem"] == "found time is before the last-seen time"


# --- event types, risk --------------------------------------------------------------------------------


def test_a_risk_review_that_keeps_the_grade_is_an_update() -> None:
    event = one(v.edit(v.RISK_REVIEW, ("<Grade>HIGH</Grade>", "<Grade>MEDIUM</Grade>")))
    assert event.event_type.value == "updated"
    assert event.occurred_at == datetime(2026, 3, 4, 9, 15, tzinfo=UTC)  # still the newest AssessedAt
    assert {f.value for f in event.episode.risk_factors} == {"cse", "cce", "substance_misuse"}


def test_the_highest_sequence_wins_whatever_the_document_order() -> None:
    body = v.text(v.RISK_REVIEW)
    first = re.search(r'\s*<RiskAssessment sequence="1">.*?</RiskAssessment>', body, re.DOTALL)
    assert first
    swapped = body.replace(first.group(0), "").replace(
        "</RiskAssessments>", first.group(0) + "\n    </RiskAssessments>"
    )
    assert swapped.index('sequence="2"') < swapped.index('sequence="1"')
    event = one(swapped.encode())
    assert event.event_type.value == "risk_changed"
    assert event.episode.risk_level is not None and event.episode.risk_level.value == "high"
    assert event.episode.risk_assessed_by == "DS 1187 R. Okoro"


def test_a_risk_review_compares_with_the_next_lower_sequence() -> None:
    event = one(v.edit(v.RISK_REVIEW, ('sequence="2"', 'sequence="7"'), ('sequence="1"', 'sequence="5"')))
    assert event.event_type.value == "risk_changed"
    assert event.episode.risk_level is not None and event.episode.risk_level.value == "high"


def test_a_first_grading_recorded_as_a_risk_review_is_a_risk_change() -> None:
    event = one(v.edit(v.NEW_REPORT, ("<ChangeType>NewReport<", "<ChangeType>RiskReview<")))
    assert event.event_type.value == "risk_changed"
    assert event.occurred_at == datetime(2026, 2, 27, 23, 20, tzinfo=UTC)


def test_an_update_happened_when_it_was_recorded() -> None:
    event = one(v.edit(v.NEW_REPORT, ("<ChangeType>NewReport<", "<ChangeType>Update<")))
    assert event.event_type.value == "updated"
    assert event.occurred_at == datetime(2026, 2, 27, 23, 27, 40, tzinfo=UTC)


def test_the_same_version_resent_in_a_delta_has_the_same_key() -> None:
    notification = one((v.COMPACT / v.NEW_REPORT).read_bytes())
    body = v.text(v.NEW_REPORT)
    report = body[body.index("  <MissingPersonReport>") : body.index("</MissingPersonExport>")]
    delta = (
        v.text(v.DELTA)
        .replace("</MissingPersonExport>", report + "</MissingPersonExport>")
        .replace("<RecordCount>3<", "<RecordCount>4<")
    )
    again = [e for e in parse(delta.encode()) if e.source.record_id == "MP/2026/001187"]
    assert [e.idempotency_key for e in again] == [notification.idempotency_key]
    assert notification.idempotency_key == "compact:staffordshire-police:MP/2026/001187:AUD-88410233"
    assert again[0].event_id != notification.event_id  # the gateway assigns event ids


def test_host_la_falls_back_to_the_home_address() -> None:
    event = one(
        v.edit(v.PLACED, ('<HostAuthority laCode="860">Staffordshire County Council</HostAuthority>', ""))
    )
    assert event.care is not None
    assert (event.care.responsible_la, event.care.host_la) == ("886", "860")


def test_a_police_only_record_without_a_home_la_has_no_care() -> None:
    event = one(v.edit(v.CANCELLED, ('<HomeAddress laCode="860">', "<HomeAddress>")))
    assert event.care is None


# --- instance ----------------------------------------------------------------------------------------


def test_another_forces_export_is_wrong_instance() -> None:
    exc = rejected((v.COMPACT / v.NEW_REPORT).read_bytes(), WrongInstance, instance="derbyshire-police")
    assert "E23000015" in exc.reason and "E23000018" in exc.reason
    assert exc.record_id == "MP/2026/001187"


def test_each_force_accepts_its_own_exports() -> None:
    for instance, code in (("derbyshire-police", "E23000018"), ("warwickshire-police", "E23000017")):
        body = v.edit(v.NEW_REPORT, ('<Force code="E23000015">', f'<Force code="{code}">'))
        event = one(body, instance=instance)
        assert event.source.instance == instance
        assert event.episode.police is not None and event.episode.police.force == code


def test_an_unknown_instance_is_refused() -> None:
    exc = rejected((v.COMPACT / v.NEW_REPORT).read_bytes(), UnknownInstance, instance="kent-police")
    assert exc.http_status == 404


# --- e-mail --------------------------------------------------------------------------------------------


def test_the_eml_is_recognised_by_content_type_name_or_content() -> None:
    body = (v.COMPACT / v.EMAIL).read_bytes()
    for kwargs in ({"content_type": "message/rfc822"}, {"filename": "MAIL.EML"}, {}):
        assert one(body, **kwargs).source.event_id == "AUD-88411902"


def test_message_id_is_kept_for_audit_only() -> None:
    body = (v.COMPACT / v.EMAIL).read_bytes()
    assert message_id(body) == "<MP-2026-001187-v2.20260228120602.0011@compact.staffordshire.police.example>"
    event = one(body)
    assert "MP-2026-001187-v2" not in event.to_json().decode()
    assert message_id(b"\xff\xfe garbage") is None
    assert message_id(b"") is None


@pytest.mark.parametrize(
    ("content_type", "filename", "encoding"),
    [
        ("application/octet-stream", "COMPACT.XML", "base64"),
        ("text/xml", None, "quoted-printable"),
        ("application/xml; charset=utf-8", None, "base64"),
        ("application/octet-stream; name=x.xml", None, "base64"),
    ],
)
def test_an_export_attachment_is_found_by_type_or_name(
    content_type: str, filename: str | None, encoding: str
) -> None:
    mail = v.email_with_attachments([(content_type, filename or "", v.email_xml_part())], encoding=encoding)
    assert one(mail, content_type="message/rfc822").source.record_id == "MP/2026/001187"


def test_every_attached_export_gives_its_events() -> None:
    mail = v.email_with_attachments(
        [
            ("application/xml", "a.xml", (v.COMPACT / v.NEW_REPORT).read_bytes()),
            ("application/pdf", "photo.pdf", b"%PDF-1.4 not an export"),
            ("application/xml", "b.xml", (v.COMPACT / v.DELTA).read_bytes()),
        ]
    )
    assert [e.source.record_id for e in parse(mail)] == [
        "MP/2026/001187",
        "MP/2026/001234",
        "MP/2026/001262",
        "MP/2026/001258",
    ]


def test_one_bad_attachment_rejects_the_message_and_says_which() -> None:
    mail = v.email_with_attachments(
        [
            ("application/xml", "a.xml", (v.COMPACT / v.NEW_REPORT).read_bytes()),
            ("application/xml", "b.xml", v.drop_section(v.FOUND, "Found")),
        ]
    )
    exc = rejected(mail, InvalidInput)
    assert exc.reason.startswith("attached export 2 of 2: report MP/2026/001234")
    assert exc.record_id == "MP/2026/001234"


def test_a_text_only_message_has_no_export() -> None:
    mail = v.email_with_attachments([])
    assert "no COMPACT export attached" in rejected(mail, InvalidInput, filename="x.eml").reason


def test_xml_is_never_taken_for_a_message() -> None:
    body = v.edit(
        v.NEW_REPORT,
        ("<Circumstances>Argument", "<Circumstances>Content-Type: multipart/mixed; boundary=x\n\nArgument"),
    )
    assert one(body).source.record_id == "MP/2026/001187"
    undeclared = v.text(v.NEW_REPORT).removeprefix(v.XML_DECL)
    assert one(b"\n  " + undeclared.encode()).source.record_id == "MP/2026/001187"


def test_a_declared_message_that_is_not_mime_is_refused_not_crashed() -> None:
    for body in (b"", b"\x00\x01", b"Subject: hi\r\n\r\nno parts", (v.COMPACT / v.EMAIL).read_bytes()[:300]):
        exc = rejected(body, content_type="message/rfc822")
        assert exc.reason


# --- per-force mapping files ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instance", "code"),
    [
        ("staffordshire-police", "E23000015"),
        ("derbyshire-police", "E23000018"),
        ("warwickshire-police", "E23000017"),
    ],
)
def test_the_shipped_mapping_files_load(instance: str, code: str) -> None:
    deployment = load_source_mapping(MAPPINGS, "compact", instance, CompactDeployment)
    assert deployment.force_code == code
    assert deployment.codes.risk_factor["OTHER"] is None
    assert deployment.zone == LONDON


def force_mapping(tmp_path: Path, edit: tuple[str, str] | None = None, name: str = "test-police") -> Path:
    folder = tmp_path / "sources" / "compact"
    folder.mkdir(parents=True)
    text = (MAPPINGS / "sources" / "compact" / "staffordshire-police.yaml").read_text()
    if edit:
        assert edit[0] in text
        text = text.replace(edit[0], edit[1])
    (folder / f"{name}.yaml").write_text(text)
    return tmp_path


def test_code_lists_are_data(tmp_path: Path) -> None:
    mappings = force_mapping(tmp_path, ('"MEDIUM": medium', '"MEDIUM": high'))
    event = one((v.COMPACT / v.NEW_REPORT).read_bytes(), instance="test-police", mappings=mappings)
    assert event.episode.risk_level is not None and event.episode.risk_level.value == "high"


def test_the_time_zone_is_data(tmp_path: Path) -> None:
    mappings = force_mapping(tmp_path, ("timezone: Europe/London", "timezone: UTC"))
    body = v.edit(v.NEW_REPORT, ("<ReportedAt>2026-02-27T23:05:00Z<", "<ReportedAt>2026-07-14T22:05:00<"))
    assert one(body, instance="test-police", mappings=mappings).occurred_at == datetime(
        2026, 7, 14, 22, 5, tzinfo=UTC
    )


def test_the_size_limit_is_data(tmp_path: Path) -> None:
    mappings = force_mapping(tmp_path, ("max_document_bytes: 5242880", "max_document_bytes: 16384"))
    body = v.edit(v.DELTA, ("<Circumstances>Upset", "<Circumstances>" + "Upset " * 500))
    assert 16384 < len(body) < 5 * 1024 * 1024
    assert (
        "16384-byte limit" in rejected(body, HostileInput, instance="test-police", mappings=mappings).reason
    )


@pytest.mark.parametrize(
    ("edit", "complaint"),
    [
        (("version: 1", "version: 1\nforce_colour: blue"), "force_colour"),  # extra="forbid"
        (('    "GANGS": gang\n', ""), "GANGS"),  # a schema code without a mapping
        (('"HIGH": high', '"HIGH": severe'), "risk_grade"),  # not a canonical value
        (("force_code: E23000015", "force_code: X99"), "force_code"),
        (("timezone: Europe/London", "timezone: Mars/Olympus"), "time zone"),
    ],
)
def test_a_bad_mapping_file_fails_loudly(tmp_path: Path, edit: tuple[str, str], complaint: str) -> None:
    mappings = force_mapping(tmp_path, edit)
    with pytest.raises(MappingFileError, match=complaint):
        parse((v.COMPACT / v.NEW_REPORT).read_bytes(), instance="test-police", mappings=mappings)


def test_the_packaged_schema_is_the_agreed_one() -> None:
    """The adapter reads its own copy (package data), never ../shared; this catches the two drifting."""
    packaged = Path(compact_xml.__file__).parent / "schema" / "schema.xsd"
    assert packaged.read_bytes() == (v.COMPACT / "schema.xsd").read_bytes()


def test_an_html_alternative_with_a_doctype_does_not_make_the_message_hostile() -> None:
    """The DOCTYPE refusal applies to the exports, not to the human-readable parts of the message."""
    xml = (v.COMPACT / v.NEW_REPORT).read_bytes()
    mail = "\r\n".join(
        [
            "From: compact@police.example",
            "Message-ID: <html-1@police.example>",
            "MIME-Version: 1.0",
            'Content-Type: multipart/mixed; boundary="outer"',
            "",
            "--outer",
            'Content-Type: multipart/alternative; boundary="inner"',
            "",
            "--inner",
            "Content-Type: text/plain",
            "",
            "Automated notification.",
            "--inner",
            "Content-Type: text/html",
            "",
            "<!DOCTYPE html><html><body>Automated notification.</body></html>",
            "--inner--",
            "--outer",
            'Content-Type: application/octet-stream; name="COMPACT_MP-2026-001187_v1.Xml"',
            "Content-Transfer-Encoding: base64",
            "",
            base64.encodebytes(xml).decode(),
            "--outer--",
            "",
        ]
    ).encode()
    assert one(mail).source.record_id == "MP/2026/001187"
    assert message_id(mail) == "<html-1@police.example>"
