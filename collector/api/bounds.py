"""The bounded types of the API's door (issue 11): every body field, query and path
parameter of the FastAPI routes is one of these, so that an out-of-range value is a 422
naming the field, on both databases, and the OpenAPI document says what is accepted.

- `Id`: a configured identifier (collector.config's alphabet and length).
- `Text`: free text of bounded length, without NUL (PostgreSQL's text and jsonb refuse it:
  a 500 before issue 11).
- `Moment`: an RFC 3339 time with its offset, of a year FIRST_YEAR..LAST_YEAR (a time near
  year 1 or 9999 overflowed when converted to UTC: a 500 before issue 11). Text only:
  pydantic's lax parsing would also take epoch numbers and `2026-11-03 09:00`, which the
  document does not promise.
- `RowId`: a database row id, what a BIGINT holds (a path id >= 2^63 was a 500).
"""
from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Path
from pydantic import AwareDatetime, BeforeValidator, Field, WithJsonSchema

from collector.domain.sla.periods import FIRST_YEAR, LAST_YEAR

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"  # collector.config.parse's identifiers
NO_NUL_PATTERN = r"^[^\x00]*$"
ROW_ID_MAX = 2**63 - 1  # BIGINT on PostgreSQL, INTEGER on SQLite

assert (FIRST_YEAR, LAST_YEAR) == (2000, 2200), "MOMENT_PATTERN spells these years"
# RFC 3339 section 5.6 (`T` or `t`, `Z` or an offset), of the years 2000..2200; up to 9
# digits of a second, as Go (Alertmanager) writes them (pydantic keeps microseconds).
MOMENT_PATTERN = (r"^(20[0-9]{2}|21[0-9]{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
                  r"[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?"
                  r"([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$")
_MOMENT = re.compile(MOMENT_PATTERN)
SHOWN = 40  # characters of a refused value quoted back in the message


def shown(value: object) -> str:
    """A refused value as a message quotes it: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= SHOWN else text[:SHOWN] + "..."


def _moment_text(value: Any) -> Any:
    if not isinstance(value, str) or _MOMENT.fullmatch(value) is None:  # no final "\n"
        raise ValueError(f"not an RFC 3339 time with offset of the years {FIRST_YEAR} to "
                         f"{LAST_YEAR} (got {shown(value)})")
    return value


Id = Annotated[str, Field(min_length=1, max_length=64, pattern=ID_PATTERN)]
Moment = Annotated[AwareDatetime, BeforeValidator(_moment_text), WithJsonSchema(
    {"type": "string", "format": "date-time", "pattern": MOMENT_PATTERN})]
RowId = Annotated[int, Path(ge=1, le=ROW_ID_MAX)]

# free text: an incident's summary, a maintenance's reason, why a change was made
Text = Annotated[str, Field(max_length=1000, pattern=NO_NUL_PATTERN)]
