"""Mapping files are parsed once per version of the file (adapters/mapping.py): an edit takes effect on
the next input without a restart, a file broken by an edit is refused as before, and each caller gets
its own model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import BaseModel

from adapters.mapping import MappingFileError, load_source_mapping


class Mapping(BaseModel):
    la_code: str
    teams: dict[str, str] = {}


def _write(root: Path, text: str, bump_ns: int) -> None:
    path = root / "sources" / "mosaic" / "demo.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    # Filesystems with coarse timestamps: make each edit a visibly new version.
    os.utime(path, ns=(bump_ns, bump_ns))


def test_an_edit_is_read_on_the_next_call_and_a_broken_one_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "la_code: '886'\nteams: {a: b}\n", 1_000_000_000)
    first = load_source_mapping(tmp_path, "mosaic", "demo", Mapping)
    again = load_source_mapping(tmp_path, "mosaic", "demo", Mapping)
    assert first.la_code == again.la_code == "886"
    assert first is not again and first.teams is not again.teams  # one model per caller
    first.teams["a"] = "changed by a careless caller"
    assert load_source_mapping(tmp_path, "mosaic", "demo", Mapping).teams == {"a": "b"}

    _write(tmp_path, "la_code: '860'\n", 2_000_000_000)
    assert load_source_mapping(tmp_path, "mosaic", "demo", Mapping).la_code == "860"

    _write(tmp_path, "la_code: [unclosed\n", 3_000_000_000)
    with pytest.raises(MappingFileError, match=r"demo\.yaml"):
        load_source_mapping(tmp_path, "mosaic", "demo", Mapping)
    _write(tmp_path, "teams: {}\n", 4_000_000_000)
    with pytest.raises(MappingFileError, match="la_code"):
        load_source_mapping(tmp_path, "mosaic", "demo", Mapping)
