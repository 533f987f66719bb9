"""Mosaic behaviour beyond the contract: ignored steps, data quality, times, the mapping file."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog
from prometheus_client import REGISTRY

from adapters.base import RawInput, UnknownInstance
from adapters.mapping import MappingFileError
from adapters.registry import get_adapter
from gateway.model import MissingEpisodeEvent
from tests.adapters.contract import MAPPINGS
from tests.adapters.mosaic.helpers import MOSAIC, answer, setv, specimen, variant

RECEIVED = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
FIRST = "01-missing-episode-started-looked-after.json"


def parse(
    body: bytes, instance: str = "wandsworth-mosaic", mappings: Path = MAPPINGS
) -> list[MissingEpisodeEvent]:
    adapter = get_adapter("mosaic", mappings)
    return adapter.parse(RawInput(body=body, instance=instance, received_at=RECEIVED))


def one(body: bytes, instance: str = "wandsworth-mosaic") -> MissingEpisodeEvent:
    events = parse(body, instance)
    assert len(events) == 1
    return events[0]


def quality(event: MissingEpisodeEvent) -> dict[str, str]:
    return {q.field: q.problem for q in event.data_quality}


def ignored(instance: str, reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "gateway_adapter_ignored_total", {"system": "mosaic", "instance": instance, "reason": reason}
    )
    return value or 0.0


# --- steps that are not missing episodes ----------------------------------------------------------
def test_a_step_type_the_mapping_does_not_know_is_ignored_and_counted() -> None:
    before = ignored("warwickshire-mosaic", "unmapped_step_type")
    body = (MOSAIC / "06-non-missing-step-ignored.json").read_bytes()
    assert parse(body, "warwickshire-mosaic") == []
    assert ignored("warwickshire-mosaic", "unmapped_step_type") == before + 1


def test_the_same_step_type_is_a_missing_episode_in_wandsworth() -> None:
    body = variant("06-non-missing-step-ignored.json", setv("deployment.la_code", "212"))
    assert one(body).event_type == "found"  # 1722 COMPLETED


@pytest.mark.parametrize("step_event", ["UPDATED", "CANCELLED", "REOPENED"])
def test_other_changes_to_a_return_interview_step_are_ignored(step_event: str) -> None:
    before = ignored("wandsworth-mosaic", "return_interview_step_event")
    body = variant("04-return-interview-offered.json", setv("step_event", step_event))
    assert parse(body) == []
    assert ignored("wandsworth-mosaic", "return_interview_step_event") == before + 1


def test_an_ignored_return_interview_step_is_not_rejected_for_its_form() -> None:
    def change(doc: dict) -> None:
        doc["step_event"] = "UPDATED"
        answer(doc, "WRHC_OFFER_DT")["value"] = "not a date"

    assert parse(variant("04-return-interview-offered.json", change)) == []


# --- event types and times (README §3) ------------------------------------------------------------
def test_cancelled_step_is_a_cancelled_event_at_cancelled_on() -> None:
    def change(doc: dict) -> None:
        doc["step_event"] = "CANCELLED"
        doc["workflow_step"].update(step_status="CANCELLED", cancelled_on="2026-02-10T09:00:00")

    event = one(variant(FIRST, change))
    assert (event.event_type, event.occurred_at) == ("cancelled", datetime(2026, 2, 10, 9, 0, tzinfo=UTC))


def test_reopened_step_is_an_update_at_event_time() -> None:
    event = one(variant(FIRST, setv("step_event", "REOPENED")))
    assert (event.event_type, event.occurred_at) == ("updated", datetime(2026, 2, 10, 8, 5, 12, tzinfo=UTC))


def test_a_save_that_does_not_touch_the_risk_question_is_an_update() -> None:
    def change(doc: dict) -> None:
        doc["step_event"] = "UPDATED"
        doc["form"]["changed_question_user_codes"] = ["WMIS_CIRCS"]

    event = one(variant("02-risk-factors-recorded.json", change))
    assert (event.event_type, event.occurred_at) == ("updated", datetime(2026, 2, 10, 11, 20, 40, tzinfo=UTC))
    assert event.episode.risk_level == "high"  # the form as it stands, even without a risk change


def test_found_without_a_found_time_answer_uses_completed_on() -> None:
    def change(doc: dict) -> None:
        doc["form"]["answers"] = [
            a for a in doc["form"]["answers"] if a["question_user_code"] != "WMIS_FOUND_DT"
        ]

    event = one(variant("03-episode-ended-found.json", change))
    assert event.occurred_at == datetime(2026, 2, 11, 17, 45, tzinfo=UTC)  # completed_on, GMT
    assert event.episode.found_at is None


def test_reported_without_a_reported_answer_uses_started_on() -> None:
    def change(doc: dict) -> None:
        answer(doc, "WMIS_REPORTED_DT")["value"] = None  # "not answered"

    event = one(variant(FIRST, change))
    assert event.occurred_at == datetime(2026, 2, 10, 8, 5, tzinfo=UTC)
    assert event.episode.reported_at is None


def test_a_naive_july_time_is_british_summer_time() -> None:
    def change(doc: dict) -> None:
        doc["event_time"] = "2026-07-14T21:40:00"
        answer(doc, "WMIS_REPORTED_DT")["value"] = "2026-07-14T21:40:00"
        answer(doc, "WMIS_LAST_SEEN_DT")["value"] = "2026-07-14"  # a date alone is 00:00 local

    event = one(variant(FIRST, change))
    assert event.occurred_at == datetime(2026, 7, 14, 20, 40, tzinfo=UTC)
    assert event.recorded_at == datetime(2026, 7, 14, 20, 40, tzinfo=UTC)
    assert event.episode.last_seen_at == datetime(2026, 7, 13, 23, 0, tzinfo=UTC)


def test_a_time_with_an_offset_is_taken_as_given() -> None:
    event = one(variant(FIRST, lambda d: answer(d, "WMIS_REPORTED_DT").update(value="2026-07-14T21:40:00Z")))
    assert event.occurred_at == datetime(2026, 7, 14, 21, 40, tzinfo=UTC)


def test_a_return_interview_without_its_episode_step_keeps_its_own_id_and_says_so() -> None:
    event = one(variant("04-return-interview-offered.json", setv("workflow_step.preceding_steps", [])))
    assert event.source.record_id == "48811902"
    assert "source.record_id" in quality(event)


def test_declined_conversation_keeps_its_date_out_of_completed_at() -> None:
    def change(doc: dict) -> None:
        answer(doc, "WRHC_OUTCOME")["value"] = {"code": "NOCON", "text": "No contact"}

    event = one(variant("05-return-interview-completed.json", change))
    assert event.event_type == "return_interview_declined"
    assert event.occurred_at == datetime(2026, 2, 13, 16, 0, tzinfo=UTC)
    assert event.return_interview is not None
    assert (event.return_interview.declined, event.return_interview.completed_at) == (True, None)


def test_completed_step_without_an_outcome_is_a_completed_interview() -> None:
    def change(doc: dict) -> None:
        doc["form"]["answers"] = [
            a for a in doc["form"]["answers"] if a["question_user_code"] != "WRHC_OUTCOME"
        ]

    event = one(variant("05-return-interview-completed.json", change))
    assert event.event_type == "return_interview_completed"
    assert event.return_interview is not None
    assert event.return_interview.completed_at == datetime(2026, 2, 13, 16, 0, tzinfo=UTC)
    assert event.return_interview.declined is None


# --- bad values are flagged, never a rejection ----------------------------------------------------
def test_an_nhs_number_failing_modulus_11_is_left_out_and_flagged() -> None:
    event = one(variant(FIRST, setv("subject.nhs_number", "9998898128")))
    assert event.child.ids.nhs_number is None
    assert "child.ids.nhs_number" in quality(event)
    assert event.event_type == "reported"


@pytest.mark.parametrize("value", [None, "", "  "])
def test_an_absent_nhs_number_is_flagged_once(value: str | None) -> None:
    event = one(variant(FIRST, setv("subject.nhs_number", value)))
    assert [q.problem for q in event.data_quality] == ["NHS number is absent"]


@pytest.mark.parametrize("dob", ["2026-12-01", "2011-02-30"])
def test_a_future_or_impossible_date_of_birth_is_left_out_and_flagged(dob: str) -> None:
    event = one(variant(FIRST, setv("subject.date_of_birth", dob)))
    assert event.child.date_of_birth is None
    assert "child.date_of_birth" in quality(event)
    assert event.child.given_name == "Nia"


def test_a_lookup_code_missing_from_the_mapping_is_flagged_not_rejected() -> None:
    event = one(
        variant(FIRST, lambda d: answer(d, "WMIS_POLICE_RISK").update(value={"code": "SEV", "text": "?"}))
    )
    assert event.episode.risk_level is None
    assert "WMIS_POLICE_RISK" in quality(event)["episode.risk_level"]


def test_two_different_risk_answers_give_the_higher_one_and_a_flag() -> None:
    def change(doc: dict) -> None:
        doc["form"]["answers"].append(
            {
                "question_user_code": "WMIS_POLICE_RISK",
                "answer_type": "lookup",
                "value": {"code": "HIGH", "text": "High"},
            }
        )

    event = one(variant(FIRST, change))
    assert event.episode.risk_level == "high"
    assert "episode.risk_level" in quality(event)


def test_questions_the_mapping_does_not_name_are_never_read() -> None:
    def change(doc: dict) -> None:
        answer(doc, "WMIS_EPISODE_NO").update(answer_type="number", value="four")
        doc["form"]["answers"].append(
            {"question_user_code": "LOCAL_X", "answer_type": "mystery", "value": {}}
        )

    assert one(variant(FIRST, change)).event_type == "reported"


def test_optional_subject_values_of_the_wrong_type_are_flagged() -> None:
    def change(doc: dict) -> None:
        doc["subject"]["placement"] = "Brightwater"
        doc["subject"]["looked_after"] = "yes"
        doc["subject"]["gender"] = "X"

    event = one(variant(FIRST, change))
    problems = quality(event)
    assert {"care.placement", "care.looked_after", "child.sex"} <= set(problems)
    assert event.care is not None and event.care.placement is None
    assert event.care.host_la == "886"  # falls back to home_la_code


# --- safety of reasons and logs -------------------------------------------------------------------
def test_reasons_and_logs_never_carry_the_childs_details() -> None:
    from adapters.base import AdapterError

    secrets = ["Nia", "Fairweather", "2011-07-30", "9998898129", "Maidstone"]
    bodies = [
        variant(FIRST, setv("subject.date_of_birth", "30/07/2011")),
        variant(FIRST, lambda d: answer(d, "WMIS_LAST_SEEN_DT").update(value="Maidstone")),
        variant(FIRST, setv("deployment.la_code", "937")),
    ]
    with structlog.testing.capture_logs() as logs:
        for body in bodies:
            with pytest.raises(AdapterError) as info:
                parse(body)
            assert not any(s in info.value.reason for s in secrets), info.value.reason
        parse((MOSAIC / FIRST).read_bytes())
        parse(
            variant(FIRST, lambda d: answer(d, "WMIS_POLICE_RISK").update(value={"code": "SEV", "text": "?"}))
        )
    assert logs, "expected the adapter to log"
    assert not any(s in json.dumps(logs, default=str) for s in secrets)


# --- the mapping file -----------------------------------------------------------------------------
def _mapping(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "sources" / "mosaic"
    folder.mkdir(parents=True)
    (folder / "test-mosaic.yaml").write_text(text, encoding="utf-8")
    return tmp_path


GOOD = """
la_code: "212"
la_name: Test
missing_episode_step_types: {1722: Missing}
fields:
  episode.risk_level: {code: RISK, type: lookup, values: {"H": high}}
"""


@pytest.mark.parametrize(
    "bad, why",
    [
        (GOOD + "unknown_key: 1\n", "extra"),
        (GOOD.replace("episode.risk_level", "episode.risk_colour"), "not a canonical field"),
        (GOOD.replace("high", "severe"), "not one of"),
        (GOOD.replace('"H"', "NO"), "string"),  # YAML reads NO as false
        (GOOD.replace("type: lookup", "type: date"), "values only apply"),
        (GOOD + "return_interview_step_types: {1722: RHI}\n", "both"),
        (GOOD.replace('la_code: "212"', "la_code: 212"), "la_code"),
        (GOOD + "  episode.last_seen_at: {date_code: A}\n", "together"),
        (GOOD + "  episode.risk_factors: {code: RF, type: lookup, values: {C: cse}}\n", "multiple"),
    ],
)
def test_a_bad_mapping_file_fails_loudly(tmp_path: Path, bad: str, why: str) -> None:
    mappings = _mapping(tmp_path, bad)
    with pytest.raises(MappingFileError, match=why):
        parse((MOSAIC / FIRST).read_bytes(), "test-mosaic", mappings)


def test_a_good_minimal_mapping_loads(tmp_path: Path) -> None:
    event = parse((MOSAIC / FIRST).read_bytes(), "test-mosaic", _mapping(tmp_path, GOOD))[0]
    # RISK is not a question on this council's form: unanswered, so unset and nothing to flag.
    assert event.episode.risk_level is None
    assert "episode.risk_level" not in quality(event)


def test_an_unknown_instance_is_refused() -> None:
    with pytest.raises(UnknownInstance):
        parse((MOSAIC / FIRST).read_bytes(), "nowhere-mosaic")


def test_shipped_mappings_name_the_right_councils() -> None:
    adapter = get_adapter("mosaic", MAPPINGS)
    assert adapter.deployment("wandsworth-mosaic").la_code == "212"
    assert adapter.deployment("warwickshire-mosaic").la_code == "937"
    assert specimen(FIRST)["deployment"]["la_code"] == "212"
