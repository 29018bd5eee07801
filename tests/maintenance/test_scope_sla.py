"""A maintenance window of some servers only (SPEC-2 §12 `servers`) excludes the outages
of those servers, not of the others; on a redundant service, an unplanned window of one
server takes only that server down. Figures worked by hand (contract §3, §4)."""
from __future__ import annotations

import dataclasses
from datetime import date, timedelta

from collector.domain.sla import Month, build_report
from tests.sla.examples import maintenance, outage, paris, terms

SEPT = Month(2026, 9).resolve(date(2020, 1, 1), "Europe/Paris", paris(2026, 10, 2))
NOW = paris(2026, 10, 2)


def _window(start, end, servers, days_notice=15):  # type: ignore[no-untyped-def]
    m = maintenance(1, start, end, start - timedelta(days=days_notice))
    return dataclasses.replace(m, server_ids=tuple(servers))


def test_a_planned_window_of_one_server_excludes_only_its_outages() -> None:
    # acme-web on web-01 and web-02 (not redundant). Planned window 10 Sep 02:00-04:00 on
    # web-01 only. web-01 down 02:00-03:00 (in its window: excluded, not downtime), web-02
    # down 03:00-03:30 (its own outage, not in any window of its own: 1,800 s downtime).
    # D = 1,800 s; E = 0 (no whole-service window, no client outage).
    t = terms(server_ids=("web-01", "web-02"))
    incidents = [outage(1, paris(2026, 9, 10, 2), paris(2026, 9, 10, 3), server="web-01"),
                 outage(2, paris(2026, 9, 10, 3), paris(2026, 9, 10, 3, 30), server="web-02")]
    window = _window(paris(2026, 9, 10, 2), paris(2026, 9, 10, 4), ["web-01"])
    report = build_report(t, SEPT, incidents, [window], NOW)
    assert report.downtime_seconds == 1800
    assert report.excluded_seconds == 0
    # the same window on the whole service: both outages fall in it, D = 0, E = 7,200 s
    whole = build_report(t, SEPT, incidents, [dataclasses.replace(window, server_ids=())], NOW)
    assert (whole.downtime_seconds, whole.excluded_seconds) == (0, 7200)
    # a window naming every server of the service is a whole-service window
    every = dataclasses.replace(window, server_ids=("web-02", "web-01"))
    assert build_report(t, SEPT, incidents, [every], NOW).excluded_seconds == 7200


def test_an_unplanned_window_of_one_server_of_a_redundant_service() -> None:
    # redundant acme-web on web-01, web-02: down only when both are. An unplanned window
    # (3 days' notice) on web-01 10 Sep 02:00-04:00 takes web-01 down; web-02 down
    # 03:00-03:30: both down 03:00-03:30, D = 1,800 s. (Before: the window took the whole
    # service down: D = 7,200 s.)
    t = terms(server_ids=("web-01", "web-02"), redundant=True)
    incidents = [outage(2, paris(2026, 9, 10, 3), paris(2026, 9, 10, 3, 30), server="web-02")]
    window = _window(paris(2026, 9, 10, 2), paris(2026, 9, 10, 4), ["web-01"], days_notice=3)
    assert not window.planned
    report = build_report(t, SEPT, incidents, [window], NOW)
    assert report.downtime_seconds == 1800
