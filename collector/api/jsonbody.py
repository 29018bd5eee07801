"""JSON request bodies, read by orjson: the route class of every FastAPI router.

FastAPI parses a body with the standard `json` module, and answered 400 "There was an
error parsing the body" for JSON nested deeper than Python's recursion limit (a
RecursionError), 422 `body.1: JSON decode error` for other malformed JSON, and let NaN,
Infinity and lone surrogates through to the store (PostgreSQL refuses them: a 500).
orjson refuses all of those (RFC 8259: NaN is not JSON; depth over 1,024), in a single
pass and faster; the route answers 422 `{"error": "body: not JSON (...)"}`, the
message the reports route gives (SPEC §5: one error shape).
"""
from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute


class JSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = orjson.loads(await self.body())
            except orjson.JSONDecodeError as exc:
                # an HTTPException is what FastAPI lets through its body parsing unchanged
                raise HTTPException(422, f"body: not JSON ({_why(exc)})") from None
        return self._json


def _why(exc: orjson.JSONDecodeError) -> str:
    """orjson's reason; NaN and Infinity (which Python's json writes) named as such."""
    if any(exc.doc[exc.pos:exc.pos + len(word)] == word for word in _NOT_NUMBERS):
        return f"NaN and Infinity are not JSON numbers: char {exc.pos}"
    return str(exc)


_NOT_NUMBERS = ("NaN", "Infinity")  # -Infinity: orjson stops at its "I"


class JSONRoute(APIRoute):
    """An APIRoute whose request parses its JSON body with orjson (FastAPI's documented
    way to change the request: a custom route class)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            return await handler(JSONRequest(request.scope, request.receive))
        return handle
