"""A Liberi deployment: ``mappings/sources/liberi/<instance>.yaml``.

The webhook secret itself never appears in a mapping file (they are committed to the repository):
the file names the environment variable that holds it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class LiberiInstance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    la_code: Annotated[str, StringConstraints(pattern=r"^\d{3}$")]
    la_name: str
    # e.g. GATEWAY_LIBERI_SECRET_KENT_LIBERI; unset or empty means every request is refused.
    secret_env: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{2,127}$")]
    # Replay protection on the signed publishedAt. Liberi retries for 24 hours with the original
    # publishedAt, so a shorter window would refuse genuine retries and lose the notice.
    max_delivery_age_hours: float = Field(default=26, ge=25, le=72)
    max_clock_skew_seconds: int = Field(default=300, ge=0, le=3600)
