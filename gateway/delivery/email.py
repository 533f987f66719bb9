"""Email channel: secure email, as councils use today. SMTP with STARTTLS and authentication.

One message per notification and endpoint: a plain-text body a practitioner can act on (what this is,
who the child is as far as the sharing profile allows, what happened, what is due by when, which rule
and protocol paragraph asked for it) and the complete Notification JSON attached for systems.

- The subject carries no personal data (mail servers log subjects, phones show them on lock screens):
  it says what kind of notice it is and the gateway's short reference.
- ``Message-ID`` is derived from the notification id, so a mail system can recognise a repeat.
- STARTTLS is required unless ``GATEWAY_SMTP_STARTTLS=false`` (development only; refused in
  production): a server that does not offer it is not sent to (retry, then dead letter + alert).
- Outcomes: accepted by the server → delivered (a server that accepts some recipients and refuses
  others is delivered; the refused addresses are in the receipt); 4xx replies, disconnects, timeouts and
  TLS errors → retry; 5xx replies (address refused, authentication refused) → failed.
"""

from __future__ import annotations

import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from gateway.delivery.channel import Channel, ChannelContext, DeliveryResult, register_channel
from gateway.model import Notification
from gateway.model.types import LONDON

WORDS = {
    "missing_from": {"care_placement": "care placement", "health_setting": "a health setting"},
    "category": {
        "missing": "missing",
        "away_without_authorisation": "away from placement without authorisation (whereabouts known)",
        "unauthorised_absence": "unauthorised absence",
    },
}


def _when(value: Any) -> str:
    if not value:
        return ""
    try:
        at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if at.tzinfo is None:
        return at.strftime("%A %d %B %Y")
    return at.astimezone(LONDON).strftime("%A %d %B %Y, %H:%M (UK time)")


def _get(doc: dict[str, Any], path: str) -> Any:
    cur: Any = doc
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _text(value: Any, group: str | None = None) -> str:
    if value is None or value == "" or value == []:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_text(v, group) for v in value)
    if isinstance(value, dict):
        return ", ".join(str(v) for v in value.values() if v not in (None, ""))
    words = WORDS.get(group or "", {})
    return words.get(str(value), str(value).replace("_", " "))


def render_text(n: Notification) -> str:
    """The practitioner's body. Only what ``payload`` holds is shown: the payload is already the
    profile's projection, so this can never show more than the recipient may see."""
    p = n.payload
    lines: list[str] = [
        "OFFICIAL-SENSITIVE. A notice from the missing-episode gateway about a child missing from home "
        "or care. Handle under your organisation's safeguarding procedures; do not forward outside them.",
        "",
        f"WHAT THIS IS: {n.purpose}",
    ]
    if n.kind.value == "task":
        lines.append("ACTION NEEDED: this is a task for you or your team, to be done by the deadline below.")
    else:
        lines.append("FOR YOUR INFORMATION and any action your procedures require.")
    lines.append(f"DUE BY: {_when(n.due_by) if n.due_by else 'no deadline stated'}")
    if n.urgency is not None:
        lines.append(f"URGENCY: {n.urgency.value}")

    def section(title: str, rows: list[tuple[str, Any, str | None]]) -> None:
        shown = [(label, _text(v, g)) for label, v, g in rows]
        shown = [(label, v) for label, v in shown if v]
        if shown:
            lines.extend(["", title])
            lines.extend(f"  {label}: {v}" for label, v in shown)

    name = " ".join(x for x in (_get(p, "child.given_name"), _get(p, "child.family_name")) if x)
    section(
        f"THE CHILD (what the '{n.profile}' sharing profile allows you to see)",
        [
            ("Name", name, None),
            ("Known as", _get(p, "child.known_as"), None),
            ("Date of birth", _get(p, "child.date_of_birth"), None),
            ("Sex", _get(p, "child.sex"), None),
            ("NHS number", _get(p, "child.ids.nhs_number"), None),
            ("Description", _get(p, "child.description"), None),
            ("Languages", _get(p, "child.languages"), None),
            ("Interpreter needed", _get(p, "child.interpreter_needed"), None),
        ],
    )
    section(
        "WHAT HAPPENED",
        [
            ("Episode status", p.get("status"), None),
            ("Category", _get(p, "episode.category"), "category"),
            ("Missing from", _get(p, "episode.missing_from"), "missing_from"),
            ("Last seen", _when(_get(p, "episode.last_seen_at")), None),
            ("Last seen at", _get(p, "episode.last_seen_location"), None),
            ("Reported to police", _when(_get(p, "episode.reported_at")), None),
            ("Police risk grading", _get(p, "episode.risk_level"), None),
            ("Risk factors", sorted(_get(p, "episode.risk_factors") or []), None),
            ("Police force", _get(p, "episode.police.force"), None),
            ("Police reference", _get(p, "episode.police.reference"), None),
            ("Found", _when(_get(p, "episode.found_at") or p.get("found_at")), None),
            ("Found at", _get(p, "episode.found_location"), None),
            ("Found by", _get(p, "episode.found_by"), None),
            ("Harm disclosed", _get(p, "episode.harm_disclosed"), None),
            ("Circumstances", _get(p, "episode.circumstances"), None),
            ("Closed", _when(p.get("closed_at")), None),
        ],
    )
    section(
        "CARE",
        [
            ("Looked after", _get(p, "care.looked_after"), None),
            ("Legal status", _get(p, "care.legal_status"), None),
            ("Child protection plan", _get(p, "care.cp_plan"), None),
            ("Responsible authority (DfE code)", _get(p, "care.responsible_la"), None),
            ("Host authority (DfE code)", _get(p, "care.host_la"), None),
            ("Placement", _get(p, "care.placement.type"), None),
            ("Allocated worker", _get(p, "care.allocated_worker"), None),
        ],
    )
    section(
        "EDUCATION AND HEALTH",
        [
            ("School", _get(p, "education.school_name"), None),
            ("School URN", _get(p, "education.school_urn"), None),
            ("GP practice (ODS)", _get(p, "health.gp_ods"), None),
            ("Return interview offered", _when(_get(p, "return_interview.offered_at")), None),
            ("Return interview completed", _when(_get(p, "return_interview.completed_at")), None),
        ],
    )
    lines.extend(["", "WHY YOU ARE RECEIVING THIS"])
    lines.append(f"  Rule: {n.rule.id} ({n.rule.area}), {n.rule.cite}")
    for other in n.rules:
        if other.id != n.rule.id:
            lines.append(f"  Also asked for by: {other.id} ({other.area}), {other.cite}")
    lines.append(f"  Lawful basis: {n.lawful_basis}")
    lines.extend(
        [
            "",
            "REFERENCES (quote these when you reply or call)",
            f"  Notification: {n.notification_id}",
            f"  Episode: {n.episode_id}",
            f"  Sent: {_when(n.created_at)}",
            "",
            f"The complete notice is attached as notification-{n.notification_id}.json for your systems.",
            "",
        ]
    )
    return "\n".join(lines)


def subject(n: Notification) -> str:
    what = "Task" if n.kind.value == "task" else "Notice"
    urgent = "URGENT " if n.urgency is not None and n.urgency.value == "immediate" else ""
    return f"OFFICIAL-SENSITIVE: {urgent}missing child {what.lower()} (ref {str(n.notification_id)[:8]})"


def build_message(n: Notification, sender: str, to: list[str], endpoint_id: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject(n)
    msg["Date"] = formatdate(localtime=False)
    domain = sender.rsplit("@", 1)[-1] or "gateway.invalid"
    msg["Message-ID"] = f"<{n.notification_id}.{endpoint_id}@{domain}>"
    msg["X-Gateway-Notification-Id"] = str(n.notification_id)
    msg.set_content(render_text(n))
    msg.add_attachment(
        n.to_json(),
        maintype="application",
        subtype="json",
        filename=f"notification-{n.notification_id}.json",
    )
    return msg


@register_channel
class EmailChannel(Channel):
    name = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int = 587,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        ca_file: str | None = None,
        timeout_s: float = 15.0,
    ):
        self._host = host
        self._port = port
        self._sender = sender
        self._username = username
        self._password = password
        self._starttls = starttls
        self._ca_file = ca_file
        self._timeout = timeout_s

    @classmethod
    def create(cls, context: ChannelContext) -> Channel:
        s = context.settings
        return cls(
            host=s.smtp_host,
            port=s.smtp_port,
            sender=s.smtp_from,
            username=s.smtp_username,
            password=s.smtp_password,
            starttls=s.smtp_starttls,
            ca_file=str(s.smtp_ca_file) if s.smtp_ca_file else None,
            timeout_s=s.delivery_timeout_s,
        )

    def deliver(self, notification: Notification, endpoint: dict[str, Any]) -> DeliveryResult:
        to = [str(a) for a in endpoint.get("to") or []]
        if not to:
            return DeliveryResult("failed", "no address configured")
        msg = build_message(notification, self._sender, to, str(endpoint.get("id", "email")))
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                smtp.ehlo()
                if self._starttls:
                    if not smtp.has_extn("starttls"):
                        # Never fall back to plain text: a stripped STARTTLS may be an attack.
                        return DeliveryResult("retry", "server did not offer STARTTLS: not sent")
                    context = ssl.create_default_context(cafile=self._ca_file)
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if self._username:
                    smtp.login(self._username, self._password or "")
                refused = smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            permanent = all(c >= 500 for c in codes)
            return DeliveryResult(
                "failed" if permanent else "retry", f"all recipients refused (SMTP {codes})"
            )
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused, auth refused
            detail = f"SMTP {exc.smtp_code} ({type(exc).__name__})"
            if exc.smtp_code >= 500:
                return DeliveryResult("failed", detail)
            return DeliveryResult("retry", detail)
        except (TimeoutError, smtplib.SMTPException, ssl.SSLError, OSError) as exc:
            return DeliveryResult("retry", f"{type(exc).__name__}")
        receipt: dict[str, Any] = {"message_id": msg["Message-ID"], "accepted": len(to) - len(refused)}
        if refused:
            receipt["refused_codes"] = sorted({code for code, _ in refused.values()})
        return DeliveryResult("delivered", f"accepted by {self._host}", receipt)
