"""`create_app(config, engine)`: the HTTP layer composed explicitly (routes, error
handlers, lifespan with the periodic jobs)."""
from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from collector import jobs
from collector.api import errors
from collector.api.auth import TokenTable
from collector.api.routes import health, incidents, maintenances, reports, servers
from collector.config import Config
from collector.metrics import CollectorMetrics

logger = logging.getLogger(__name__)

# Routers built by other parts of the project, included when installed.
OPTIONAL_ROUTERS = ("sla", "prometheus", "alertmanager", "deliveries")


def create_app(config: Config, engine: Engine, *, start_jobs: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        scheduler = jobs.start(engine, config) if start_jobs else None
        try:
            yield
        finally:
            if scheduler is not None:
                jobs.stop(scheduler)

    app = FastAPI(title="Vigie collector", version="0.1.0", lifespan=lifespan,
                  openapi_url="/openapi.json", docs_url="/docs", redoc_url=None)
    app.state.config = config
    app.state.engine = engine
    app.state.tokens = TokenTable(config)
    app.state.metrics = CollectorMetrics(engine, config)
    app.state.registry = app.state.metrics.registry
    errors.install(app)
    for module in (reports, servers, incidents, maintenances, health):
        app.include_router(module.router)
    for name in OPTIONAL_ROUTERS:
        full = f"collector.api.routes.{name}"
        try:
            module = importlib.import_module(full)
        except ModuleNotFoundError as exc:
            if exc.name != full:
                raise
            logger.debug("router %s not installed", full)
            continue
        app.include_router(module.router)
    return app
