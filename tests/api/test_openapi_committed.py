"""docs/openapi.json is what the app publishes at /openapi.json (a test keeps them in sync)."""

from __future__ import annotations

import json

from gateway.api.app import create_app
from gateway.settings import REPO_ROOT, Settings


def test_committed_openapi_matches_the_app() -> None:
    committed = json.loads((REPO_ROOT / "docs" / "openapi.json").read_text())
    assert committed == create_app(Settings()).openapi(), (
        "docs/openapi.json is stale: run `gateway schema openapi docs/openapi.json`"
    )
    assert "/ingest/{system}/{instance}" in committed["paths"]
    assert committed["components"]["securitySchemes"]["HTTPBearer"]["type"] == "http"
