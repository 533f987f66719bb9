"""The committed JSON Schemas (docs/schemas/) are what the models generate: the contract cannot drift."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from gateway.cli import app
from gateway.model.schemas import SCHEMAS, render
from gateway.settings import REPO_ROOT

DOCS = REPO_ROOT / "docs" / "schemas"


def test_committed_schemas_match_the_models() -> None:
    for name, model in SCHEMAS.items():
        committed = (DOCS / name).read_text(encoding="utf-8")
        assert committed == render(model), (
            f"docs/schemas/{name} is stale: run `gateway schema export docs/schemas`"
        )


def test_schema_export_command_writes_every_schema(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["schema", "export", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(SCHEMAS)
    event_schema = json.loads((tmp_path / "missing-episode-event-1.schema.json").read_text())
    assert "idempotency_key" in event_schema["required"]
    assert "schema" in event_schema["properties"]
