"""Failed authentication, rate limited per source address (SPEC-2 §12).

`AuthThrottle` keeps, for each address that presented a bad token, the times of its last
`limit` failures (a deque of at most 20). An address with `limit` failures in the last
`window` seconds is refused (429) until the oldest of them leaves the window
(`Retry-After`), whatever its next token: answering a good guess with 200 while the bad
ones get 429 would let the guessing go on; a request without any token (the public
/healthz and /metrics) is no guess and passes. Both steps are O(1); at most `max_addresses`
addresses are tracked, the one that failed least recently forgotten first, so memory is
bounded whatever the number of addresses that try. Every refused token counts in
`vigie_auth_failures_total`. Each worker process keeps its own counts.

`throttled` is the ASGI door that applies it to every request, POST /api/v1/reports
included (CollectorApp): a 429 before routing, and a 401 answered to a request that
carried an `Authorization` header recorded as a failure.
"""
from __future__ import annotations

import json
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

LIMIT = 20          # failures ...
WINDOW = 60.0       # ... in this many seconds
MAX_ADDRESSES = 10_000


class AuthThrottle:
    def __init__(self, *, limit: int = LIMIT, window: float = WINDOW,
                 max_addresses: int = MAX_ADDRESSES,
                 clock: Callable[[], float] = time.monotonic,
                 on_failure: Callable[[], None] = lambda: None) -> None:
        self.limit, self.window, self.max_addresses = limit, window, max_addresses
        self.clock = clock
        self.on_failure = on_failure  # the metric's counter
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, address: str) -> int | None:
        """Seconds until `address` may try again, or None when it may now."""
        times = self._failures.get(address)
        if times is None or len(times) < self.limit:
            return None
        wait = times[0] + self.window - self.clock()
        return math.ceil(wait) if wait > 0 else None

    def failed(self, address: str) -> None:
        self.on_failure()
        times = self._failures.get(address)
        if times is None:
            times = self._failures[address] = deque(maxlen=self.limit)
            if len(self._failures) > self.max_addresses:
                self._failures.popitem(last=False)
        else:
            self._failures.move_to_end(address)
        times.append(self.clock())

    def tracked(self) -> int:
        return len(self._failures)


def source(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


async def refuse(send: Send, retry_after: int) -> None:
    body = json.dumps({"error": "too many failed authentications from this address; "
                                f"try again in {retry_after} s"}).encode()
    await send({"type": "http.response.start", "status": 429, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(retry_after).encode())]})
    await send({"type": "http.response.body", "body": body})


async def throttled(throttle: AuthThrottle, app: ASGIApp, scope: Scope, receive: Receive,
                    send: Send) -> None:
    """`app` behind the throttle (an HTTP scope)."""
    if not any(name == b"authorization" for name, _ in scope["headers"]):
        await app(scope, receive, send)  # no guess: public pages stay open
        return
    address = source(scope)
    wait = throttle.retry_after(address)
    if wait is not None:
        await refuse(send, wait)
        return

    async def watch(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] == 401:
            throttle.failed(address)
        await send(message)
    await app(scope, receive, watch)
