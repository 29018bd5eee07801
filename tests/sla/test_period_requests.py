"""The period asked for (`?month=`/`?year=`, `--month`/`--year`), parsed once into a value
that resolves itself for a service (contract §3; SPEC §2, §5)."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from collector.domain.sla import (
    ContractYear,
    CurrentMonth,
    Month,
    PeriodError,
    PeriodKind,
    parse_period,
)
from collector.domain.sla.periods import contract_year, month_period
from tests.sla.examples import PARIS, paris

COMMISSIONED = date(2026, 1, 15)
NOW = paris(2026, 11, 26, 12)


def test_it_reads_a_month_a_contract_year_or_neither() -> None:
    assert parse_period(month="2026-09") == Month(2026, 9)
    assert parse_period(year="2") == ContractYear(2)
    assert parse_period(year=3) == ContractYear(3)
    assert parse_period() == CurrentMonth()


def test_it_resolves_each_request_in_the_service_zone_at_now() -> None:
    september = Month(2026, 9).resolve(COMMISSIONED, PARIS, NOW)
    year2 = ContractYear(2).resolve(COMMISSIONED, "Europe/Paris", NOW)
    this_month = CurrentMonth().resolve(COMMISSIONED, PARIS, NOW)
    assert september == month_period(2026, 9, PARIS)
    assert (year2, year2.kind) == (contract_year(COMMISSIONED, 2, PARIS), PeriodKind.YEAR)
    assert year2.start.isoformat() == "2027-01-15T00:00:00+01:00"
    assert this_month.label == "2026-11"
    # 30 Nov 23:30 UTC is already December in Paris: the month is the service zone's
    assert CurrentMonth().resolve(COMMISSIONED, PARIS,
                                  datetime.fromisoformat("2026-11-30T23:30:00+00:00")
                                  ).label == "2026-12"


@pytest.mark.parametrize(("month", "year", "message"), [
    ("2026-13", None, "month: not YYYY-MM (got '2026-13')"),
    ("sept", None, "month: not YYYY-MM (got 'sept')"),
    ("2026-09", "1", "month: give month or year, not both"),
    (None, "0", "year: not a contract year 1, 2, ... (got '0')"),
    (None, "-1", "year: not a contract year 1, 2, ... (got '-1')"),
    (None, "one", "year: not a contract year 1, 2, ... (got 'one')"),
    (None, "\u00b2", "year: not a contract year 1, 2, ... (got '\u00b2')"),  # isdigit, not int
    (None, "9" * 5000, "year: not a contract year"),  # past int()'s 4,300 digits
    (None, 0, "year: not a contract year 1, 2, ... (got 0)"),
])
def test_it_refuses_a_bad_period_naming_the_parameter(
        month: str | None, year: str | int | None, message: str) -> None:
    with pytest.raises(PeriodError) as caught:
        parse_period(month=month, year=year)
    assert str(caught.value).startswith(message)
    assert caught.value.parameter == message.split(":")[0]
    assert isinstance(caught.value, ValueError)


def test_it_refuses_a_period_the_calendar_does_not_have_when_resolved() -> None:
    with pytest.raises(PeriodError, match=r"^month: not YYYY-MM \(got '0000-01'\)$"):
        Month.parse("0000-01").resolve(COMMISSIONED, PARIS, NOW)
    with pytest.raises(PeriodError, match=r"^month: not YYYY-MM \(got '9999-12'\)$"):
        Month(9999, 12).resolve(COMMISSIONED, PARIS, NOW)
    with pytest.raises(PeriodError, match=r"^year: not a contract year .* \(got 99999\)$"):
        ContractYear(99_999).resolve(COMMISSIONED, PARIS, NOW)


def test_it_checks_a_request_built_by_hand() -> None:
    with pytest.raises(PeriodError, match="^month: "):
        Month(2026, 13)
    with pytest.raises(PeriodError, match="^year: "):
        ContractYear(0)
