"""The collector's web pages (SPEC-2 §13): the operators' console and the client's portal
under `/ui/`, the public status page `/status/{client}`, and `/docs` with local assets.

Server-rendered with Jinja2; htmx (vendored in static/, with its licence) only where a
page updates itself (the fleet) or a form asks before saving (the 8-day rule). No script
or style inline, so the Content-Security-Policy needs no 'unsafe-inline'. Pages call the
same use cases as the API (collector/services) and check the same permissions
(collector/api/auth.py `Principal`). docs/pages.md tells the choices.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from collector.config import Config
from collector.ui import docs, home, incidents, maintenances, signin, sla, status
from collector.ui.session import Sessions
from collector.ui.web import environment

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI, config: Config) -> None:
    """The pages' routes, their static files and what they keep in `app.state`."""
    app.state.ui_templates = environment()
    app.state.ui_sessions = Sessions(config)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    for module in (signin, home, incidents, maintenances, sla, status, docs):
        app.include_router(module.router)
