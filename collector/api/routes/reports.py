"""POST /api/v1/reports: one agent report (SPEC §5), the collector's hottest route.

Every agent posts every few seconds, so this route is a plain ASGI handler
(`ReportsEndpoint`, mounted by `create_app` ahead of the FastAPI routes): bearer token,
body (413 over 1 MiB), JSON bounded in depth, numbers and text, the fields the collector
reads validated with `ReportIn` (422 naming the field: the agent drops a report answered
4xx but retries a 5xx, stopping its spool, so a bad report must never be a 500), then
the group-commit writer (202 once committed; 503 with
Retry-After when no commit comes within a bounded wait). FastAPI's dependency and
validation machinery cost more CPU than storing the report (bench/ingest.py);
`openapi_path()` keeps the route in the OpenAPI document.
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from pydantic import ValidationError
from starlette.datastructures import State
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from collector.api.auth import agent_principal
from collector.api.errors import describe
from collector.api.limits import BodyRefused, ClientGone, read_body
from collector.api.schemas import ReportIn
from collector.api.throttle import AuthThrottle, refuse, source
from collector.config import Config
from collector.domain import report as bounds
from collector.errors import Forbidden, Invalid, Unauthorized
from collector.services.ingest import Incoming, IngestUnavailable, IngestWriter, ReportHeader

logger = logging.getLogger(__name__)

PATH = "/api/v1/reports"
_STATUS: dict[type[Exception], int] = {Unauthorized: 401, Forbidden: 403, Invalid: 422,
                                       IngestUnavailable: 503}
_STORED = {True: b'{"stored":true}', False: b'{"stored":false}'}
_BOM = b"\xef\xbb\xbf"  # UTF-8 byte-order mark


def parse_report(raw: bytes, now: dt.datetime, retention_days: int,
                 commissioned: dt.datetime | None = None
                 ) -> tuple[ReportHeader, dict[str, Any], str]:
    """Parsed once: the header the store indexes, the dict detection reads, and the text
    as sent (RFC 8259: JSON on the wire is UTF-8), stored without re-encoding.

    Bounded (issue 11, docs/report-format.md "Limits"): anything out of bounds is a 422
    naming the field, before anything is stored. A leading byte-order mark is dropped
    (RFC 8259 §8.1: a sender MUST NOT add one, a parser MAY ignore it), and the text is
    stored without it, which both databases read back."""
    raw = raw.removeprefix(_BOM)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Invalid(f"body: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    body = loads(raw, text)
    if not isinstance(body, dict):
        raise Invalid("body: must be a JSON object")
    try:
        report = ReportIn.model_validate(body, context={
            "now": now, "retention_days": retention_days, "commissioned": commissioned})
    except ValidationError as exc:
        raise Invalid(describe(exc.errors(), ("body",))) from None
    header = ReportHeader(report.report_id, report.server_id, report.collected_at,
                          report.interval)
    return header, body, text


def loads(raw: bytes, text: str) -> Any:
    """The body parsed and bounded: nesting at most MAX_DEPTH deep, every number a finite
    64-bit float value, every string valid Unicode.

    orjson first (a third of json's time on a real report); it refuses NaN, Infinity,
    numbers beyond a double, lone surrogates and nesting past 1,024 levels, so what it
    accepts needs only the depth checked. What it refuses goes through json, to name the
    field (the agent's json.dumps may write NaN: a 422 naming it, never a 500), after a
    scan that bounds the depth first (json recurses once per level)."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _loads_naming_the_field(text)
    if raw.count(b"[") + raw.count(b"{") <= bounds.MAX_DEPTH:
        return value  # fewer brackets than levels allowed (a usual report): cannot be deeper
    path = bounds.too_deep(value)
    if path is not None:
        raise Invalid(f"{bounds.path_text(path)}: nested deeper than {bounds.MAX_DEPTH} levels")
    return value


def _loads_naming_the_field(text: str) -> Any:
    if bounds.depth_over(text):
        raise Invalid(f"body: JSON nested deeper than {bounds.MAX_DEPTH} levels")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Invalid(f"body: not JSON ({exc})") from None
    except ValueError as exc:  # Python reads no integer of more than 4,300 digits
        raise Invalid(f"body: a number too long to read ({exc})") from None
    found = bounds.first_problem(value)
    if found is not None:
        raise Invalid(f"{bounds.path_text(found[0])}: {found[1]}")
    return value


class ReportsEndpoint:
    """The ASGI app of POST /api/v1/reports, reading the app's `state` (tokens, db,
    config, metrics). Errors answer `{"error": "..."}` like the rest of the API."""

    def __init__(self, state: State) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # SPEC-2 §12: failed tokens rate limited per address, as every route (api/throttle.py:
        # here without its wrapper around `send`, a cost of every report)
        throttle: AuthThrottle = self.state.auth_throttle
        address = source(scope)
        wait = throttle.retry_after(address)
        if wait is not None:
            await refuse(send, wait)
            return
        try:
            stored = await self.store(scope, receive)
        except ClientGone:
            return
        except BodyRefused as exc:  # over 1 MiB (413) or too slow to arrive (408)
            await answer(send, exc.status, json.dumps({"error": str(exc)}).encode())
            return
        except (Unauthorized, Forbidden, Invalid, IngestUnavailable) as exc:
            if isinstance(exc, Unauthorized):
                throttle.failed(address)
            await answer(send, _STATUS[type(exc)], json.dumps({"error": str(exc)}).encode(),
                         _headers(exc))
            return
        except Exception:  # request boundary (no middleware here): log it, answer 500
            logger.exception("unhandled error on POST %s", PATH)
            await answer(send, 500, b'{"error":"internal error"}')
            return
        self.state.metrics.reports.count(stored)
        await answer(send, 202, _STORED[stored])

    async def store(self, scope: Scope, receive: Receive) -> bool:
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
                break
        principal = await agent_principal(self.state, authorization, scope)
        raw = await read_body(scope, receive, self.state.body_limits)
        now = dt.datetime.now(dt.UTC)  # the collector's clock: received_at, and the bounds
        header, body, text = parse_report(raw, now, self.retention_days(),
                                          self.commissioned(principal.server_id))
        if header.server_id != principal.server_id:
            raise Forbidden(f"server_id {header.server_id!r} is not this token's server")
        item = Incoming(header, body, text, now)
        # SPEC §5: 202 only once stored durably; a bounded wait (503 past it, issue 10)
        return await self.writer().store(item)

    def retention_days(self) -> int:
        """How far back a report is accepted: the evidence retention (SPEC-2 §9), never
        less than the raw reports' own retention (a report older than that is evidence
        for nothing the collector keeps: 422 naming `collected_at`)."""
        config: Config = self.state.config
        return max(config.report_retention_days, config.evidence_retention_days)

    def commissioned(self, server_id: str) -> dt.datetime | None:
        """When the token's server's service was commissioned (issue 12: a report from
        before it is refused, 422 naming `collected_at`)."""
        config: Config = self.state.config
        server = config.server(server_id)
        service = config.service(server.service) if server is not None else None
        if service is None:
            return None
        return _commissioning(service.commissioned, service.timezone)

    def writer(self) -> IngestWriter:
        """The app's group-commit writer (built by create_app)."""
        writer: IngestWriter = self.state.ingest_writer
        return writer


@functools.lru_cache(maxsize=4096)
def _commissioning(day: dt.date, timezone: str) -> dt.datetime:
    return bounds.commissioning(day, ZoneInfo(timezone))


def _headers(exc: Exception) -> list[tuple[bytes, bytes]]:
    if isinstance(exc, Unauthorized):
        return [(b"www-authenticate", b"Bearer")]
    if isinstance(exc, IngestUnavailable):  # the agent keeps the report and sends it again
        return [(b"retry-after", str(exc.retry_after).encode())]
    return []


async def answer(send: Send, status: int, body: bytes,
                 headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


def route(state: State) -> Route:
    return Route(PATH, ReportsEndpoint(state), methods=["POST"], name="post_report")


def openapi_path(components: dict[str, Any]) -> dict[str, Any]:
    """The route's OpenAPI entry; `ReportIn`'s schemas are added to `components`."""
    schema = ReportIn.model_json_schema(ref_template="#/components/schemas/{model}")
    components.setdefault("schemas", {}).update(schema.pop("$defs", {}))
    components["schemas"]["ReportIn"] = schema
    components.setdefault("securitySchemes", {}).setdefault(
        "HTTPBearer", {"type": "http", "scheme": "bearer"})
    error = {"content": {"application/json": {"schema": {
        "type": "object", "properties": {"error": {"type": "string"}}}}}}
    return {"post": {
        "summary": "one report from one agent", "operationId": "post_report",
        "security": [{"HTTPBearer": []}],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ReportIn"}}},
            "description": "the report as `vigie-agent once` prints it "
                           "(docs/report-format.md); other keys are stored as sent"},
        "responses": {
            "202": {"description": "stored durably (`stored` false: this server had sent "
                                   "this report_id before, and it is stored)",
                    "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"stored": {"type": "boolean"}}}}}},
            **{str(code): {"description": what, **error} for code, what in (
                (401, "no or bad token"), (403, "not this server's agent token"),
                (408, "the body did not arrive in time"), (413, "body over 1 MiB"),
                (422, "invalid or out of bounds (docs/report-format.md); names the field"),
                (503, "not stored now (see Retry-After): send it again later"))},
        },
    }}
