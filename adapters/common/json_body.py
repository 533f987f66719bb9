"""Reading a JSON request body without letting a decoder message leak its content."""

from __future__ import annotations

from typing import Any

import orjson

from adapters.base import InvalidInput, UnreadableInput

_UTF8_BOM = b"\xef\xbb\xbf"


def load_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object. Not UTF-8 JSON → UnreadableInput; JSON but not an object → InvalidInput."""
    if body.startswith(_UTF8_BOM):  # some Windows jobs write one; it carries no meaning
        body = body[len(_UTF8_BOM) :]
    if not body.strip():
        raise UnreadableInput("empty body: expected a JSON object")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        # orjson's message gives the position and kind of fault, never the text around it.
        raise UnreadableInput(f"not well-formed UTF-8 JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise InvalidInput(f"expected a JSON object, got a JSON {_json_type(doc)}")
    return doc


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "null"


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for reasons such as "expected a string, got a number"."""
    if isinstance(value, dict):
        return "object"
    return _json_type(value)
