"""A force's COMPACT deployment: ``mappings/sources/compact/<instance>.yaml``.

Everything that belongs to a force is data here: its PFA code (``Header/Force/@code`` must equal it),
its time zone for offset-less times, its limits, and the code lists that turn COMPACT codes into
canonical values. The file is checked when it is loaded: an unknown key, a canonical value that does
not exist, or a code list that misses a code the schema allows fails loudly (MappingFileError, naming
the file and field) before any report is read with it, rather than when a child's report arrives.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from adapters.compact.validate import schema_codes
from adapters.compact.xml import MAX_DEPTH, MAX_DOCUMENT_BYTES
from gateway.model import FoundBy, LegalStatus, MissingFrom, PlacementType, RiskFactor, RiskLevel, Sex

Code = Annotated[str, StringConstraints(min_length=1, max_length=100)]

# Which schema simple type each code list translates: the list must cover all of its codes.
SCHEMA_TYPES = {
    "sex": "SexCode",
    "missing_from": "MissingFromCode",
    "risk_grade": "RiskGradeCode",
    "risk_factor": "RiskFactorCode",
    "legal_status": "LegalStatusCode",
    "placement_type": "PlacementTypeCode",
    "found_by": "FoundByCode",
}


class CodeLists(BaseModel):
    """COMPACT code → canonical value. ``risk_factor`` may map a code to null: recognised and
    deliberately not mapped (``OTHER`` is free text only, README §4)."""

    model_config = ConfigDict(extra="forbid")

    sex: dict[Code, Sex]
    missing_from: dict[Code, MissingFrom]
    risk_grade: dict[Code, RiskLevel]
    risk_factor: dict[Code, RiskFactor | None]
    legal_status: dict[Code, LegalStatus]
    placement_type: dict[Code, PlacementType]
    found_by: dict[Code, FoundBy]

    @model_validator(mode="after")
    def _covers_the_schema(self) -> Self:
        gaps = []
        for field, simple_type in SCHEMA_TYPES.items():
            missing = sorted(schema_codes(simple_type) - set(getattr(self, field)))
            if missing:
                gaps.append(f"codes.{field} lacks {', '.join(repr(m) for m in missing)}")
        if gaps:
            raise ValueError("every code the COMPACT schema allows needs a mapping: " + "; ".join(gaps))
        return self


class CompactDeployment(BaseModel):
    """One force's COMPACT feed. See adapters/compact/README.md "Per-force mapping file"."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    force_code: Annotated[str, StringConstraints(pattern=r"^[EW]23[0-9]{6}$")]
    force_name: Annotated[str, StringConstraints(min_length=1)]
    timezone: str = "Europe/London"
    max_document_bytes: int = Field(default=MAX_DOCUMENT_BYTES, ge=16 * 1024, le=64 * 1024 * 1024)
    max_depth: int = Field(default=MAX_DEPTH, ge=8, le=200)
    max_email_attachments: int = Field(default=20, ge=1, le=200)
    codes: CodeLists

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def max_email_bytes(self) -> int:
        """Base64 makes an attachment a third larger, and a message may carry headers and a text part."""
        return self.max_document_bytes * 2 + 1024 * 1024
