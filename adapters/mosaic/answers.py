"""Form answers → canonical field values, through the deployment's ``fields`` mapping.

``form.answers`` is the whole form after the change, in no particular order, with one entry per value
of a multi-select question. Only questions named in the mapping are read or checked (README §4:
questions not named are ignored), so a council's unrelated form questions can never block a notice.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from adapters.base import InvalidInput
from adapters.common.json_body import json_type
from adapters.common.quality import issue
from adapters.common.times import parse_iso_date, parse_iso_datetime, to_utc
from adapters.mosaic.mapping import TARGETS, FieldSource, MosaicDeployment
from gateway.model.enums import RISK_ORDER, RiskLevel

log = structlog.get_logger(__name__)

ANSWER_TYPES = ("date", "lookup", "text", "number")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$")


class FormAnswers:
    """The answers to the mapped questions of one form, checked against the mapping's answer types."""

    def __init__(
        self,
        form: Any,
        deployment: MosaicDeployment,
        quality: list[dict[str, Any]],
        *,
        instance: str,
        record_id: str,
    ):
        self._deployment = deployment
        self._zone: ZoneInfo = deployment.zone
        self._quality = quality
        self._instance = instance
        self._record_id = record_id
        self.changed: set[str] = set()
        self._by_code: dict[str, list[dict[str, Any]]] = {}
        self._values: dict[str, Any] | None = None
        wanted = {c for source in deployment.fields.values() for c in source.question_codes()}
        if form is None:
            return
        if not isinstance(form, dict):
            raise InvalidInput(f"form: expected an object or null, got a JSON {json_type(form)}")
        changed = form.get("changed_question_user_codes")
        if isinstance(changed, list):
            self.changed = {c for c in changed if isinstance(c, str)}
        answers = form.get("answers")
        if answers is None:
            return
        if not isinstance(answers, list):
            raise InvalidInput(f"form.answers: expected an array, got a JSON {json_type(answers)}")
        for i, answer in enumerate(answers):
            where = f"form.answers[{i}]"
            if not isinstance(answer, dict):
                raise InvalidInput(f"{where}: expected an object, got a JSON {json_type(answer)}")
            code = answer.get("question_user_code")
            if not isinstance(code, str):
                raise InvalidInput(f"{where}.question_user_code: required string")
            if code in wanted:
                self._by_code.setdefault(code, []).append(self._checked(answer, f"{where} ({code})"))

    # --- reading one question ---------------------------------------------------------------------
    def _checked(self, answer: dict[str, Any], where: str) -> dict[str, Any]:
        """README §6.6: a mapped answer whose value does not fit its type rejects the event."""
        answer_type = answer.get("answer_type")
        if answer_type not in ANSWER_TYPES:
            raise InvalidInput(f"{where}.answer_type: not one of {', '.join(ANSWER_TYPES)}")
        value = answer.get("value")
        if value is None:
            return answer
        if answer_type == "lookup":
            if not isinstance(value, dict) or not isinstance(value.get("code"), str) or not value["code"]:
                raise InvalidInput(f"{where}: a lookup answer's value needs a code")
            if value.get("text") is not None and not isinstance(value["text"], str):
                raise InvalidInput(f"{where}: a lookup answer's text must be a string")
        elif answer_type == "text":
            if not isinstance(value, str):
                raise InvalidInput(f"{where}: a text answer's value must be a string")
        elif answer_type == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidInput(f"{where}: a number answer's value must be a JSON number")
        elif not isinstance(value, str):
            raise InvalidInput(f"{where}: a date answer's value must be a string")
        else:
            try:
                parse_iso_datetime(value, self._zone, allow_date_only=True)
            except ValueError:
                raise InvalidInput(
                    f"{where}: date answer does not parse (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)"
                ) from None
        return answer

    def _answers(self, code: str, source: FieldSource, path: str) -> list[dict[str, Any]]:
        found = [a for a in self._by_code.get(code, []) if a.get("value") is not None]
        expected = source.type if source.code == code else ("date" if code == source.date_code else "text")
        for answer in found:
            if answer.get("answer_type") != expected:
                raise InvalidInput(
                    f"form.answers ({code}): answered as {answer.get('answer_type')} but the "
                    f"mapping for {path} expects {expected}"
                )
        return found

    # --- mapped values --------------------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        """Every mapped field the form answers, as canonical values (date-times in UTC). Defaults are not
        applied here: whether they apply depends on the kind of step."""
        if self._values is None:
            out: dict[str, Any] = {}
            for path, source in self._deployment.fields.items():
                value = self._value(path, source)
                if value is not None:
                    out[path] = value
            self._values = out
        return dict(self._values)

    def answered(self, path: str) -> bool:
        return path in self.values()

    def _value(self, path: str, source: FieldSource) -> Any:
        if source.date_code is not None and source.time_code is not None:
            return self._split_datetime(path, source)
        if source.code is None:
            return None
        answers = self._answers(source.code, source, path)
        if not answers:
            return None
        target = TARGETS[path]
        if target.kind == "set":
            mapped = {self._lookup(path, source, a) for a in answers}
            return sorted(v for v in mapped if v is not None) or None
        candidates = [self._single(path, source, a) for a in answers]
        distinct = list(dict.fromkeys(c for c in candidates if c is not None))
        if len(distinct) <= 1:
            return distinct[0] if distinct else None
        if path == "episode.risk_level":
            # Two gradings on one form: act on the higher one until a person sorts it out.
            chosen = max(distinct, key=lambda level: RISK_ORDER[RiskLevel(level)])
            self._quality.append(
                issue(
                    path,
                    f"question {source.code} answered more than once with different "
                    "values; the highest risk is used",
                    ", ".join(map(str, distinct)),
                )
            )
            return chosen
        self._quality.append(
            issue(path, f"question {source.code} answered more than once with different values; left unset")
        )
        return None

    def _single(self, path: str, source: FieldSource, answer: dict[str, Any]) -> Any:
        kind = TARGETS[path].kind
        value = answer["value"]
        if kind == "datetime":
            return parse_iso_datetime(value, self._zone, allow_date_only=True)
        if answer["answer_type"] == "lookup":
            return self._lookup(path, source, answer)
        if answer["answer_type"] == "number":
            return format(value, "g") if isinstance(value, float) else str(value)
        return value

    def _lookup(self, path: str, source: FieldSource, answer: dict[str, Any]) -> Any:
        code: str = answer["value"]["code"]
        if source.values is None:
            text = answer["value"].get("text")
            return text if source.use == "text" else code
        if code in source.values:
            return source.values[code]
        # README §4: an unlisted lookup code is ignored and logged, never a rejection. It is also shown to
        # operators, because a risk grading nobody can read is worth a look.
        log.warning(
            "mosaic.unmapped_lookup_code",
            instance=self._instance,
            record_id=self._record_id,
            question=source.code,
            lookup_code=code[:40],
        )
        self._quality.append(
            issue(path, f"lookup code of question {source.code} is not in the mapping", code)
        )
        return None

    def _split_datetime(self, path: str, source: FieldSource) -> datetime | None:
        assert source.date_code is not None and source.time_code is not None
        dates = self._answers(source.date_code, source, path)
        times = self._answers(source.time_code, source, path)
        if not dates:
            return None
        day_text: str = dates[0]["value"]
        for answer in times:
            if not _HHMM.match(answer["value"].strip()):
                raise InvalidInput(f"form.answers ({source.time_code}): time does not parse (HH:MM)")
        if not times:
            return parse_iso_datetime(day_text, self._zone, allow_date_only=True)
        hhmm = time.fromisoformat(times[0]["value"].strip())
        try:
            return to_utc(datetime.combine(parse_iso_date(day_text[:10]), hhmm), self._zone)
        except ValueError:
            raise InvalidInput(f"form.answers ({source.date_code}): date does not parse") from None
