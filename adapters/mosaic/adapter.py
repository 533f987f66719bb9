"""The Mosaic adapter: one ``mosaic-workflow-event/1`` JSON event → zero or one canonical event."""

from __future__ import annotations

from typing import Any

import structlog

from adapters.base import Adapter, RawInput, WrongInstance
from adapters.common.build import finish
from adapters.common.metrics import count_ignored
from adapters.mapping import load_source_mapping
from adapters.mosaic.answers import FormAnswers
from adapters.mosaic.envelope import read_envelope
from adapters.mosaic.mapping import MosaicDeployment
from adapters.mosaic.steps import decide, record_id
from adapters.mosaic.subject import map_subject
from adapters.registry import register
from gateway.model import MissingEpisodeEvent
from gateway.model.build import idempotency_key

log = structlog.get_logger(__name__)


def _put(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = tree
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


@register
class MosaicAdapter(Adapter):
    system = "mosaic"
    description = (
        "Mosaic workflow-step events (mosaic-workflow-event/1 JSON), per-council step/question mapping"
    )

    def deployment(self, instance: str) -> MosaicDeployment:
        return load_source_mapping(self.mappings_dir, self.system, instance, MosaicDeployment)

    def parse(self, raw: RawInput) -> list[MissingEpisodeEvent]:
        deployment = self.deployment(raw.instance)
        env = read_envelope(raw.body, deployment.zone)
        if env.la_code != deployment.la_code:
            raise WrongInstance(
                f"deployment.la_code {env.la_code[:10]!r} is not the LA code of instance "
                f"{raw.instance!r} ({deployment.la_code})",
                record_id=str(env.step_id),
            )
        kind = deployment.step_kind(env.step_type_id)
        if kind is None:
            return self._ignore(raw, env.step_id, env.step_type_id, "unmapped_step_type")
        if kind == "return_interview" and env.step_event not in ("STARTED", "COMPLETED"):
            # Checked before the form is read: an ignored step only needs a valid envelope (README §6).
            return self._ignore(raw, env.step_id, env.step_type_id, "return_interview_step_event")

        quality: list[dict[str, Any]] = []
        rid = record_id(env, deployment, quality)
        answers = FormAnswers(env.form, deployment, quality, instance=raw.instance, record_id=rid)
        decision = decide(env, deployment, answers)
        if decision.event_type is None or decision.occurred_at is None:
            return self._ignore(raw, env.step_id, env.step_type_id, decision.ignored_reason or "no_event")

        values: dict[str, Any] = {
            "event_type": decision.event_type,
            "occurred_at": decision.occurred_at,
            "recorded_at": env.event_time,
            "received_at": raw.received_at,
            "source": {
                "system": self.system,
                "instance": raw.instance,
                "record_id": rid,
                "event_id": env.event_id,
            },
            "idempotency_key": idempotency_key(self.system, raw.instance, rid, env.event_id),
            "episode": {},
            **map_subject(env, quality),
        }
        mapped = answers.values()
        for path, source in deployment.fields.items():
            # A default describes the form it belongs to: an episode default (the police force) is not
            # news on a return interview, and a provider default does not mean an interview was offered.
            if (
                source.default is not None
                and path not in mapped
                and path.startswith("episode." if kind == "episode" else "return_interview.")
            ):
                mapped[path] = source.default
        outcome = mapped.pop("return_interview.outcome", None)
        if outcome is not None:
            mapped["return_interview.declined"] = outcome == "declined"
        if outcome == "declined":
            # README §4: the date of a declined interview is only its occurred_at, not a completion.
            mapped.pop("return_interview.completed_at", None)
        for path, value in mapped.items():
            _put(values, path, value)
        values["data_quality"] = quality
        event = finish(values, where=f"workflow step {env.step_id}")
        log.info(
            "mosaic.mapped",
            instance=raw.instance,
            record_id=rid,
            source_event_id=env.event_id,
            event_type=decision.event_type,
            data_quality=len(event.data_quality),
        )
        return [event]

    def _ignore(
        self, raw: RawInput, step_id: int, step_type_id: int, reason: str
    ) -> list[MissingEpisodeEvent]:
        count_ignored(self.system, raw.instance, reason)
        log.info(
            "mosaic.ignored",
            instance=raw.instance,
            workflow_step_id=step_id,
            workflow_step_type_id=step_type_id,
            reason=reason,
        )
        return []
