"""The browser console: server-rendered pages for operators (episodes, deadlines, quarantine, dead
letters, review items, rules) and for recipients (their inbox). See docs/console.md.

Pages reuse the API's services and route functions; nothing here decides anything the API does not."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from gateway.console import episodes, inbox, operations, rules, signin
from gateway.console.auth import Refused, SignInRequired
from gateway.console.render import STATIC, page
from gateway.console.session import Signer
from gateway.settings import Settings


def mount(app: FastAPI, settings: Settings) -> None:
    """Add the console's routes, static files and error pages to the API's app."""
    app.state.console_signer = Signer.from_settings(settings)
    for module in (signin, episodes, operations, rules, inbox):
        app.include_router(module.router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")

    @app.exception_handler(SignInRequired)
    async def _sign_in(_request: Request, _exc: SignInRequired) -> Response:
        return RedirectResponse("/console/login", status_code=303)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        return page(
            request,
            "message.html",
            None,
            status_code=exc.status,
            title="Not allowed" if exc.status == 403 else "Not found" if exc.status == 404 else "Refused",
            message=exc.why,
            back="/console",
        )
