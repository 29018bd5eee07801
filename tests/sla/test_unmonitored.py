"""SPEC-2 §9, contract §9 on the pure core: unmonitored time U = (C ∩ B) - M - D - E, its
two treatments (`available`, `excluded`), and the worked example, to the second.

B is blind time (no collector heartbeat, or a `collector_isolated` incident), M what
evidence proves during it (every server present or recorded down; a redundant service:
one server present), D provider downtime, E excluded time (docs/sla-periods.md)."""
from __future__ import annotations

import csv
import dataclasses
import io
from datetime import date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.config import Config  # noqa: F401  (first: render.csv alone meets an import cycle)
from collector.domain.sla import (
    ContractYear,
    EvidenceInput,
    SliceMode,
    UnmonitoredMode,
    build_report,
)
from collector.domain.sla.coverage import CoverageSpec
from collector.domain.sla.intervals import ts
from collector.domain.sla.periods import month_period
from collector.render.csv import render_csv
from collector.render.json import report_json
from tests.sla.examples import PARIS, maintenance, outage, paris, terms

SEPTEMBER = month_period(2026, 9, PARIS)  # |C| = 2,592,000 s, Paris on UTC+2 all month
LATER = paris(2026, 10, 5, 12)  # September has ended
BLIND = (paris(2026, 9, 12, 2), paris(2026, 9, 12, 3))  # contract §9: collector stopped
STOPPED = EvidenceInput.of(LATER, blind=[BLIND])  # nothing else seen


def spooled(first: datetime, last: datetime, interval: int = 10) -> tuple[datetime, datetime]:
    """What a run of reports every `interval` s from `first` to `last` proves (the
    ledger's presence): the host ran until the last one, plus one interval."""
    return first, last + timedelta(seconds=interval)


def test_it_reproduces_the_worked_example_of_contract_9() -> None:
    # Found at 03:00 after the blind window: D = [03:00, 04:00) = 3,600 s, nothing proves
    # [02:00, 03:00): U = 3,600 s. availability = (2,592,000 - 3,600) / 2,592,000
    # = 0.998611... -> 99.8611 %, counted as available (the default).
    found = outage(1, paris(2026, 9, 12, 3), paris(2026, 9, 12, 4))
    before = build_report(terms(), SEPTEMBER, [found], [], LATER, STOPPED)
    assert (before.downtime_seconds, before.unmonitored_seconds) == (3_600, 3_600)
    assert before.unmonitored == ((ts(BLIND[0]), ts(BLIND[1])),)
    assert str(before.availability_percent) == "99.8611"
    # The spool delivers reports 02:00 to 02:10 (every 10 s): they prove [02:00, 02:10:10);
    # the start is revised to 02:10:10: D = [02:10:10, 04:00) = 6,590 s; [02:00, 03:00) is
    # now proven up or proven down: U = 0. availability = (2,592,000 - 6,590) / 2,592,000
    # = 0.997457... -> 99.7458 %.
    revised = outage(1, paris(2026, 9, 12, 2, 10) + timedelta(seconds=10),
                     paris(2026, 9, 12, 4))
    spool = EvidenceInput.of(LATER, blind=[BLIND], presence={
        "web-01": [spooled(paris(2026, 9, 12, 2), paris(2026, 9, 12, 2, 10))]})
    after = build_report(terms(), SEPTEMBER, [revised], [], LATER, spool)
    assert (after.downtime_seconds, after.unmonitored_seconds) == (6_590, 0)
    assert after.unmonitored == ()
    assert str(after.availability_percent) == "99.7458"
    # A dead disk, no spool: the report keeps D = 3,600 s and 3,600 s unmonitored.
    dead = build_report(terms(), SEPTEMBER, [found], [], LATER,
                        EvidenceInput.of(LATER, blind=[BLIND], presence={"web-01": []}))
    assert (dead.downtime_seconds, dead.unmonitored_seconds) == (3_600, 3_600)


def test_it_counts_blind_time_as_available_by_default_and_shows_it_apart() -> None:
    report = build_report(terms(), SEPTEMBER, [], [], LATER, STOPPED)
    data = report_json(report)
    assert (data["unmonitored_seconds"], data["availability_percent"]) == (3_600, 100.0)
    assert data["unmonitored"] == [{"start": "2026-09-12T02:00:00+02:00",
                                    "end": "2026-09-12T03:00:00+02:00"}]
    # the base is untouched: 0.001 x 2,592,000 = 2,592 s allowed
    assert data["allowed_downtime_seconds"] == 2592
    assert ("unmonitored", ts(BLIND[0]), ts(BLIND[1])) in report.timeline
    # a caller that knows nothing of who watched gets no unmonitored time
    assert build_report(terms(), SEPTEMBER, [], [], LATER).unmonitored_seconds == 0


def test_a_service_that_excludes_unmonitored_time_takes_it_out_of_the_base() -> None:
    # Blind 11 Sep 00:00 to 21 Sep 00:00 (10 days, 864,000 s); D = 2,000 s on 3 Sep.
    # available: (2,592,000 - 2,000) / 2,592,000 = 99.9228 %, allowed 2,592 s: met.
    # excluded: base 2,592,000 - 864,000 = 1,728,000; (1,728,000 - 2,000) / 1,728,000
    #   = 0.998842... -> 99.8843 %, allowed 0.001 x 1,728,000 = 1,728 s: missed; with
    #   started slices, ceil(2,000 / 3,600) = 1 slice x 2.5 % x 300.00 = 7.50 EUR.
    blind = EvidenceInput.of(LATER, blind=[(paris(2026, 9, 11), paris(2026, 9, 21))])
    down = [outage(1, paris(2026, 9, 3, 10), paris(2026, 9, 3, 10) + timedelta(seconds=2_000))]
    base = terms(slice_mode=SliceMode.STARTED)
    shown = build_report(base, SEPTEMBER, down, [], LATER, blind)
    excluded = build_report(dataclasses.replace(base, unmonitored=UnmonitoredMode.EXCLUDED),
                            SEPTEMBER, down, [], LATER, blind)
    assert shown.unmonitored_seconds == excluded.unmonitored_seconds == 864_000
    assert (str(shown.availability_percent), shown.allowed_downtime_seconds,
            shown.breached, str(shown.credit_total)) == ("99.9228", 2592, False, "0.00")
    assert (str(excluded.availability_percent), excluded.allowed_downtime_seconds,
            excluded.breached, str(excluded.credit_total)) == ("99.8843", 1728, True, "7.50")
    # excluded_seconds stays E: unmonitored time is shown apart, never mixed into it
    assert excluded.excluded_seconds == 0


def test_evidence_gathered_during_blind_time_proves_it_monitored() -> None:
    # reports spooled from 02:00 to 02:29:50 prove [02:00, 02:30): U = [02:30, 03:00)
    seen = EvidenceInput.of(LATER, blind=[BLIND], presence={
        "web-01": [spooled(paris(2026, 9, 12, 2), paris(2026, 9, 12, 2, 29) + timedelta(seconds=50))]})
    report = build_report(terms(), SEPTEMBER, [], [], LATER, seen)
    assert report.unmonitored_seconds == 1_800
    assert report.unmonitored == ((ts(paris(2026, 9, 12, 2, 30)), ts(BLIND[1])),)


def test_downtime_and_excluded_time_inside_blind_time_count_as_such() -> None:
    # a provider outage 02:20-02:40 (a probe saw it) and a planned window 02:00-02:10:
    # D = 1,200 s, E = 600 s, U = 3,600 - 1,200 - 600 = 1,800 s in two spans
    down = [outage(1, paris(2026, 9, 12, 2, 20), paris(2026, 9, 12, 2, 40))]
    window = [maintenance(9, paris(2026, 9, 12, 2), paris(2026, 9, 12, 2, 10),
                          paris(2026, 9, 1))]
    report = build_report(terms(), SEPTEMBER, down, window, LATER, STOPPED)
    assert (report.downtime_seconds, report.excluded_seconds) == (1_200, 600)
    assert report.unmonitored_seconds == 1_800
    assert report.unmonitored == (
        (ts(paris(2026, 9, 12, 2, 10)), ts(paris(2026, 9, 12, 2, 20))),
        (ts(paris(2026, 9, 12, 2, 40)), ts(BLIND[1])))


def test_a_service_of_several_servers_is_monitored_only_where_each_has_evidence() -> None:
    two = terms(server_ids=("web-01", "web-02"))
    whole = [BLIND]
    # web-01 seen all along, web-02 not at all: an unseen server could have been down
    one = EvidenceInput.of(LATER, blind=[BLIND], presence={"web-01": whole})
    assert build_report(two, SEPTEMBER, [], [], LATER, one).unmonitored_seconds == 3_600
    # web-02 seen 02:00-02:40, then recorded down 02:40-03:00 (a provider outage):
    # every moment has evidence of both; D = 1,200 s, U = 0
    both = EvidenceInput.of(LATER, blind=[BLIND], presence={
        "web-01": whole, "web-02": [(BLIND[0], paris(2026, 9, 12, 2, 40))]})
    web02_down = [outage(1, paris(2026, 9, 12, 2, 40), BLIND[1], server="web-02")]
    report = build_report(two, SEPTEMBER, web02_down, [], LATER, both)
    assert (report.downtime_seconds, report.unmonitored_seconds) == (1_200, 0)
    # without the outage record, web-02's last 20 minutes are unknown: U = 1,200 s
    assert build_report(two, SEPTEMBER, [], [], LATER, both).unmonitored_seconds == 1_200
    # redundant (up while any server is up, contract §3): web-01 alone proves it up
    redundant = dataclasses.replace(two, redundant=True)
    assert build_report(redundant, SEPTEMBER, [], [], LATER, one).unmonitored_seconds == 0


def test_only_covered_time_in_service_can_be_unmonitored() -> None:
    hours = terms(coverage=CoverageSpec.business_hours())  # 09:00-18:00 French work days
    # Friday 11 Sep 08:00-10:00 blind: only 09:00-10:00 is covered; Saturday not at all
    friday = (paris(2026, 9, 11, 8), paris(2026, 9, 11, 10))
    saturday = (paris(2026, 9, 12), paris(2026, 9, 13))
    report = build_report(hours, SEPTEMBER, [], [], LATER,
                          EvidenceInput.of(LATER, blind=[friday, saturday]))
    assert report.unmonitored == ((ts(paris(2026, 9, 11, 9)), ts(paris(2026, 9, 11, 10))),)
    # blind 14 Sep 23:00 to 15 Sep 01:00, commissioned 15 Sep: only the hour in service
    late = terms(commissioned=date(2026, 9, 15))
    before = EvidenceInput.of(LATER, blind=[(paris(2026, 9, 14, 23), paris(2026, 9, 15, 1))])
    assert build_report(late, SEPTEMBER, [], [], LATER, before).unmonitored_seconds == 3_600


def test_collector_isolation_is_blind_time_until_it_ends() -> None:
    # collector_isolated since 11:00, still open at 12:00: 3,600 s unmonitored so far;
    # an earlier one 01:00-01:30 closed: 1,800 s. The month is in progress, not final.
    now = paris(2026, 9, 15, 12)
    isolated = EvidenceInput.of(now, isolated=[
        (paris(2026, 9, 15, 1), paris(2026, 9, 15, 1, 30)), (paris(2026, 9, 15, 11), None)])
    report = build_report(terms(), SEPTEMBER, [], [], now, isolated)
    assert report.unmonitored_seconds == 5_400
    assert report.unmonitored[-1] == (ts(paris(2026, 9, 15, 11)), ts(now))
    assert (report.complete, report.final) == (False, False)


def test_the_months_of_a_contract_year_carry_their_own_unmonitored_time() -> None:
    # blind 1 h on 12 Feb and 2 h on 12 Sep 2026; D = 1 h on 3 Sep
    # September, excluded mode: (2,592,000 - 7,200 - 3,600) / (2,592,000 - 7,200)
    #   = 0.998607... -> 99.8607 %; available mode: (2,592,000 - 3,600) / 2,592,000 = 99.8611
    blind = EvidenceInput.of(LATER, blind=[(paris(2026, 2, 12, 2), paris(2026, 2, 12, 3)),
                                 (paris(2026, 9, 12, 2), paris(2026, 9, 12, 4))])
    down = [outage(1, paris(2026, 9, 3, 10), paris(2026, 9, 3, 11))]
    service = terms(commissioned=date(2026, 1, 15))
    year = ContractYear(1).resolve(date(2026, 1, 15), PARIS, LATER)
    shown = build_report(service, year, down, [], LATER, blind)
    months = {m["start"][:7]: m for m in report_json(shown)["months"]}
    assert {k: m["unmonitored_seconds"] for k, m in months.items() if m["unmonitored_seconds"]
            } == {"2026-02": 3_600, "2026-09": 7_200}
    assert shown.unmonitored_seconds == 10_800
    assert months["2026-09"]["availability_percent"] == 99.8611
    excluded = build_report(dataclasses.replace(service, unmonitored=UnmonitoredMode.EXCLUDED),
                            year, down, [], LATER, blind)
    months = {m["start"][:7]: m for m in report_json(excluded)["months"]}
    assert months["2026-09"]["availability_percent"] == 99.8607
    assert months["2026-09"]["excluded_seconds"] == 0


def test_the_csv_lists_the_unmonitored_spans_and_each_months_seconds() -> None:
    report = build_report(terms(), SEPTEMBER, [], [], LATER, STOPPED)
    blocks = render_csv(report).split("\n\n")
    summary = dict(csv.reader(io.StringIO(blocks[0])))
    assert summary["unmonitored_seconds"] == "3600"
    assert list(csv.reader(io.StringIO(blocks[-1]))) == [
        ["unmonitored_start", "unmonitored_end"],
        ["2026-09-12T02:00:00+02:00", "2026-09-12T03:00:00+02:00"]]
    year = ContractYear(1).resolve(date(2026, 1, 15), PARIS, LATER)
    months = render_csv(build_report(terms(commissioned=date(2026, 1, 15)), year, [], [],
                                     LATER, STOPPED)).split("\n\n")[2]
    rows = {r["month_start"][:7]: r for r in csv.DictReader(io.StringIO(months))}
    assert rows["2026-09"]["month_unmonitored_seconds"] == "3600"
    assert rows["2026-08"]["month_unmonitored_seconds"] == "0"


minutes = st.lists(st.tuples(st.integers(0, 240), st.integers(1, 60)), max_size=5)


@settings(max_examples=200, deadline=None)
@given(blind=minutes, seen1=minutes, seen2=minutes, down1=minutes, down2=minutes,
       planned=minutes, redundant=st.booleans())
def test_unmonitored_time_agrees_with_the_rule_minute_by_minute(
        blind: list[tuple[int, int]], seen1: list[tuple[int, int]],
        seen2: list[tuple[int, int]], down1: list[tuple[int, int]],
        down2: list[tuple[int, int]], planned: list[tuple[int, int]], redundant: bool) -> None:
    """U = (C ∩ B) - M - D - E, checked against each minute of 12 Sep from midnight:
    a minute is unmonitored when blind, neither excluded nor provider downtime, and not
    every server has evidence of its state (redundant: no server present either)."""
    at = paris(2026, 9, 12)

    def moments(spans: list[tuple[int, int]]) -> list[tuple[datetime, datetime]]:
        return [(at + timedelta(minutes=s), at + timedelta(minutes=s + n)) for s, n in spans]

    def covered(spans: list[tuple[int, int]]) -> set[int]:
        return {m for s, n in spans for m in range(s, s + n)}

    service = terms(server_ids=("web-01", "web-02"), redundant=redundant)
    outages = [outage(k, a, b, server=server) for k, (server, (a, b)) in enumerate(
        [("web-01", x) for x in moments(down1)] + [("web-02", x) for x in moments(down2)])]
    windows = [maintenance(90 + k, a, b, paris(2026, 9, 1))
               for k, (a, b) in enumerate(moments(planned))]
    watch = EvidenceInput.of(LATER, blind=moments(blind),
                             presence={"web-01": moments(seen1), "web-02": moments(seen2)})
    report = build_report(service, SEPTEMBER, outages, windows, LATER, watch)
    d1, d2, s1, s2 = covered(down1), covered(down2), covered(seen1), covered(seen2)
    excluded = covered(planned)
    down = (d1 & d2 if redundant else d1 | d2) - excluded
    known = ((s1 | d1) & (s2 | d2)) | ((s1 | s2) if redundant else set())
    expected = covered(blind) - excluded - down - known
    assert report.unmonitored_seconds == 60 * len(expected)
    assert report.downtime_seconds == 60 * len(down)
