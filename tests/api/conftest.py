"""API tests reuse the end-to-end fixtures (real broker, both databases)."""

from tests.e2e.conftest import api, worker  # noqa: F401 - fixtures
