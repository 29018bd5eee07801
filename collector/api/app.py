"""`create_app(config, engine)`: the HTTP layer composed explicitly (routes, error
handlers, lifespan with the periodic jobs); `app_from_env()`: the same in each worker
process of `serve` with `workers` > 1."""
from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy.engine import Engine
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
from collector.config import Config, load
from collector.metrics import CollectorMetrics

logger = logging.getLogger(__name__)

CONFIG_ENV = "VIGIE_COLLECTOR_CONFIG"  # the configuration file of `app_from_env`


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


def create_app(config: Config, engine: Engine, *, start_jobs: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        scheduler = jobs.start(engine, config) if start_jobs else None
        try:
            yield
        finally:
            if scheduler is not None:
                jobs.stop(scheduler)

    app = CollectorApp(title="Vigie collector", version="0.1.0", lifespan=lifespan,
                       openapi_url="/openapi.json", docs_url="/docs", redoc_url=None)
    app.state.config = config
    app.state.engine = engine
    app.state.tokens = TokenTable(config)
    app.state.metrics = CollectorMetrics(engine, config)
    app.state.registry = app.state.metrics.registry
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


def app_from_env() -> FastAPI:
    """uvicorn's app factory in each worker process (`serve` with `workers` > 1): the
    configuration named by $VIGIE_COLLECTOR_CONFIG, on the database the parent migrated.
    Every worker starts the jobs' scheduler; only the leader runs them (collector.jobs)."""
    from collector.__main__ import configure_logging  # handlers are configured there only
    from collector.store.engine import make_engine

    config = load(os.environ[CONFIG_ENV])
    configure_logging(config.log_level)
    return create_app(config, make_engine(config.database))
