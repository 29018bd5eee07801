"""The door's first step, for every route behind the middleware (all but POST
/api/v1/reports, which reads its own body the same way: api/routes/reports.py).

`BodyLimit` is a plain ASGI middleware (Starlette's BaseHTTPMiddleware would buffer the
responses): it reads the request body before any route, parser or token check sees it,

- refusing a declared `Content-Length` over the limit at once, without reading a byte,
  and a streamed (chunked) body the moment its bytes pass the limit: 413 (SPEC §5: over
  1 MiB);
- giving up on a body that does not arrive in time: 408 when no chunk comes for
  `chunk_timeout` seconds, or the whole body not within `total_timeout`;

then hands the route the body it read. Before issue 11, 256 MiB chunked to POST
/api/v1/maintenances without a token grew the collector by 441 MiB before its 422, and a
half-sent body held its connection (and a worker) open for as long as the client liked.
Both refusals close the connection: the rest of the body is never read.

The limits live in `app.state.body_limits` (create_app), read once per request.
"""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass

from starlette.datastructures import State
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # SPEC §5


@dataclass(frozen=True, slots=True)
class BodyLimits:
    max_bytes: int = MAX_BODY
    chunk_timeout: float = 10.0  # seconds without a byte of the body
    total_timeout: float = 30.0  # seconds for the whole body


class BodyRefused(Exception):
    """A body the door does not take: `status` 413 (too large) or 408 (too slow)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ClientGone(Exception):
    """The client disconnected before its body arrived: nobody to answer."""


class BodyLimit:
    def __init__(self, app: ASGIApp, state: State) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limits: BodyLimits = self.state.body_limits
        try:
            body = await read_body(scope, receive, limits)
        except ClientGone:
            return
        except BodyRefused as refused:
            logger.debug("%s %s refused: %s", scope["method"], scope["path"], refused)
            await _refuse(send, refused.status, str(refused))
            return
        await self.app(scope, _replay(body, receive), send)


async def read_body(scope: Scope, receive: Receive, limits: BodyLimits) -> bytes:
    """The whole body, within the limits; BodyRefused (413, 408) or ClientGone otherwise
    (what a route reading its own body, as the reports route does, may use too)."""
    declared = _content_length(scope)
    if declared is not None and declared > limits.max_bytes:
        raise BodyRefused(413, f"body: over {limits.max_bytes} bytes (Content-Length {declared})")
    chunks: list[bytes] = []
    size = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limits.total_timeout
    try:
        # one timer for the whole body, pushed on at each chunk (never past the deadline)
        async with asyncio.timeout_at(min(deadline, loop.time() + limits.chunk_timeout)) as timer:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientGone
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limits.max_bytes:  # chunked, or more than the Content-Length said
                    raise BodyRefused(413, f"body: over {limits.max_bytes} bytes")
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
                timer.reschedule(min(deadline, loop.time() + limits.chunk_timeout))
    except TimeoutError:
        raise BodyRefused(408, f"body: not received in time ({size} bytes in)") from None


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None  # the server checked its form
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body as one message, then the connection's own messages (a disconnect)."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}
    return replay


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]})  # the rest of the body is never read
    await send({"type": "http.response.body", "body": body})
