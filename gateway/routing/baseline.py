"""The foundation's single sharing rule: tell the responsible authority's front door about every change.

Interim: the sharing-rules engine (mappings/areas/*.yaml) replaces this. Until then every event on an
episode notifies the child's responsible authority, or, when a police-only feed does not say who that
is, the host authority where the child lives or is placed, so a report is never left unrouted for lack
of care details. When neither is known, no notification can be addressed and the processor records
the gap for operators (see ``Router.route``).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.model import Episode, MissingEpisodeEvent, Recipient, RecipientKind, Role, RuleRef


@dataclass(frozen=True)
class Decision:
    recipient: Recipient
    rule: RuleRef
    purpose: str
    profile: str
    lawful_basis: str
    consent: str = "not_required"


BASELINE_RULE = RuleRef(
    id="national.responsible-la-front-door",
    area="national",
    cite="DfE 2014 statutory guidance 'Children who run away or go missing from home or care' "
    "(responsible authority informed)",
)
LAWFUL_BASIS = (
    "Children Act 1989 s17 and s47; Children Act 2004 s11; UK GDPR Art 6(1)(e); "
    "DPA 2018 Sch 8 para 4 (safeguarding of children)"
)

_WHAT = {
    "reported": "reported missing",
    "updated": "report updated",
    "risk_changed": "risk level changed",
    "found": "found",
    "safe_and_well_completed": "safe and well check completed",
    "return_interview_offered": "return interview offered",
    "return_interview_completed": "return interview completed",
    "return_interview_declined": "return interview declined",
    "closed": "episode closed",
    "cancelled": "report cancelled (recorded in error)",
}


def baseline_decisions(episode: Episode, event: MissingEpisodeEvent) -> list[Decision]:
    care = episode.care
    la = (care.responsible_la or care.host_la) if care else None
    if la is None:
        return []
    out_of_area = bool(care and care.host_la and care.responsible_la and care.host_la != care.responsible_la)
    purpose = f"Child {_WHAT[event.event_type.value]}"
    if out_of_area and care is not None:
        purpose += f" (placed by {care.responsible_la} in {care.host_la})"
    return [
        Decision(
            recipient=Recipient(kind=RecipientKind.la, id=la, role=Role.front_door),
            rule=BASELINE_RULE,
            purpose=purpose,
            profile="full",
            lawful_basis=LAWFUL_BASIS,
        )
    ]
