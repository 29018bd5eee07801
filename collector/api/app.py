"""`create_app(config, db)`: the HTTP layer composed explicitly (routes, error
handlers, lifespan with the periodic jobs).

Everything a request may need lives in `app.state`, built here once per app: the
configuration, the database, the token table, the process's counters and metrics
registry, the ingest writer, the body limits. No module of `collector.api` keeps state of
its own, so two apps in one process (the tests run many) never share any.

The door of every route but POST /api/v1/reports (which has its own): `limits.BodyLimit`
reads the body within its limits before routing and authentication (413, 408), the routes'
`jsonbody.JSONRoute` parses it (422 `body: not JSON`), `bounds` types every field and
parameter (422 naming it), `errors` gives every refusal one shape.
"""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from collector import jobs, ui
from collector.api import errors
from collector.api.auth import TokenTable
from collector.api.limits import BodyLimit, BodyLimits
from collector.api.responses import READER, answers
from collector.api.routes import (
    alertmanager,
    audit,
    cluster,
    deliveries,
    enrol,
    health,
    incidents,
    inventory,
    maintenances,
    probes,
    prometheus,
    reports,
    servers,
    sla,
    statements,
)
from collector.api.throttle import AuthThrottle, throttled
from collector.config import Config
from collector.metrics import CollectorMetrics
from collector.services.alertmanager import AlertCounts
from collector.services.detection import Clock, DetectionErrors
from collector.services.ingest import IngestWriter
from collector.services.inventory import Current, token_of
from collector.services.inventory_holder import InventoryHolder
from collector.store import Database

logger = logging.getLogger(__name__)


class CollectorApp(FastAPI):
    """FastAPI, except that POST /api/v1/reports goes straight to its ASGI handler, before
    the middleware stack (about 100 us of CPU per report, a tenth of the total measured by
    bench/ingest.py); the handler answers its own errors, unexpected ones included."""

    reports_endpoint: reports.ReportsEndpoint | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        endpoint = self.reports_endpoint
        if endpoint is not None and scope["path"] == reports.PATH and scope["method"] == "POST":
            scope["app"] = self
            await endpoint(scope, receive, send)  # throttles failed tokens itself
            return
        # failed authentication rate limited per address, every route (SPEC-2 §12)
        await throttled(self.state.auth_throttle, super().__call__, scope, receive, send)


def create_app(config: Config, db: Database, *, start_jobs: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        scheduler = jobs.start(db, config, objects={
            "detection_errors": app.state.detection_errors, "detection_clock": Clock()},
            inventory=app.state.inventory) if start_jobs else None
        try:
            yield
        finally:
            if scheduler is not None:
                jobs.stop(scheduler)

    app = CollectorApp(title="Vigie collector", version="0.1.0", lifespan=lifespan,
                       openapi_url="/openapi.json", redoc_url=None,
                       docs_url=None)  # /docs: collector.ui.docs, with local assets
    app.state.config = config
    app.state.db = db
    app.state.tokens = TokenTable(config)
    app.state.alert_counts = AlertCounts()
    app.state.detection_errors = DetectionErrors()
    app.state.metrics = CollectorMetrics(db, config, app.state.alert_counts,
                                         app.state.detection_errors)
    app.state.ingest_writer = IngestWriter(db, config)  # its thread starts on first report
    app.state.auth_throttle = AuthThrottle(on_failure=app.state.metrics.auth_failures.count)
    app.state.body_limits = BodyLimits()
    # SPEC-2 §15: the inventory of the database (the file's entries loaded into it), what
    # the routes and jobs read from now on; swapped whole when another change lands
    app.state.inventory = InventoryHolder(db, config, on_swap=lambda c: _swap(app, c))
    app.state.inventory.start()
    app.add_middleware(BodyLimit, state=app.state)
    errors.install(app)
    # the reports route: a plain ASGI handler, taken before the middleware (CollectorApp);
    # also the first route, so that other methods on its path answer 405
    route = reports.route(app.state)
    app.reports_endpoint = route.app  # type: ignore[assignment]
    app.router.routes.insert(0, route)
    app.openapi = _openapi_with_reports(app)  # type: ignore[method-assign]
    # what the servers routes can answer besides 200 (their models: api/responses.py)
    app.include_router(servers.router, responses=answers(*READER, 404))
    app.include_router(probes.router)  # SPEC-2 §10
    for module in (incidents, maintenances, sla, deliveries, prometheus, alertmanager, health,
                   cluster, audit, statements, inventory, enrol):
        app.include_router(module.router)
    ui.install(app, config)  # the pages, the status page, /docs (SPEC-2 §13)
    return app


def _swap(app: FastAPI, current: Current) -> None:
    """A new inventory for the app: the token table first (a new server's token works as
    soon as its configuration can be read), then what reads the configuration."""
    state = app.state
    state.tokens = (TokenTable(current.config, current.digests) if current.moved is None
                    else state.tokens.followed((token_of(old), token_of(new))
                                               for old, new in current.moved))
    state.config = current.config
    state.ingest_writer.config = current.config
    state.metrics.config = current.config


def _openapi_with_reports(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """FastAPI's document, plus the reports route (not a FastAPI route: it is not seen)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()  # cached by FastAPI in app.openapi_schema: completed once
            path = reports.openapi_path(schema.setdefault("components", {}))
            for operation in path.values():  # its errors: the one declared error shape
                for code, response in operation.get("responses", {}).items():
                    if code.startswith(("4", "5")):
                        response["content"] = {"application/json": {
                            "schema": {"$ref": "#/components/schemas/ErrorOut"}}}
            schema["paths"][reports.PATH] = path
        return app.openapi_schema  # type: ignore[return-value]
    return openapi
