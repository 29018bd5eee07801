"""The rules of contract §3-6, one hand-worked case each (Europe/Paris, 300.00 EUR, 99.9 %,
GTR 4 h = 14,400 s unless said otherwise)."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import pytest

from collector.domain.model import Responsibility
from collector.domain.sla import (
    IncidentInput,
    MaintenanceInput,
    SliceMode,
    build_report,
    gtr_credit_percent,
)
from collector.domain.sla.coverage import CoverageSpec
from collector.domain.sla.periods import Period, contract_year, month_period
from collector.render.json import report_json
from tests.sla.examples import PARIS, maintenance, outage, paris, terms

SEPT = month_period(2026, 9, PARIS)
LATER = paris(2028, 2, 1)  # every period of these tests has ended
CLIENT = Responsibility.CLIENT


def report(
    incidents: Sequence[IncidentInput],
    maintenances: Sequence[MaintenanceInput] = (),
    period: Period = SEPT,
    now: datetime = LATER,
    **changes: Any,
) -> dict[str, Any]:
    return report_json(build_report(terms(**changes), period, incidents, maintenances, now))


def test_it_splits_an_incident_across_a_month_boundary() -> None:
    # 30 Sep 22:00 -> 1 Oct 02:00 Paris: 7,200 s in each month; GTR 3 h: restore 14,400,
    # 3,600 over -> 20 % = 60.00, owed in September, the month it started.
    inc = [outage(1, paris(2026, 9, 30, 22), paris(2026, 10, 1, 2))]
    sept = report(inc, gtr_seconds=10_800)
    octo = report(inc, period=month_period(2026, 10, PARIS), gtr_seconds=10_800)
    assert sept["downtime_seconds"] == 7_200 and octo["downtime_seconds"] == 7_200
    assert sept["gtr_credit"] == "60.00" and octo["gtr_credit"] == "0.00"
    assert octo["incidents"][0]["restore_seconds"] == 14_400
    assert octo["incidents"][0]["gtr_credited"] is False


def test_it_counts_real_seconds_in_the_october_dst_month() -> None:
    # 25 Oct 01:00 (UTC+2) -> 04:00 (UTC+1): 23:00Z -> 03:00Z = 14,400 s, not 10,800
    data = report([outage(1, paris(2026, 10, 25, 1), paris(2026, 10, 25, 4))],
                  period=month_period(2026, 10, PARIS))
    assert data["coverage_seconds"] == 2_682_000
    assert data["downtime_seconds"] == 14_400
    # allowed = 0.001 x 2,682,000 = 2,682 s, a whole number
    assert data["allowed_downtime_seconds"] == 2682
    # (2,682,000 - 14,400) / 2,682,000 = 0.99463087... -> 99.4631 %
    assert data["availability_percent"] == 99.4631


def test_it_merges_overlapping_incidents() -> None:
    # 10:00-11:00 on web-01 and 10:30-12:00 on web-02: union 10:00-12:00 = 7,200, not 9,000
    data = report([
        outage(1, paris(2026, 9, 3, 10), paris(2026, 9, 3, 11)),
        outage(2, paris(2026, 9, 3, 10, 30), paris(2026, 9, 3, 12), server="web-02"),
    ], server_ids=("web-01", "web-02"))
    assert data["downtime_seconds"] == 7_200
    # (2,592,000 - 7,200) / 2,592,000 = 0.99722222 -> 99.7222 %; 2 slices = 5 % = 15.00
    assert data["availability_percent"] == 99.7222
    assert data["availability_credit"] == "15.00"


def test_it_lets_exclusion_win_over_provider_downtime() -> None:
    # provider 10:00-12:00, client 11:00-13:00: E = 7,200, D = 10:00-11:00 = 3,600
    data = report([
        outage(1, paris(2026, 9, 3, 10), paris(2026, 9, 3, 12)),
        outage(2, paris(2026, 9, 3, 11), paris(2026, 9, 3, 13), CLIENT),
    ])
    assert (data["excluded_seconds"], data["downtime_seconds"]) == (7_200, 3_600)
    provider = data["incidents"][0]
    assert (provider["counted_seconds"], provider["excluded_seconds"]) == (3_600, 3_600)
    # the GTR clock does not run on excluded time: 7,200 - 3,600 = 3,600
    assert provider["restore_seconds"] == 3_600


def test_it_ignores_an_incident_that_does_not_affect_availability() -> None:
    # a CPU at 95 % for 10 h: an incident, not downtime (contract §3)
    data = report([outage(1, paris(2026, 9, 3, 8), paris(2026, 9, 3, 18), affects=False)])
    assert (data["downtime_seconds"], data["excluded_seconds"]) == (0, 0)
    assert data["availability_percent"] == 100.0
    assert data["credit_total"] == "0.00"
    assert data["incidents"][0]["gtr_credit_percent"] == 0


def test_it_caps_the_availability_credit_at_the_monthly_fee() -> None:
    # 50 h down: 50 slices x 2.5 % = 125 % -> capped at 100 % = 300.00;
    # GTR: 50 h - 4 h = 46 h over -> 50 % = 150.00; total 450.00
    data = report([outage(1, paris(2026, 9, 3, 0), paris(2026, 9, 5, 2))])
    assert data["downtime_seconds"] == 180_000
    assert data["availability_credit"] == "300.00"
    assert data["gtr_credit"] == "150.00"
    assert data["credit_total"] == "450.00"


def test_it_caps_the_gtr_credits_of_a_month_at_the_fee() -> None:
    # three outages of 7 h 01 min (25,260 s): each 10,860 s over -> 50 %; 150 % -> 300.00
    # D = 75,780 s -> 21 slices x 2.5 % = 52.5 % = 157.50
    days = (2, 9, 16)
    incs = [outage(i, paris(2026, 9, d, 1), paris(2026, 9, d, 8, 1)) for i, d in enumerate(days)]
    data = report(incs)
    assert [i["gtr_credit_percent"] for i in data["incidents"]] == [50, 50, 50]
    assert data["gtr_credit"] == "300.00"
    assert data["availability_credit"] == "157.50"
    assert data["credit_total"] == "457.50"


@pytest.mark.parametrize(("over", "percent"), [
    (-1, 0), (0, 0), (1, 20), (3600, 20), (3601, 30), (7200, 30), (7201, 40),
    (10800, 40), (10801, 50), (86400, 50),
])
def test_it_applies_the_gtr_tiers_at_their_boundaries(over: int, percent: int) -> None:
    # restore = 14,400 + over seconds; the credit is percent x 3.00 EUR (contract §6)
    start = paris(2026, 9, 3, 0)
    end = datetime.fromtimestamp(start.timestamp() + 14_400 + over, PARIS)
    data = report([outage(1, start, end)])
    assert data["incidents"][0]["gtr_overrun_seconds"] == max(0, over)
    assert data["incidents"][0]["gtr_credit_percent"] == percent == gtr_credit_percent(over)
    assert data["gtr_credit"] == f"{3 * percent}.00"


def test_it_starts_the_gtr_clock_at_the_earlier_of_ticket_and_detection() -> None:
    # outage 08:00-13:10, detected 08:30, client ticket at 08:10: restore 08:10-13:10 = 18,000
    inc = IncidentInput(1, "web-01", Responsibility.PROVIDER, True, paris(2026, 9, 25, 8),
                        paris(2026, 9, 25, 13, 10), paris(2026, 9, 25, 8, 30),
                        paris(2026, 9, 25, 8, 10))
    assert report([inc])["incidents"][0]["restore_seconds"] == 18_000


def test_it_counts_started_slices_when_asked() -> None:
    # D = 1,800 + 18,600 = 20,400 s: floor 5 slices = 37.50, ceil 6 slices = 45.00
    incs = [outage(1, paris(2026, 9, 3, 10), paris(2026, 9, 3, 10, 30)),
            outage(4, paris(2026, 9, 25, 8), paris(2026, 9, 25, 13, 10))]
    assert report(incs)["availability_credit"] == "37.50"
    assert report(incs, slice_mode=SliceMode.STARTED)["availability_credit"] == "45.00"


def test_it_counts_only_the_overlap_on_a_redundant_service() -> None:
    # web-01 down 10:00-12:00, web-02 down 11:00-13:00
    incs = [outage(1, paris(2026, 9, 3, 10), paris(2026, 9, 3, 12)),
            outage(2, paris(2026, 9, 3, 11), paris(2026, 9, 3, 13), server="web-02")]
    both = ("web-01", "web-02")
    redundant = report(incs, server_ids=both, redundant=True)
    single = report(incs, server_ids=both, redundant=False)
    assert redundant["downtime_seconds"] == 3_600  # both down 11:00-12:00 only
    assert single["downtime_seconds"] == 10_800  # any down 10:00-13:00
    assert [i["counted_seconds"] for i in redundant["incidents"]] == [3_600, 3_600]
    # one server down alone never takes a redundant service down
    alone = report(incs[:1], server_ids=both, redundant=True)
    assert alone["downtime_seconds"] == 0 and alone["availability_percent"] == 100.0


def test_it_does_not_count_a_public_holiday_on_business_hours() -> None:
    # November 2026, Mon-Fri 09:00-18:00: 20 business days x 32,400 = 648,000 s covered
    # Wed 11 Nov (Armistice) 10:00-12:00: not covered; Tue 10 Nov 20:00 -> Wed 08:00: night
    # Thu 12 Nov 17:00-19:00: only 17:00-18:00 covered = 3,600 s
    # availability = 644,400 / 648,000 = 0.99444... -> 99.4444 %: missed, 1 slice = 7.50
    incs = [outage(1, paris(2026, 11, 11, 10), paris(2026, 11, 11, 12)),
            outage(2, paris(2026, 11, 10, 20), paris(2026, 11, 11, 8)),
            outage(3, paris(2026, 11, 12, 17), paris(2026, 11, 12, 19))]
    data = report(incs, period=month_period(2026, 11, PARIS),
                  coverage=CoverageSpec.business_hours("09:00", "18:00"))
    assert data["coverage_seconds"] == 648_000
    assert data["downtime_seconds"] == 3_600
    assert [i["counted_seconds"] for i in data["incidents"]] == [0, 0, 3_600]
    assert data["availability_percent"] == 99.4444
    assert data["availability_credit"] == "7.50"


def test_it_runs_a_business_hours_gtr_only_in_business_hours() -> None:
    # Fri 13 Nov 15:00 -> Mon 16 Nov 12:00: Fri 15-18 (3 h) + Mon 09-12 (3 h) = 21,600 s
    # over the 4 h GTR by 7,200 s -> 30 % = 90.00
    data = report([outage(1, paris(2026, 11, 13, 15), paris(2026, 11, 16, 12))],
                  period=month_period(2026, 11, PARIS), coverage=CoverageSpec.business_hours())
    assert data["incidents"][0]["restore_seconds"] == 21_600
    assert data["gtr_credit"] == "90.00"


def test_it_reports_contract_years_with_credits_paid_per_month() -> None:
    # commissioned 15 Jan 2026; year 1 = 15 Jan 2026 - 15 Jan 2027 = 31,536,000 s
    incs = [outage(1, paris(2026, 9, 3, 10), paris(2026, 9, 3, 10, 30)),
            outage(2, paris(2026, 9, 10, 14), paris(2026, 9, 10, 16), CLIENT),
            outage(4, paris(2026, 9, 25, 8), paris(2026, 9, 25, 13, 10)),
            outage(5, paris(2027, 1, 10, 10), paris(2027, 1, 10, 12, 30)),
            outage(6, paris(2027, 1, 20, 10), paris(2027, 1, 20, 11))]
    year1 = report(incs, period=contract_year(date(2026, 1, 15), 1, PARIS))
    # E = 7,200; D = 1,800 + 18,600 + 9,000 = 29,400
    # availability = (31,536,000 - 36,600) / 31,528,800 = 0.99906751... -> 99.9068 %: met
    assert year1["period"]["start"] == "2026-01-15T00:00:00+01:00"
    assert year1["period"]["end"] == "2027-01-15T00:00:00+01:00"
    assert (year1["coverage_seconds"], year1["excluded_seconds"]) == (31_536_000, 7_200)
    assert year1["downtime_seconds"] == 29_400
    assert year1["availability_percent"] == 99.9068 and year1["breached"] is False
    # but credits are paid per month: Sep: 5 slices = 37.50 + GTR 90.00;
    # 1-15 Jan 2027 (1,209,600 s): 9,000 s down -> 99.2560 % missed, 2 slices = 15.00
    assert year1["availability_credit"] == "52.50"
    assert year1["gtr_credit"] == "90.00"
    assert year1["credit_total"] == "142.50"
    assert len(year1["months"]) == 13
    year2 = report(incs, period=contract_year(date(2026, 1, 15), 2, PARIS))
    # year 2 starts 15 Jan 2027: only incident 6 (3,600 s); 15-31 Jan = 1,468,800 s
    # -> 99.7549 % missed that month: 1 slice = 7.50; the year: 99.9886 %
    assert year2["downtime_seconds"] == 3_600
    assert year2["availability_percent"] == 99.9886
    assert year2["credit_total"] == "7.50"


def test_it_reports_an_open_period_as_it_stands() -> None:
    # now = 16 Sep 00:00: 15 days elapsed = 1,296,000 s covered
    # D = 1,800 + open incident since 15 Sep 22:00 (7,200 to now) = 9,000
    # availability = 1,287,000 / 1,296,000 = 0.99305555... -> 99.3056 %
    # allowed: the whole month's budget, less the maintenance already planned on 20 Sep:
    # 0.001 x (2,592,000 - 3,600) = 2,588.4 s
    incs = [outage(1, paris(2026, 9, 3, 10), paris(2026, 9, 3, 10, 30)),
            outage(2, paris(2026, 9, 15, 22), None)]
    maint = [maintenance(3, paris(2026, 9, 20, 2), paris(2026, 9, 20, 3), paris(2026, 9, 1))]
    data = report(incs, maint, now=paris(2026, 9, 16))
    assert data["period"]["complete"] is False
    assert data["coverage_seconds"] == 1_296_000
    assert (data["excluded_seconds"], data["downtime_seconds"]) == (0, 9_000)
    assert data["availability_percent"] == 99.3056
    assert data["allowed_downtime_seconds"] == 2588.4
    open_incident = data["incidents"][1]
    assert open_incident["resolved_at"] is None and open_incident["restore_seconds"] == 7_200
