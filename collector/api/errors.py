"""One error shape for every error: `{"error": "..."}` (SPEC §5), FastAPI's own included."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from collector.domain.sla import PeriodError
from collector.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge, Unauthorized

logger = logging.getLogger(__name__)

# PeriodError is the pure domain's (it names `month:` or `year:`): as unacceptable as Invalid
_STATUS: dict[type[Exception], int] = {Unauthorized: 401, Forbidden: 403, NotFound: 404,
                                       Conflict: 409, TooLarge: 413, Invalid: 422,
                                       PeriodError: 422}


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def describe(errors: Sequence[Any], prefix: tuple[str, ...] = ()) -> str:
    """`body.collected_at: Input should have timezone info` for each problem, `; ` joined."""
    parts = []
    for e in errors:
        loc = prefix + tuple(str(p) for p in e.get("loc", ()))
        parts.append(f"{'.'.join(loc) or 'body'}: {e.get('msg', 'invalid')}")
    return "; ".join(parts)


def install(app: FastAPI) -> None:
    async def known(_: Request, exc: Exception) -> JSONResponse:
        status = next(code for cls, code in _STATUS.items() if isinstance(exc, cls))
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return error(status, str(exc) or "error", headers)

    async def validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, (RequestValidationError, ValidationError))
        return error(422, describe(exc.errors()))

    async def http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # request boundary: log the failure (path only, never headers) and answer 500
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return error(500, "internal error")

    for cls in _STATUS:
        app.add_exception_handler(cls, known)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http)
    app.add_exception_handler(Exception, unexpected)
