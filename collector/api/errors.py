"""One error shape for every error: `{"error": "..."}` (SPEC §5), FastAPI's own included."""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Route

from collector.api.bounds import NO_NUL_PATTERN
from collector.domain.sla import PeriodError
from collector.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge, Unauthorized
from collector.store import DatabaseError, is_unavailable

logger = logging.getLogger(__name__)

# PeriodError is the pure domain's (it names `month:` or `year:`): as unacceptable as Invalid
_STATUS: dict[type[Exception], int] = {Unauthorized: 401, Forbidden: 403, NotFound: 404,
                                       Conflict: 409, TooLarge: 413, Invalid: 422,
                                       PeriodError: 422}
# seconds a client is asked to wait while the database is away (a restart, a fail-over):
# the agent's spool and a well-behaved client try again then, not at once
RETRY_AFTER = 5


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def describe(errors: Sequence[Any], prefix: tuple[str, ...] = ()) -> str:
    """`body.collected_at: Input should have timezone info` for each problem, `; ` joined
    (a validator's own message without pydantic's "Value error, " before it)."""
    parts = []
    for e in errors:
        loc = prefix + tuple(str(p) for p in e.get("loc", ()))
        message = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        if e.get("type") == "string_pattern_mismatch" and (
                e.get("ctx", {}).get("pattern") == NO_NUL_PATTERN):
            message = "must not hold a NUL character"  # rather than the pattern saying it
        parts.append(f"{'.'.join(loc) or 'body'}: {message}")
    return "; ".join(parts)


def allowed_methods(routes: Iterable[BaseRoute], path: str) -> set[str]:
    """The methods of every route at `path` (Starlette's 405 names only those of the first
    route it tried: GET /incidents/{id} hid PATCH), also inside included routers."""
    methods: set[str] = set()
    for route in routes:
        inner = getattr(route, "original_router", None)  # FastAPI's included router
        if inner is not None:
            methods |= allowed_methods(inner.routes, path)
        elif isinstance(route, Route) and route.path_regex.match(path):
            methods |= route.methods or set()
    return methods


def install(app: FastAPI) -> None:
    async def known(_: Request, exc: Exception) -> JSONResponse:
        status = next(code for cls, code in _STATUS.items() if isinstance(exc, cls))
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return error(status, str(exc) or "error", headers)

    async def validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, (RequestValidationError, ValidationError))
        return error(422, describe(exc.errors()))

    async def http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:  # RFC 9110 §15.5.6: every method of the resource
            headers = {"Allow": ", ".join(sorted(allowed_methods(request.app.routes,
                                                                 request.url.path)))}
        return error(exc.status_code, str(exc.detail), headers)

    async def database(request: Request, exc: Exception) -> JSONResponse:
        if not is_unavailable(exc):  # a statement the database refused: a defect
            return await unexpected(request, exc)
        # the database is away: the route is fine, try again soon (never a 500); the
        # reason is the driver's first line, never the URL or the statement
        logger.debug("database unavailable on %s %s (%s)", request.method,
                       request.url.path, request.app.state.db.unreachable_reason(exc))
        return error(503, "database unavailable; try again later",
                     {"Retry-After": str(RETRY_AFTER)})

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # request boundary: log the failure (path only, never headers) and answer 500
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return error(500, "internal error")

    for cls in _STATUS:
        app.add_exception_handler(cls, known)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http)
    app.add_exception_handler(DatabaseError, database)
    app.add_exception_handler(Exception, unexpected)
