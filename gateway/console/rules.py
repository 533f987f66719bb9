"""Each area's duty table (generated from the rule files by ``gateway.rules.docs``) and a form that runs
a scenario through ``gateway simulate``: the same engine, rules and code paths as the live pipeline."""

from __future__ import annotations

from typing import Any

import yaml
from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gateway.console.auth import FormDep, OperatorUser, audit, field
from gateway.console.render import page
from gateway.simulate import EXAMPLE_SCENARIO

router = APIRouter(prefix="/console", include_in_schema=False)

MAX_SCENARIO = 200_000


def _duties(rulebook: Any) -> dict[str, list[Any]]:
    # Imported here: the duty tables are another module's job and the page shows whatever it produces.
    from gateway.rules.docs import duties

    return duties(rulebook)


def _rules_page(request: Request, user: Any, **extra: Any) -> Response:
    rulebook = request.app.state.router.rulebook
    tables = _duties(rulebook)
    names = {f.area: str(getattr(f.header, "name", None) or f.area) for f in rulebook.files}
    context: dict[str, Any] = {"scenario": EXAMPLE_SCENARIO, "result": None, "error": None}
    context.update(extra)
    return page(request, "rules.html", user, tables=tables, names=names, **context)


@router.get("/rules")
def rules_page(request: Request, user: OperatorUser) -> Response:
    return _rules_page(request, user)


@router.post("/rules/simulate")
async def simulate_page(request: Request, user: OperatorUser, form: FormDep) -> Response:
    from gateway.simulate import Scenario, ScenarioError, simulate

    text = field(form, "scenario", MAX_SCENARIO) or ""
    try:
        doc = yaml.safe_load(text)
        scenario = Scenario.model_validate(doc)
        result = await run_in_threadpool(simulate, scenario, rulebook=request.app.state.router.rulebook)
    except (yaml.YAMLError, ValidationError, ScenarioError, ValueError) as exc:
        message = str(exc).splitlines()[:12]
        return _rules_page(request, user, scenario=text, error="\n".join(message))
    audit(request, user.principal, 200, "rules.simulate")
    return _rules_page(request, user, scenario=text, result=result)
