"""`create_app(config, db)`: the HTTP layer composed explicitly (routes, error
handlers, lifespan with the periodic jobs).

Everything a request may need lives in `app.state`, built here once per app: the
configuration, the database, the token table, the process's counters and metrics
registry, the ingest writer. No module of `collector.api` keeps state of its own, so two
apps in one process (the tests run many) never share any.
"""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from collector import jobs
from collector.api import errors
from collector.api.auth import TokenTable
from collector.api.routes import (
    alertmanager,
    deliveries,
    health,
    incidents,
    maintenances,
    prometheus,
    reports,
    servers,
    sla,
)
from collector.config import Config
from collector.metrics import CollectorMetrics
from collector.services.alertmanager import AlertCounts
from collector.services.ingest import IngestWriter
from collector.store import Database

logger = logging.getLogger(__name__)


class CollectorApp(FastAPI):
    """FastAPI, except that POST /api/v1/reports goes straight to its ASGI handler, before
    the middleware stack (about 100 us of CPU per report, a tenth of the total measured by
    bench/ingest.py); the handler answers its own errors, unexpected ones included."""

    reports_endpoint: reports.ReportsEndpoint | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.reports_endpoint
        if (endpoint is not None and scope["type"] == "http"
                and scope["path"] == reports.PATH and scope["method"] == "POST"):
            scope["app"] = self
            await endpoint(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(config: Config, db: Database, *, start_jobs: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        scheduler = jobs.start(db, config) if start_jobs else None
        try:
            yield
        finally:
            if scheduler is not None:
                jobs.stop(scheduler)

    app = CollectorApp(title="Vigie collector", version="0.1.0", lifespan=lifespan,
                       openapi_url="/openapi.json", docs_url="/docs", redoc_url=None)
    app.state.config = config
    app.state.db = db
    app.state.tokens = TokenTable(config)
    app.state.alert_counts = AlertCounts()
    app.state.metrics = CollectorMetrics(db, config, app.state.alert_counts)
    app.state.ingest_writer = IngestWriter(db, config)  # its thread starts on first report
    errors.install(app)
    # the reports route: a plain ASGI handler, taken before the middleware (CollectorApp);
    # also the first route, so that other methods on its path answer 405
    route = reports.route(app.state)
    app.reports_endpoint = route.app  # type: ignore[assignment]
    app.router.routes.insert(0, route)
    app.openapi = _openapi_with_reports(app)  # type: ignore[method-assign]
    for module in (servers, incidents, maintenances, sla, deliveries, prometheus, alertmanager,
                   health):
        app.include_router(module.router)
    return app


def _openapi_with_reports(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """FastAPI's document, plus the reports route (not a FastAPI route: it is not seen)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()  # cached by FastAPI in app.openapi_schema: completed once
            schema["paths"][reports.PATH] = reports.openapi_path(
                schema.setdefault("components", {}))
        return app.openapi_schema  # type: ignore[return-value]
    return openapi
