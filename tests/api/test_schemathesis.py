"""schemathesis against the published OpenAPI: no generated request, with or without credentials,
makes the API answer 5xx. (Its pytest plugin does not load under pytest 9, so each operation's
Hypothesis strategy is driven directly.)"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings

from gateway.settings import Settings
from tests.e2e.conftest import ApiClient


def test_no_generated_request_makes_the_api_fail(settings: Settings, api: ApiClient) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    credentials = ({}, {"Authorization": api.headers["Authorization"]}, api.operator)
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @hsettings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case) -> None:  # type: ignore[no-untyped-def]
            for headers in credentials:
                response = case.call(headers={**(case.headers or {}), **headers})
                assert response.status_code < 500, (
                    case.method,
                    case.formatted_path,
                    response.status_code,
                    response.text[:300],
                )

        check()
        checked.append(f"{operation.method.upper()} {operation.path}")
    assert len(checked) >= 15, checked  # every route was exercised
