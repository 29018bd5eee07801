"""The interval sets of one SLA report: C, E and D of contract §3, in epoch seconds.

Incidents are converted once to `Span`s (epoch seconds); `build_sets()` derives the
coverage, exclusions and provider downtime from them, clipped to the period and to now.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import NamedTuple

from collector.domain.model import Responsibility
from collector.domain.sla.frame import Frame
from collector.domain.sla.intervals import EMPTY, IntervalSet, Pair, intersect_all, ts
from collector.domain.sla.model import IncidentInput, MaintenanceInput, ServiceTerms

logger = logging.getLogger(__name__)


class Span(NamedTuple):
    """An incident with its times as epoch seconds, converted once."""

    inc: IncidentInput
    start: int
    end: int  # resolved_at, or now while open
    clock: int  # contract §6: the earlier of detection and the client's ticket
    provider_outage: bool  # provider downtime (contract §3: D)
    excluding: bool  # client or third-party outage (contract §3: E)


def spans_of(incidents: Iterable[IncidentInput], now_ts: int) -> list[Span]:
    """The incidents known at `now` (started by then) as spans, in one loop: it runs for
    every incident of every report."""
    provider_kind = Responsibility.PROVIDER
    out = []
    for inc in incidents:
        # The inputs were checked timezone-aware when built: timestamp() is exact here.
        start = int(inc.started_at.timestamp())
        if start > now_ts:  # not started yet: not known yet
            continue
        end = int(inc.resolved_at.timestamp()) if inc.resolved_at is not None else now_ts
        affects = inc.affects_availability
        provider = affects and inc.responsibility is provider_kind
        clock = start
        if provider:  # the GTR clock runs for provider outages only
            if inc.detected_at is not None:
                clock = int(inc.detected_at.timestamp())
            if inc.notified_at is not None:
                clock = min(clock, int(inc.notified_at.timestamp()))
        # tuple.__new__: a Span without the Python-level __new__ of a NamedTuple, a
        # tenth of the cost (this runs for every incident of every report)
        out.append(tuple.__new__(Span, (inc, start, max(start, end), clock,
                                        provider, affects and not provider)))
    return out


_CLOCK = itemgetter(3)  # Span.clock


def in_service(spans: list[Span], commissioned: int) -> list[Span]:
    """issue 12: the spans as the service lived them: an incident over before
    commissioning is none of the contract's business, and the restore clock of one
    running at commissioning starts then (contract §3: the service starts that day)."""
    # the common case, nothing to do, found at C speed (this runs for every report)
    if not spans or min(map(_CLOCK, spans)) >= commissioned:
        return spans
    return [sp._replace(clock=max(sp.clock, commissioned)) for sp in spans
            if sp.end > commissioned]


class Sets(NamedTuple):
    """The interval sets of one report, in epoch seconds (C, E, D of contract §3)."""

    cov_whole: IntervalSet  # coverage of the whole period
    cov_whole_span: Pair  # the period's bounds
    cov: IntervalSet  # C: coverage of the period up to now
    excl_raw: IntervalSet  # client/third-party outages and planned windows, unclipped
    excl: IntervalSet  # E = excl_raw ∩ C
    planned: IntervalSet  # planned maintenance windows, unclipped
    down_raw: IntervalSet  # provider downtime of the service, unclipped
    down: IntervalSet  # D = (down_raw ∩ C) - E
    down_net: IntervalSet  # down_raw - excl_raw, the restore time of a redundant service
    unmon: IntervalSet = EMPTY  # U: coverage time without evidence (SPEC-2 §9)
    # what the base |C| - |E| leaves out: E, or E ∪ U when the service excludes U
    base_excl: IntervalSet = EMPTY


class Windows(NamedTuple):
    """The maintenance windows of a report, split by scope (SPEC-2 §12: a window may
    cover some servers of the service only)."""

    planned: IntervalSet  # planned, whole service: excluded time (E)
    unplanned: list[Pair]  # unplanned, whole service: the service is down
    planned_on: dict[str, IntervalSet]  # planned, by server: that server's outages excluded
    unplanned_on: dict[str, list[Pair]]  # unplanned, by server: that server is down


NO_WINDOWS = Windows(EMPTY, [], {}, {})  # shared, never mutated: most reports have none


def split_windows(terms: ServiceTerms, maintenances: Sequence[MaintenanceInput]) -> Windows:
    """A window whose servers are all the service's is a whole-service window."""
    if not maintenances:
        return NO_WINDOWS
    every = set(terms.server_ids)
    planned: list[Pair] = []
    unplanned: list[Pair] = []
    planned_on: dict[str, list[Pair]] = {}
    unplanned_on: dict[str, list[Pair]] = {}
    for m in maintenances:
        pair = (ts(m.start), ts(m.end))
        scoped = bool(m.server_ids) and not every <= set(m.server_ids)
        if not scoped:
            (planned if m.planned else unplanned).append(pair)
            continue
        for server_id in m.server_ids:
            (planned_on if m.planned else unplanned_on).setdefault(server_id, []).append(pair)
    return Windows(IntervalSet(planned), unplanned,
                   {k: IntervalSet(v) for k, v in planned_on.items()}, unplanned_on)


def provider_downtime(terms: ServiceTerms, spans: Sequence[Span], windows: Windows
                      ) -> IntervalSet:
    """contract §3: any server down makes the service down, unless it is redundant (then
    all must be); an incident with no server, and an unplanned maintenance window (§4:
    its downtime counts against the provider), take the whole service down. A window of
    some servers only (SPEC-2 §12) concerns those servers: planned, it excludes their
    outages; unplanned, they are down for its time."""
    whole: list[Pair] = list(windows.unplanned)
    if not whole and not windows.unplanned_on and not any(sp.provider_outage for sp in spans):
        return EMPTY  # no provider outage, no unplanned window: nothing is down
    per_server: dict[str, list[Pair]] = {s: [] for s in terms.server_ids}
    for server_id, pairs in windows.unplanned_on.items():
        per_server.setdefault(server_id, []).extend(pairs)
    for sp in spans:
        if not sp.provider_outage:
            continue
        if sp.inc.server_id is None:
            whole.append((sp.start, sp.end))
        else:
            per_server.setdefault(sp.inc.server_id, []).append((sp.start, sp.end))
    down_of = {s: _less(IntervalSet(p), windows.planned_on.get(s))
               for s, p in per_server.items()}
    if not terms.redundant:
        return IntervalSet(whole).union(
            IntervalSet([pair for d in down_of.values() for pair in d]))
    return intersect_all(down_of.values()).union(IntervalSet(whole))


def _less(down: IntervalSet, planned: IntervalSet | None) -> IntervalSet:
    return down if planned is None else down.difference(planned)


def build_sets(
    terms: ServiceTerms,
    frame: Frame,
    spans: Sequence[Span],
    maintenances: Sequence[MaintenanceInput],
) -> Sets:
    """C, E and D of `terms` in the calendar `frame` (C is the frame's: measured on
    [commissioned, now) only, issue 12)."""
    cov_whole, cov = frame.cov_whole, frame.cov
    windows = split_windows(terms, maintenances)
    planned = windows.planned
    # contract §3: E = client/third-party outages and planned windows; a non-availability
    # incident (a CPU at 95 %) is neither downtime nor exclusion.
    excluding = [(sp.start, sp.end) for sp in spans if sp.excluding]
    excl_raw = IntervalSet(excluding + list(planned)) if excluding else planned
    excl = excl_raw.intersection(cov)
    down_raw = provider_downtime(terms, spans, windows)
    # contract §3: time both excluded and provider downtime counts once, as excluded.
    down = down_raw.intersection(cov).difference(excl)
    down_net = down_raw.difference(excl_raw) if terms.redundant else down_raw
    return Sets(cov_whole, (frame.served, frame.end), cov, excl_raw, excl, planned, down_raw, down, down_net,
                EMPTY, excl)
