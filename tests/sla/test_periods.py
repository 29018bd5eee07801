"""Periods and coverage calendars (contract §3, §4)."""
from __future__ import annotations

import itertools
from datetime import date, datetime

import pytest

from collector.domain.sla.coverage import CoverageSpec, coverage
from collector.domain.sla.periods import (
    contract_year,
    contract_year_at,
    current_month,
    month_period,
    months_within,
    parse_month,
)
from tests.sla.examples import PARIS, paris


def test_it_makes_october_2026_in_paris_one_hour_longer() -> None:
    # 31 days x 86,400 = 2,678,400, plus the hour given back on 25 Oct (03:00 -> 02:00)
    period = month_period(2026, 10, "Europe/Paris")
    assert period.seconds == 2_682_000
    assert period.start.isoformat() == "2026-10-01T00:00:00+02:00"
    assert period.end.isoformat() == "2026-11-01T00:00:00+01:00"


def test_it_makes_march_2026_in_paris_one_hour_shorter() -> None:
    # 31 x 86,400 = 2,678,400, minus the hour skipped on 29 Mar (02:00 -> 03:00)
    assert month_period(2026, 3, PARIS).seconds == 2_674_800


def test_it_parses_a_month_and_rejects_a_bad_one() -> None:
    assert parse_month("2026-09") == (2026, 9)
    with pytest.raises(ValueError, match="2026-13"):
        parse_month("2026-13")
    with pytest.raises(ValueError, match="'sept'"):
        parse_month("sept")


def test_it_finds_the_current_month_in_the_service_zone() -> None:
    # 30 Sep 23:30 UTC is already 1 Oct 01:30 in Paris
    now = datetime.fromisoformat("2026-09-30T23:30:00+00:00")
    assert current_month(now, PARIS).label == "2026-10"


def test_it_starts_contract_year_one_at_the_commissioning_date() -> None:
    year1 = contract_year(date(2026, 1, 15), 1, PARIS)
    year2 = contract_year(date(2026, 1, 15), 2, PARIS)
    assert (year1.start, year1.end) == (paris(2026, 1, 15), paris(2027, 1, 15))
    assert (year2.start, year2.end) == (paris(2027, 1, 15), paris(2028, 1, 15))
    # 365 days, the two DST changes cancel out: 365 x 86,400 = 31,536,000
    assert year1.seconds == 31_536_000
    assert year2.seconds == 31_536_000
    # year 3 (15 Jan 2028 - 15 Jan 2029) holds 29 Feb 2028: 366 x 86,400
    assert contract_year(date(2026, 1, 15), 3, PARIS).seconds == 31_622_400
    assert contract_year_at(date(2026, 1, 15), paris(2027, 3, 1), PARIS).index == 2
    with pytest.raises(ValueError, match="got 0"):
        contract_year(date(2026, 1, 15), 0, PARIS)


def test_it_keeps_years_contiguous_after_a_29_february_commissioning() -> None:
    years = [contract_year(date(2028, 2, 29), n, PARIS) for n in (1, 2, 3, 4, 5)]
    assert years[0].start == paris(2028, 2, 29)
    assert years[0].end == paris(2029, 2, 28)
    assert all(a.end == b.start for a, b in itertools.pairwise(years))
    assert years[4].start == paris(2032, 2, 29)


def test_it_splits_a_contract_year_into_thirteen_calendar_month_parts() -> None:
    months = months_within(contract_year(date(2026, 1, 15), 1, PARIS))
    # 15-31 Jan 2026, Feb..Dec 2026, 1-15 Jan 2027
    assert len(months) == 13
    assert months[0].start == paris(2026, 1, 15) and months[0].end == paris(2026, 2, 1)
    assert months[-1].start == paris(2027, 1, 1) and months[-1].end == paris(2027, 1, 15)


def test_it_leaves_public_holidays_out_of_business_hours() -> None:
    # November 2026: 21 weekdays, minus Wed 11 Nov (Armistice) = 20 business days;
    # 1 Nov is a Sunday anyway. 20 x 9 h x 3,600 = 648,000 s
    nov = month_period(2026, 11, PARIS)
    cov = coverage(CoverageSpec.business_hours("09:00", "18:00"), nov.start_ts, nov.end_ts, PARIS)
    assert cov.total_seconds() == 648_000
    holiday = coverage(CoverageSpec.business_hours(), int(paris(2026, 11, 11).timestamp()),
                       int(paris(2026, 11, 12).timestamp()), PARIS)
    assert holiday.total_seconds() == 0


def test_it_keeps_nine_local_hours_on_the_day_of_a_dst_change() -> None:
    # Mon 30 Mar 2026 is the first business day after the change: still 09:00-18:00 local
    day_start, day_end = int(paris(2026, 3, 30).timestamp()), int(paris(2026, 3, 31).timestamp())
    cov = coverage(CoverageSpec.business_hours(), day_start, day_end, PARIS)
    assert cov.intervals == ((int(paris(2026, 3, 30, 9).timestamp()),
                              int(paris(2026, 3, 30, 18).timestamp())),)


def test_it_refuses_business_hours_that_end_before_they_start() -> None:
    with pytest.raises(ValueError, match="18:00-09:00"):
        CoverageSpec.business_hours("18:00", "09:00")
    with pytest.raises(ValueError, match="'9h'"):
        CoverageSpec.business_hours("9h", "18:00")
