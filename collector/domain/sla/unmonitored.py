"""Unmonitored time (SPEC-2 §9, contract §9): coverage time in which Vigie had no evidence
of the service's state. It is neither downtime nor proven uptime:

    U = (C ∩ B) - M - D - E

- B, **blind time**: collector blind time (no heartbeat of any collector process covered
  it) and the spans of `collector_isolated` incidents, whichever service they are filed
  under (they are about the collector: cut off from its own canaries, what it saw was no
  evidence of anything);
- M, **monitored time** within B, the time proven by evidence gathered elsewhere (spooled
  reports, a probe's buffered pings). The rule for a service of several servers: a
  moment is monitored when *every* server of it has evidence of its own state there:
  presence (its reports or answered pings prove it available) or a recorded outage of
  it (an incident affecting availability, of that server or of the whole service). One
  server seen and another not proves nothing of a service that any server down takes
  down. A redundant service (up while any server is up, contract §3) is also monitored
  where any one of its servers is present: that alone proves the service available;
- D and E: time proven down is downtime, not unmonitored; excluded time counts once,
  as excluded (as D does, contract §3).

`unmonitored = "available"` (the default) counts U as available and shows it apart;
`"excluded"` removes it from the base like excluded time: availability
`(|C| - |E| - |U| - |D|) / (|C| - |E| - |U|)` and the allowed downtime on `|C| - |E| - |U|`.

Worked example (contract §9): blind 02:00-03:00 Paris on 12 Sep 2026, the outage found at
03:00, repaired at 04:00: D = [03:00, 04:00) and U = [02:00, 03:00). Reports spooled from
02:00 to 02:10 prove [02:00, 02:10:10) and the start is revised to 02:10:10: D = 6,590 s,
M ∪ D cover the window, U = 0.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from collector.domain.sla.intervals import EMPTY, IntervalSet, Pair, intersect_all
from collector.domain.sla.model import EvidenceInput, ServiceTerms, UnmonitoredMode
from collector.domain.sla.sets import Sets, Span

logger = logging.getLogger(__name__)


def unobserved(terms: ServiceTerms, spans: Sequence[Span], presence: Mapping[str, IntervalSet],
               blind: IntervalSet) -> IntervalSet:
    """The part of `blind` (B ∩ C, less D and E) not monitored: where some server of the
    service has no evidence of its state. A server's recorded outages are provider
    downtime or excluded time of the service already, unless it is redundant (one server
    down is not the service down), so only then are they looked up."""
    present = [presence.get(s, EMPTY) for s in terms.server_ids]
    if not terms.redundant or not present:  # without servers nothing proves its state
        return blind.difference(intersect_all(present))
    # redundant (up while any server is up, contract §3): one present server proves it
    known = present[0].union(*present[1:])
    outages: dict[str, list[Pair]] = {}
    for sp in spans:
        if sp.inc.affects_availability and sp.inc.server_id is not None \
                and blind.clipped_seconds(sp.start, sp.end):
            outages.setdefault(sp.inc.server_id, []).append((sp.start, sp.end))
    if outages:  # ... and so does every server present or recorded down
        known = known.union(intersect_all(
            p.union(IntervalSet(outages.get(s, ()))) for s, p in zip(terms.server_ids, present,
                                                                    strict=True)))
    return blind.difference(known)


def _unseen(evidence: EvidenceInput, cov: IntervalSet, present: IntervalSet) -> IntervalSet:
    """(B ∩ C) less one server's presence, once per coverage and presence: the services
    of a bulk read share both (C is their calendar's, `frame.py`; servers seen alike share
    one presence set, `EvidenceInput.of`), so their reports share this too."""
    key = ("unseen", id(cov), id(present))
    hit = evidence.memo.get(key)
    if hit is not None and hit[0] is cov and hit[1] is present:  # ids, not reused
        return hit[2]  # type: ignore[return-value]
    unmon = evidence.blind.intersection(cov)
    if unmon:
        unmon = unmon.difference(present)
    evidence.memo[key] = (cov, present, unmon)
    return unmon


def with_unmonitored(terms: ServiceTerms, sets: Sets, spans: Sequence[Span],
                     evidence: EvidenceInput | None) -> Sets:
    """`sets` with U and the base's exclusions (E, or E ∪ U for `unmonitored = excluded`).
    Without evidence (None: a caller that knows nothing of who watched) U is empty."""
    if evidence is None or not evidence.blind:
        return sets
    if len(terms.server_ids) == 1:  # most services: their presence first
        unmon = _unseen(evidence, sets.cov, evidence.presence.get(terms.server_ids[0], EMPTY))
    else:
        unmon = evidence.blind.intersection(sets.cov)
    if unmon:
        unmon = unmon.difference(sets.excl).difference(sets.down)
    if unmon and len(terms.server_ids) != 1:
        unmon = unobserved(terms, spans, evidence.presence, unmon)
    if not unmon:
        return sets
    excluded = terms.unmonitored is UnmonitoredMode.EXCLUDED
    return sets._replace(unmon=unmon, base_excl=sets.excl.union(unmon) if excluded else sets.excl)
