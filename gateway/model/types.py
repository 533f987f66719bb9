"""Reusable annotated types for the canonical models.

Times: a naive time from a source is UK local time (Europe/London, BST-aware) and is stored as UTC;
an aware time is converted to UTC. This is the one place that rule lives.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BeforeValidator, StringConstraints

from gateway.model.nhs_number import nhs_number_problem, normalise_nhs_number

LONDON = ZoneInfo("Europe/London")


def to_utc(value: datetime) -> datetime:
    """Naive → Europe/London → UTC; aware → UTC.

    ``fold=0`` for a naive time in the repeated hour of the October change picks the first (BST)
    occurrence, which is the earlier instant: the safer reading for a "last seen" time.
    """
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        value = value.replace(tzinfo=LONDON)
    return value.astimezone(UTC)


def _check_nhs_number(value: str) -> str:
    digits = normalise_nhs_number(value)
    problem = nhs_number_problem(digits)
    if problem:
        raise ValueError(problem)
    return digits


UtcDateTime = Annotated[datetime, AfterValidator(to_utc)]
NhsNumber = Annotated[
    str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v), AfterValidator(_check_nhs_number)
]
LaCode = Annotated[str, StringConstraints(pattern=r"^\d{3}$")]
"""DfE three-digit local authority code, e.g. ``"886"`` for Kent."""
PfaCode = Annotated[str, StringConstraints(pattern=r"^[EW]23\d{6}$")]
"""ONS police force area code, e.g. ``E23000015`` for Staffordshire (``W23…`` for the Welsh forces)."""
NonEmptyStr = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
