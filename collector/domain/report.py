"""The bounds of an agent report (docs/report-format.md, "Limits"): pure, clock passed in.

Issue 11: one report must never do damage beyond its own server. Every field the
collector reads is bounded at the door (`collector.api.schemas.ReportIn` uses these
figures), and the body as a whole is a JSON object of bounded depth whose numbers are
finite and whose text is valid Unicode. A refusal is a 422 naming the field: the agent
drops a report answered 4xx, and retries (stopping its spool) on a 5xx.
"""
from __future__ import annotations

import datetime as dt
import math
import re
import sys
from collections.abc import Iterator
from typing import Any

MAX_DEPTH = 32                          # nested objects/arrays, the report object itself is 1
MAX_AHEAD = dt.timedelta(minutes=5)     # SPEC-2 §9: a report from further ahead is refused
MAX_INTERVAL = 3600.0                   # seconds; the agent's `interval` is positive
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"  # report_id, server_id (the config's ids)
MAX_CHECKS = 256                        # entries of `checks`: each may open an incident
MAX_CHECK_NAME = 100                    # "check_failed:<server>:<name>" fits the 200 chars key
MAX_CHECK_TYPE = 64
FLOAT_MAX = sys.float_info.max          # a number must be a finite 64-bit float value

Path = tuple[str | int, ...]

# A JSON string (quotes and escapes, "unrolled loop": linear time) or a bracket.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def path_text(path: Path, root: str = "body") -> str:
    """`body.checks.0.detail`, the way every 422 of the API names a field (a key of the
    sender's longer than 40 characters is cut: an error message stays short)."""
    return ".".join([root, *(_short(str(p)) for p in path)])


def _short(key: str, most: int = 40) -> str:
    return key if len(key) <= most else key[:most - 1] + "…"


def collected_at_problem(collected_at: dt.datetime, now: dt.datetime | None,
                         retention_days: int,
                         commissioned: dt.datetime | None = None) -> str | None:
    """Why `collected_at` (aware) cannot be accepted at the collector's `now`, or None.

    Ahead: more than MAX_AHEAD in the future (SPEC-2 §9; a report dated a day ahead froze
    its server's checks, issue 11 defect 2). Behind: older than the evidence retention
    (`retention_days`), it proves nothing the collector still keeps; or before its
    service's `commissioned` instant (issue 12: no evidence of a service not yet
    delivered). Without `now`, only whether it can be converted to UTC at all."""
    try:
        at = collected_at.astimezone(dt.UTC)
    except OverflowError:  # 9999-12-31T23:59:59-01:00 is in year 10000 in UTC
        return "out of range once converted to UTC"
    if now is None:
        return None
    if at > now + MAX_AHEAD:
        return (f"more than {MAX_AHEAD.total_seconds() / 60:g} minutes ahead of the "
                f"collector's clock (got {at.isoformat()}, collector {now.isoformat()})")
    oldest = now - dt.timedelta(days=retention_days)
    if at < oldest:
        return (f"older than the evidence retention of {retention_days} days "
                f"(got {at.isoformat()}, oldest accepted {oldest.isoformat()})")
    if commissioned is not None and at < commissioned:
        return (f"before the service was commissioned (got {at.isoformat()}, commissioned "
                f"{commissioned.isoformat()})")
    return None


def commissioning(day: dt.date, timezone: dt.tzinfo) -> dt.datetime:
    """The instant a service is commissioned: 00:00 of `day` in its time zone (as the SLA
    measures it), in UTC."""
    return dt.datetime.combine(day, dt.time(0), timezone).astimezone(dt.UTC)


def depth_over(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether JSON text nests objects/arrays deeper than `limit`, read without parsing it.

    Python's json parser recurses once per level (a RecursionError past about 1,000); this
    scan bounds the depth before it runs, and stops at the first bracket beyond `limit`."""
    depth = 0
    for token in _TOKENS.finditer(text):
        mark = token.group()
        if mark in "[{":
            depth += 1
            if depth > limit:
                return True
        elif mark in "]}":
            depth -= 1
    return False


def too_deep(value: Any, limit: int = MAX_DEPTH) -> Path | None:
    """The path of the first object or array nested deeper than `limit`, or None.

    Level by level, without recursion and without building a path for every node (this
    runs on every report); the path is searched for only once the bound is passed."""
    level = [value] if isinstance(value, (dict, list)) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return _deep_path(value, limit)
        below: list[Any] = []
        for node in level:
            for child in (node.values() if isinstance(node, dict) else node):
                if isinstance(child, (dict, list)):
                    below.append(child)
        level = below
    return None


def _deep_path(value: Any, limit: int) -> Path:
    stack: list[tuple[Any, Path]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if len(path) >= limit:
            return path
        for key, child in _items(node):
            if isinstance(child, (dict, list)):
                stack.append((child, (*path, key)))
    return ()  # pragma: no cover -- called only once too_deep found the depth


def first_problem(value: Any, limit: int = MAX_DEPTH) -> tuple[Path, str] | None:
    """The first thing that makes a parsed body unacceptable, with its path: nesting
    deeper than `limit`, a number that is not a finite 64-bit float (NaN, Infinity, 1e400,
    an integer beyond 1.8e308: RFC 8259 §6 warns such numbers do not interoperate), a
    string or key that is not valid Unicode (a lone surrogate, RFC 8259 §8.2)."""
    stack: list[tuple[Any, Path]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        problem = _scalar_problem(node)
        if problem is not None:
            return path, problem
        if not isinstance(node, (dict, list)):
            continue
        if len(path) >= limit:
            return path, f"nested deeper than {limit} levels"
        for key, child in _items(node):
            if isinstance(key, str) and not _is_unicode(key):
                return path, "a key that is not valid Unicode (a lone surrogate)"
            stack.append((child, (*path, key)))
    return None


def _items(node: Any) -> Iterator[tuple[str | int, Any]]:
    if isinstance(node, dict):
        yield from reversed(list(node.items()))  # popped in document order
    elif isinstance(node, list):
        yield from reversed(list(enumerate(node)))


def _scalar_problem(node: Any) -> str | None:
    if isinstance(node, bool):
        return None
    if isinstance(node, float) and not math.isfinite(node):
        return f"not a finite number (got {node!r}; JSON has no NaN or Infinity)"
    if isinstance(node, int) and abs(node) > FLOAT_MAX:
        return "a number beyond the range of a 64-bit float (1.8e308)"
    if isinstance(node, str) and not _is_unicode(node):
        return "text that is not valid Unicode (a lone surrogate)"
    return None


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
