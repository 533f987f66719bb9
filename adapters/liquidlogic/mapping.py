"""A Liquidlogic LCS deployment: ``mappings/sources/liquidlogic/<instance>.yaml``.

LCS codes are the same everywhere (they come from the warehouse and the SSDA903 return), so the file
holds only what differs between councils.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class LiquidlogicInstance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    la_code: Annotated[str, StringConstraints(pattern=r"^\d{3}$")]
    la_name: str
    # Form type codes of the XML notification that are missing / absent episode forms; any other form
    # sent down a shared notification channel is acknowledged and ignored.
    missing_form_types: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        default_factory=lambda: ["MISS_ABS"], min_length=1
    )
