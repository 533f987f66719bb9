"""The recipient directory (``mappings/directory/*.yaml``): who (kind, id, role) is reached how.

Each recipient has one or more endpoints; a notification goes to **every** endpoint of its recipient
(e.g. the front door's AMQP queue and its secure mailbox). An endpoint names its channel and that
channel's settings:

- ``amqp``: ``queue`` (default: the routing key, e.g. ``la.886.front_door``), ``user`` (the RabbitMQ
  user that may read it; default ``recipient.<routing key>``), ``password_env`` (where provisioning
  reads its password; without it one is generated and printed once);
- ``webhook``: ``url`` (https), ``secret_env`` (environment variable holding the HMAC secret);
- ``email``: ``to`` (one or more addresses);
- ``fhir``: ``base_url`` (+ any further settings the FHIR channel reads);
- ``mesh``: ``mailbox``, ``workflow_id`` (+ any further settings the MESH channel reads).

Secrets are never in these files: only the *names* of environment variables that hold them.

Loading is strict (a safeguarding directory that is half-read is worse than one that fails): every
problem in every file is reported at once, each naming the file and the entry. Layers: the shipped
``mappings/directory`` (unless ``GATEWAY_DIRECTORY_SHIPPED=false``), then the deployment's own
``GATEWAY_DIRECTORY_DIR``, whose entries replace shipped entries for the same recipient. Entries marked
``example: true`` (fake endpoints under reserved domains) are left out in production, and in
production no endpoint may point at a reserved documentation domain (``.example``, ``example.org``...).
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal

import structlog
import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from gateway.model.enums import RecipientKind, Role
from gateway.rules.yamlio import load_yaml

log = structlog.get_logger(__name__)

EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]{0,127}$")]
EndpointId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
# A deliberately plain check: the SMTP server is the judge of deliverability; this catches typos.
EMAIL = re.compile(r"^[^@\s<>(),;:\"]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+$")
QUEUE = re.compile(r"^[A-Za-z0-9_.:-]{1,255}$")
# Reserved for documentation and testing (RFC 2606, RFC 6761): shipped examples use them so that a
# notice can never reach a real organisation by mistake; production refuses them.
RESERVED_DOMAINS = (
    ".example",
    ".test",
    ".invalid",
    ".localhost",
    "example.org",
    "example.com",
    "example.net",
)
ID_PATTERNS = {
    RecipientKind.la: re.compile(r"^\d{3}$"),  # DfE LA code
    RecipientKind.school: re.compile(r"^\d{6}$"),  # URN
    RecipientKind.health: re.compile(r"^[A-Z0-9]{3,10}$"),  # ODS code
    RecipientKind.police: re.compile(r"^[EW]23\d{6}$"),  # PFA code
}
NO_CHANNEL = "-"  # channel/endpoint of a ``deliveries`` row for a recipient with no endpoint


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AmqpEndpoint(_Strict):
    channel: Literal["amqp"]
    id: EndpointId | None = None
    queue: str | None = None
    user: str | None = Field(default=None, min_length=1, max_length=128)
    password_env: EnvName | None = None

    @model_validator(mode="after")
    def _queue(self) -> AmqpEndpoint:
        if self.queue is not None and not QUEUE.match(self.queue):
            raise ValueError(f"queue {self.queue!r}: letters, digits and . _ : - only")
        return self


class WebhookEndpoint(_Strict):
    channel: Literal["webhook"]
    id: EndpointId | None = None
    url: str
    secret_env: EnvName
    timeout_s: float | None = Field(default=None, gt=0, le=120)

    @model_validator(mode="after")
    def _url(self) -> WebhookEndpoint:
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"url {self.url!r} is not an absolute https URL")
        if parts.username or parts.password:
            raise ValueError("url must not carry credentials: use secret_env")
        return self

    @property
    def host(self) -> str:
        return urllib.parse.urlsplit(self.url).hostname or ""


class EmailEndpoint(_Strict):
    channel: Literal["email"]
    id: EndpointId | None = None
    to: list[str] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _addresses(self) -> EmailEndpoint:
        bad = [a for a in self.to if not EMAIL.match(a)]
        if bad:
            raise ValueError(f"not an email address: {', '.join(bad)}")
        return self


class _OpenEndpoint(BaseModel):
    """FHIR and MESH belong to the NHS adapter's channels: the directory checks the keys they cannot
    work without and passes everything else through to them as it is."""

    model_config = ConfigDict(extra="allow", frozen=True)
    id: EndpointId | None = None


class FhirEndpoint(_OpenEndpoint):
    channel: Literal["fhir"]
    base_url: str = Field(min_length=8)


class MeshEndpoint(_OpenEndpoint):
    channel: Literal["mesh"]
    mailbox: str = Field(min_length=1, max_length=64)
    workflow_id: str = Field(min_length=1, max_length=128)


AnyEndpoint = Annotated[
    AmqpEndpoint | WebhookEndpoint | EmailEndpoint | FhirEndpoint | MeshEndpoint,
    Field(discriminator="channel"),
]
CHANNEL_NAMES = ("amqp", "webhook", "email", "fhir", "mesh")


class RecipientEntry(_Strict):
    kind: RecipientKind
    id: str = Field(min_length=1, max_length=64)
    role: Role
    name: str = Field(default="", max_length=200, description="the organisation/team, for people")
    la: Annotated[str, StringConstraints(pattern=r"^\d{3}$")] | None = Field(
        default=None, description="a school's local authority: whose term dates its digest follows"
    )
    digest: bool | None = Field(
        default=None, description="hold non-urgent notices for the school digest (default: schools only)"
    )
    digest_at: str | None = Field(default=None, pattern=r"^\d{2}:\d{2}$")
    example: bool = Field(default=False, description="a fake entry shipped as an example")
    channels: list[AnyEndpoint] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> RecipientEntry:
        pattern = ID_PATTERNS.get(self.kind)
        if pattern is not None and not pattern.match(self.id):
            raise ValueError(f"id {self.id!r} is not a valid {self.kind.value} identifier")
        if "." in self.id or " " in self.id:
            raise ValueError(f"id {self.id!r}: no dots or spaces (it is part of a routing key)")
        ids = [endpoint_id(e) for e in self.channels]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"two endpoints named {', '.join(dupes)}: give each an `id`")
        return self

    @property
    def routing_key(self) -> str:
        return f"{self.kind.value}.{self.id}.{self.role.value}"

    @property
    def holds_digest(self) -> bool:
        return self.kind is RecipientKind.school if self.digest is None else self.digest

    def digest_time(self, default: time) -> time:
        if self.digest_at is None:
            return default
        hh, mm = self.digest_at.split(":")
        return time(int(hh), int(mm))

    def digest_time_text(self, default: str) -> str:
        return self.digest_at or default

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint(self, e) for e in self.channels]

    def endpoint(self, endpoint: str) -> Endpoint | None:
        return next((e for e in self.endpoints() if e.id == endpoint), None)


def endpoint_id(e: Any) -> str:
    return e.id or e.channel


@dataclass(frozen=True)
class Endpoint:
    recipient: RecipientEntry
    spec: Any  # one of the *Endpoint models

    @property
    def id(self) -> str:
        return endpoint_id(self.spec)

    @property
    def channel(self) -> str:
        return str(self.spec.channel)

    def settings(self) -> dict[str, Any]:
        """What the channel's ``deliver`` receives (Channel ABC): the endpoint's own settings."""
        out = self.spec.model_dump(exclude_none=True)
        out["id"] = self.id
        out["recipient"] = self.recipient.routing_key
        if self.channel == "amqp":
            out.setdefault("queue", self.recipient.routing_key)
            out.setdefault("user", f"recipient.{self.recipient.routing_key}")
        return out

    def hosts(self) -> list[str]:
        if self.channel == "webhook":
            return [self.spec.host]
        if self.channel == "email":
            return [a.rsplit("@", 1)[1] for a in self.spec.to]
        if self.channel == "fhir":
            return [urllib.parse.urlsplit(self.spec.base_url).hostname or ""]
        return []


class DirectoryFile(_Strict):
    description: str = ""
    recipients: list[Any] = Field(default_factory=list)


class DirectoryError(RuntimeError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("recipient directory is invalid:\n  " + "\n  ".join(problems))


@dataclass
class Directory:
    entries: dict[str, RecipientEntry] = field(default_factory=dict)  # by routing key
    sources: dict[str, Path] = field(default_factory=dict)  # which file each entry came from

    def lookup(self, kind: str, id_: str, role: str) -> RecipientEntry | None:
        return self.entries.get(f"{kind}.{id_}.{role}")

    def by_routing_key(self, routing_key: str) -> RecipientEntry | None:
        return self.entries.get(routing_key)

    def channels_used(self) -> set[str]:
        return {e.channel for r in self.entries.values() for e in r.endpoints()}

    def amqp_endpoints(self) -> list[Endpoint]:
        return [e for r in self.entries.values() for e in r.endpoints() if e.channel == "amqp"]

    def __len__(self) -> int:
        return len(self.entries)


def _reserved(host: str) -> bool:
    host = host.lower().rstrip(".")
    for domain in RESERVED_DOMAINS:
        bare = domain.lstrip(".")
        if host == bare or host.endswith("." + bare):
            return True
    return host in ("localhost", "127.0.0.1", "::1")


def _load_layer(directory: Path, production: bool, problems: list[str]) -> Directory:
    layer = Directory()
    if not directory.is_dir():
        problems.append(f"{directory}: not a directory")
        return layer
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        try:
            raw = load_yaml(path) or {}
            doc = DirectoryFile.model_validate(raw)
        except (OSError, yaml.YAMLError) as exc:
            problems.append(f"{path}: cannot read: {exc}")
            continue
        except ValidationError as exc:
            problems.append(f"{path}: {_errors(exc)}")
            continue
        for index, item in enumerate(doc.recipients):
            label = _label(item, index)
            try:
                entry = RecipientEntry.model_validate(item)
            except ValidationError as exc:
                problems.append(f"{path}: recipient {label}: {_errors(exc)}")
                continue
            key = entry.routing_key
            if key in layer.entries:
                problems.append(f"{path}: recipient {label}: {key} is also defined in {layer.sources[key]}")
                continue
            if production and entry.example:
                log.info("directory.example_skipped", recipient=key, file=str(path))
                continue
            if production:
                bad = [h for e in entry.endpoints() for h in e.hosts() if _reserved(h)]
                if bad:
                    problems.append(
                        f"{path}: recipient {label}: endpoint on a reserved example domain "
                        f"({', '.join(sorted(set(bad)))}) in production"
                    )
                    continue
            layer.entries[key] = entry
            layer.sources[key] = path
    return layer


def _label(item: Any, index: int) -> str:
    if isinstance(item, dict) and {"kind", "id", "role"} <= item.keys():
        return f"#{index + 1} ({item['kind']}.{item['id']}.{item['role']})"
    return f"#{index + 1}"


def _errors(exc: ValidationError) -> str:
    # include_input=False: a validation message must not echo values (addresses, urls are fine, but
    # the same reporter is used for anything a file may hold).
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(entry)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def load_directory(
    shipped: Path | None, overlay: Path | None = None, *, production: bool = False
) -> Directory:
    """The shipped layer (if any), then the deployment's overlay replacing entries it redefines."""
    problems: list[str] = []
    merged = Directory()
    for layer_dir in (shipped, overlay):
        if layer_dir is None:
            continue
        layer = _load_layer(layer_dir, production, problems)
        for key, entry in layer.entries.items():
            if key in merged.entries:
                log.info("directory.overridden", recipient=key, by=str(layer.sources[key]))
            merged.entries[key] = entry
            merged.sources[key] = layer.sources[key]
    if problems:
        raise DirectoryError(problems)
    return merged


def directory_from_settings(settings: Any) -> Directory:
    shipped = settings.mappings_dir / "directory" if settings.directory_shipped else None
    return load_directory(shipped, settings.directory_dir, production=settings.environment == "production")
