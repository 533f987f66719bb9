"""NHS number check (Modulus 11), as published in the NHS Data Dictionary.

Kept apart from the models so adapters can test a value before they decide whether to keep it or
record it in ``data_quality``.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s-]")


def normalise_nhs_number(value: str) -> str:
    """Strip the spaces and hyphens people type (``999 650 1388``)."""
    return _SEPARATORS.sub("", value)


def nhs_number_problem(value: str) -> str | None:
    """Return why ``value`` is not a valid NHS number, or None when it is valid."""
    digits = normalise_nhs_number(value)
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        return "an NHS number has exactly 10 digits"
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - (total % 11)
    if check == 11:
        check = 0
    if check == 10 or check != int(digits[9]):
        return "NHS number fails its Modulus 11 check digit"
    return None


def is_valid_nhs_number(value: str) -> bool:
    return nhs_number_problem(value) is None
