"""Hypothesis strategies for hostile and broken partner input, shared by every adapter's fuzz run.

An input is drawn as one of:
- random bytes;
- a seed (a valid specimen) truncated, or with random bytes written over part of it;
- a seed with a token edit: a random span replaced by one of the things parsers trip on (markup
  and JSON punctuation, entity and DOCTYPE declarations, NUL and control bytes, huge numbers, deep
  nesting, invalid UTF-8, impossible dates, very long strings), or removed, or duplicated;
- two seeds spliced together.
Several edits may stack, so the deeper parts of each format are reached, not only its first byte.
"""

from __future__ import annotations

from hypothesis import strategies as st

NASTY: list[bytes] = [
    b"<",
    b">",
    b"</",
    b"/>",
    b"&",
    b"&amp;",
    b"&#0;",
    b"&#x110000;",
    b"<![CDATA[",
    b"]]>",
    b"<?xml",
    b"?>",
    b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
    b'<!ENTITY a "aaaa">',
    b"&e;",
    b"{",
    b"}",
    b"[",
    b"]",
    b'"',
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b":",
    b",",
    b"null",
    b"true",
    b"[]",
    b"{}",
    b"\x00",
    b"\xff\xfe",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b"\r\n",
    b"\n\n",
    b"\t",
    b"9" * 400,
    b"-1",
    b"1e309",
    b"NaN",
    b"0000-00-00",
    b"2026-02-30",
    b"1900-01-01T25:61:61Z",
    b"31/02/2011",
    b"9999999999",
    b"999 000 0000",
    b"Z" * 5000,
    b"[" * 2000,
    b'{"a":' * 500,
    b"<a>" * 2000,
    b",,,,,,,,",
    b'"""',
    b"=cmd|' /C calc'!A0",
    b"\xe2\x80\xae",
    b"\xef\xbb\xbf",
    b"Content-Type: text/plain\r\n",
    b"--boundary--",
    b"base64",
    b"=?utf-8?b?AAAA?=",
]


@st.composite
def _edit(draw: st.DrawFn, body: bytes, seeds: list[bytes]) -> bytes:
    kind = draw(st.sampled_from(["replace", "delete", "duplicate", "overwrite", "splice"]))
    n = len(body)
    start = draw(st.integers(0, n))
    end = draw(st.integers(start, min(n, start + 64)))
    if kind == "replace":
        return body[:start] + draw(st.sampled_from(NASTY)) + body[end:]
    if kind == "delete":
        return body[:start] + body[end:]
    if kind == "duplicate":
        return body[:end] + body[start:end] * draw(st.integers(1, 50)) + body[end:]
    if kind == "overwrite":
        junk = draw(st.binary(min_size=1, max_size=16))
        return body[:start] + junk + body[start + len(junk) :]
    other = draw(st.sampled_from(seeds))
    cut = draw(st.integers(0, len(other)))
    return body[:start] + other[cut:]


@st.composite
def inputs(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    how = draw(st.sampled_from(["random", "truncate", "edits", "edits", "edits"]))
    if how == "random" or not seeds:
        return draw(st.binary(max_size=4096))
    body = draw(st.sampled_from(seeds))
    if how == "truncate":
        return body[: draw(st.integers(0, len(body)))]
    for _ in range(draw(st.integers(1, 4))):
        body = draw(_edit(body, seeds))
    return body
