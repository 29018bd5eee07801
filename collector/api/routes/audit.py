"""GET /api/v1/audit (SPEC-2 §12, admin): who changed what, when and why; JSON or CSV."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from collector.api.auth import Admin
from collector.api.bounds import Moment
from collector.api.jsonbody import JSONRoute
from collector.api.presenter import rfc3339
from collector.api.responses import READER, AuditEntryOut, answers
from collector.errors import Invalid
from collector.store import audit
from collector.store.audit import AuditEntry

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], route_class=JSONRoute)

LIMIT = 10_000  # rows of one answer, oldest first: ask again from the last `at` for more
COLUMNS = ("id", "at", "actor", "object", "action", "changes", "reason")

_DOC: dict[int | str, dict[str, Any]] = {200: {
    "model": list[AuditEntryOut], "description": "the changes in [since, until), oldest first",
    "content": {"text/csv": {"schema": {"type": "string"}}}}}


@router.get("", response_class=JSONResponse, responses={**_DOC, **answers(*READER)})
def get_audit(request: Request, principal: Admin, since: Moment | None = None,
              until: Moment | None = None,
              fmt: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
              ) -> Response:
    """Every change of incidents, maintenances and statements in [since, until); at most
    10,000 rows. `format=csv`: one header row, then a row per change (`changes` as JSON)."""
    since_utc, until_utc = utc_query("since", since), utc_query("until", until)
    with request.app.state.db.read() as conn:
        rows = audit.entries(conn, since=since_utc, until=until_utc, limit=LIMIT)
    if fmt == "csv":
        return Response(to_csv(rows), media_type="text/csv; charset=utf-8")
    return JSONResponse([entry_json(r) for r in rows])


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    return {"id": entry.id, "at": rfc3339(entry.at), "actor": entry.actor,
            "object": entry.object, "action": entry.action, "changes": dict(entry.changes),
            "reason": entry.reason}


def to_csv(rows: list[AuditEntry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow(COLUMNS)
    for entry in rows:
        row = entry_json(entry)
        row["changes"] = json.dumps(row["changes"], sort_keys=True, ensure_ascii=False)
        writer.writerow(["" if row[c] is None else row[c] for c in COLUMNS])
    return out.getvalue()


def utc_query(name: str, value: dt.datetime | None) -> dt.datetime | None:
    """A query's time in UTC, or a 422 naming it (a time near year 1 overflows)."""
    if value is None:
        return None
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise Invalid(f"query.{name}: out of range once converted to UTC") from None
