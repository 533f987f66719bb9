"""SSDA903 (children looked after return) codes used by Mosaic and Liquidlogic LCS.

Both systems hold the DfE legal status and placement type codes; their READMEs map them the same way.
"""

from __future__ import annotations

_LEGAL_STATUS = {
    "C1": "s38_interim",
    "C2": "s31_care_order",
    "V2": "s20",
    "V3": "s20",
    "V4": "s20",
    "L1": "police_protection",
    "J1": "remand",
}

_PLACEMENT_TYPE = {
    "U1": "foster",
    "U2": "foster",
    "U3": "foster",
    "U4": "foster",
    "U5": "foster",
    "U6": "foster",
    "K2": "childrens_home",
    "K1": "secure",
    "H5": "semi_independent",
    "P1": "with_parents",
}


def legal_status(code: str | None, looked_after: bool | None) -> str | None:
    """Canonical legal status. No code and not looked after is ``none``; no code while looked after
    (or not known) stays unset rather than guess."""
    if code:
        return _LEGAL_STATUS.get(code.strip().upper(), "unknown")
    if looked_after is False:
        return "none"
    return None


def placement_type(code: str | None) -> str | None:
    """Canonical placement type; an unlisted code is still a placement (``other``), no code is none."""
    if not code:
        return None
    return _PLACEMENT_TYPE.get(code.strip().upper(), "other")
