"""An NHS sender's deployment: ``mappings/sources/nhs/<instance>.yaml``.

One instance per sending organisation (``nhs-`` + lower-case ODS code, README §1). The file holds the
organisation's ODS code: the sending Organization in every message on that channel must carry it
(README §5.6), so a message that claims another organisation is refused. ``ods_codes`` is a list only so
that an organisation known by more than one code (a merged trust during its transition, or the shared
``nhs-test`` instance that accepts the four test organisations) can be configured; a real deployment
normally lists one.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from adapters.nhs.read import MAX_DEPTH, MAX_DOCUMENT_BYTES

OdsCode = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{3,10}$")]


class NhsInstance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    ods_codes: list[OdsCode] = Field(min_length=1)
    organisation_name: Annotated[str, StringConstraints(min_length=1)]
    max_document_bytes: int = Field(default=MAX_DOCUMENT_BYTES, ge=16 * 1024, le=64 * 1024 * 1024)
    max_depth: int = Field(default=MAX_DEPTH, ge=16, le=200)
