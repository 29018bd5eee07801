"""Hand-built inputs shared by the SLA tests (phase 2 reuses `worked_example()`)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from collector.domain.model import Responsibility
from collector.domain.sla import IncidentInput, MaintenanceInput, ServiceTerms
from collector.domain.sla.periods import Period, month_period

PARIS = ZoneInfo("Europe/Paris")
NOTICE = timedelta(days=8)  # contract §4: at least 8 calendar days of notice


def paris(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


def terms(**changes: object) -> ServiceTerms:
    """contract §8's service: 99.9 %, 300.00 EUR, GTR 4 h, 24/7, Europe/Paris."""
    base: dict[str, object] = {
        "id": "acme-web",
        "target_percent": Decimal("99.9"),
        "monthly_fee": Decimal("300.00"),
        "currency": "EUR",
        "gtr_seconds": 4 * 3600,
        "timezone": "Europe/Paris",
        "server_ids": ("web-01",),
    }
    base.update(changes)
    return ServiceTerms(**base)  # type: ignore[arg-type]


def outage(
    id: int,
    start: datetime,
    end: datetime | None,
    who: Responsibility = Responsibility.PROVIDER,
    server: str | None = "web-01",
    affects: bool = True,
) -> IncidentInput:
    return IncidentInput(
        id=id, server_id=server, responsibility=who, affects_availability=affects,
        started_at=start, resolved_at=end, detected_at=start, notified_at=None,
    )


def maintenance(id: int, start: datetime, end: datetime, notified: datetime) -> MaintenanceInput:
    return MaintenanceInput(id, start, end, notified, planned=start - notified >= NOTICE)


@dataclass(frozen=True)
class Example:
    terms: ServiceTerms
    period: Period
    incidents: tuple[IncidentInput, ...]
    maintenances: tuple[MaintenanceInput, ...]
    now: datetime


def worked_example(notice_days: int = 15) -> Example:
    """contract §8: September 2026; the maintenance on 20 Sep 02:00-03:00 announced
    `notice_days` ahead (15: planned; 5: not planned). `now` is 5 Oct 2026: period complete."""
    m_start = paris(2026, 9, 20, 2)
    return Example(
        terms=terms(),
        period=month_period(2026, 9, PARIS),
        incidents=(
            outage(1, paris(2026, 9, 3, 10), paris(2026, 9, 3, 10, 30)),
            outage(2, paris(2026, 9, 10, 14), paris(2026, 9, 10, 16), Responsibility.CLIENT),
            outage(4, paris(2026, 9, 25, 8), paris(2026, 9, 25, 13, 10)),
        ),
        maintenances=(
            maintenance(3, m_start, paris(2026, 9, 20, 3), m_start - timedelta(days=notice_days)),
        ),
        now=paris(2026, 10, 5, 12),
    )
