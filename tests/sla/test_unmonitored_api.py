"""SPEC-2 §9 end to end: blind time from the collector heartbeats, presence from the
evidence ledger and collector isolation from the incidents, read back through
`GET /api/v1/services/{id}/sla` and `vigie-collector sla` on a SQLite file and on
PostgreSQL; the worked example of contract §9 to the second.

History is made through the store's own functions: the migration's stretch
(`before-heartbeats`, 1970 to the migration) is pruned and stretches are written around
the blind windows; spooled reports are folded into the ledger as ingest does."""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import replace
from pathlib import Path

from collector.api.responses import SlaMonthOut, SlaReportOut
from collector.domain.detection import ISOLATED_KEY
from collector.domain.model import IncidentKind, Responsibility, Severity
from collector.services import incidents as incident_service
from collector.services.sla import month_figures
from collector.store import Database, heartbeats
from collector.store import evidence as ledger
from collector.store import incidents as incident_store
from tests.collector.server import TOKENS, running_app, write_config
from tests.sla.examples import PARIS, paris
from tests.sla.through_api import cli, cli_json, get_sla, post, without_clock

# contract §8's service, one server (acme-web); the same terms excluding unmonitored time
# (acme-mail). SPEC-2 §9: heartbeat 2 s, blind above a 6 s silence.
CONFIG = f"""
admin_token = "{TOKENS['admin']}"
timezone = "Europe/Paris"

[detection]
heartbeat_timeout = 30
ping = false

[[services]]
id = "acme-web"
client = "acme"
target = 99.9
monthly_fee = "300.00"
gtr = 14400
commissioned = 2026-01-15

[[services]]
id = "acme-mail"
client = "acme"
target = 99.9
monthly_fee = "300.00"
gtr = 14400
commissioned = 2026-01-15
unmonitored = "excluded"

[[servers]]
id = "web-01"
service = "acme-web"
address = "127.0.0.1"
token = "{TOKENS['web-01']}"

[[servers]]
id = "mail-01"
service = "acme-mail"
address = "127.0.0.2"
token = "{TOKENS['web-02']}"

[[clients]]
id = "acme"
token = "{TOKENS['acme']}"
"""
FAR = dt.timedelta(days=36_500)  # lets one beat push a stretch across any length of time
BLIND = (paris(2026, 9, 12, 2), paris(2026, 9, 12, 3))  # contract §9: collector stopped


def history(db: Database, *blind: tuple[dt.datetime, dt.datetime], now: dt.datetime) -> None:
    """Heartbeat stretches covering 2000-01-01 to `now` except the `blind` windows."""
    edges = [dt.datetime(2000, 1, 1, tzinfo=dt.UTC)]
    for start, end in blind:
        edges += [start, end]
    edges.append(now)
    with db.write() as conn:
        heartbeats.prune(conn, now + dt.timedelta(seconds=1))  # the migration's stretch too
        for start, end in zip(edges[::2], edges[1::2], strict=True):
            who = {"node_id": "node-a", "pid": 1, "version": "test", "address": ""}
            stretch = heartbeats.beat(conn, None, now=start, gap=FAR, **who)
            heartbeats.beat(conn, stretch, now=end, gap=FAR, **who)


def spool(db: Database, server: str, first: dt.datetime, last: dt.datetime) -> None:
    """Reports every 10 s from `first` to `last`, delivered late, folded into the ledger."""
    count = int((last - first).total_seconds()) // 10 + 1
    with db.write() as conn:
        ledger.record(conn, [ledger.Sighting(server, "report", first + dt.timedelta(seconds=10 * k),
                                             10) for k in range(count)])


def revise_start(db: Database, incident_id: int, started_at: dt.datetime) -> None:
    """What detection does once late evidence shows when the outage began."""
    with db.write() as conn:
        incident = incident_store.get(conn, incident_id)
        assert incident is not None
        incident_store.save(conn, replace(incident, started_at=started_at), ["started_at"])


def outage(base: str, server: str, start: dt.datetime, end: dt.datetime) -> int:
    stored = post(base, "/api/v1/incidents", {
        "server": server, "started_at": start.isoformat(), "resolved_at": end.isoformat(),
        "responsibility": "provider", "affects_availability": True,
        "summary": "found down after the collector's restart"})
    return int(stored["id"])


def test_it_reports_the_worked_example_of_contract_9_through_the_api_and_the_cli(
        db_url: str, tmp_path: Path) -> None:
    config = write_config(CONFIG, tmp_path, db_url)
    with running_app(CONFIG, db_url) as app:
        history(app.db, BLIND, now=dt.datetime.now(dt.UTC))
        found = outage(app.base_url, "web-01", paris(2026, 9, 12, 3), paris(2026, 9, 12, 4))
        before = get_sla(app.base_url, "acme-web", month="2026-09").json()
        # D = [03:00, 04:00) = 3,600 s; nothing proves [02:00, 03:00): U = 3,600 s
        assert (before["downtime_seconds"], before["unmonitored_seconds"]) == (3_600, 3_600)
        assert before["unmonitored"] == [{"start": "2026-09-12T02:00:00+02:00",
                                          "end": "2026-09-12T03:00:00+02:00"}]
        # counted as available: (2,592,000 - 3,600) / 2,592,000 = 99.8611 %
        assert before["availability_percent"] == 99.8611
        assert without_clock(cli_json(config, "acme-web", "--month", "2026-09")
                             ) == without_clock(before)
        # the API's declared answer (OpenAPI) names every key it writes, per month too
        year = get_sla(app.base_url, "acme-web", year="1").json()
        assert set(before) <= set(SlaReportOut.model_fields)
        assert set(year["months"][8]) <= set(SlaMonthOut.model_fields)
        september = year["months"][8]  # calendar months, from 15 Jan 2026
        assert (september["start"], september["unmonitored_seconds"]) == (
            "2026-09-01T00:00:00+02:00", 3_600)
        SlaReportOut.model_validate(year)

        # The repaired server's agent delivers what it spooled from 02:00 to 02:10: it
        # proves [02:00, 02:10:10); the start is revised to 02:10:10.
        spool(app.db, "web-01", paris(2026, 9, 12, 2), paris(2026, 9, 12, 2, 10))
        revise_start(app.db, found, paris(2026, 9, 12, 2, 10) + dt.timedelta(seconds=10))
        after = get_sla(app.base_url, "acme-web", month="2026-09").json()
    # D = [02:10:10, 04:00) = 6,590 s; U = 0; (2,592,000 - 6,590) / 2,592,000 = 99.7458 %
    assert (after["downtime_seconds"], after["unmonitored_seconds"]) == (6_590, 0)
    assert after["unmonitored"] == []
    assert after["availability_percent"] == 99.7458
    printed = cli_json(config, "acme-web", "--month", "2026-09")
    assert without_clock(printed) == without_clock(after)
    text = cli(config, "acme-web", "--month", "2026-09", "--format", "csv").stdout
    assert dict(csv.reader(io.StringIO(text.split("\n\n")[0])))["unmonitored_seconds"] == "0"


def test_a_service_excluding_unmonitored_time_reckons_without_it(db_url: str) -> None:
    # Blind 11 Sep 00:00 to 21 Sep 00:00 Paris: 864,000 s of September's 2,592,000.
    # acme-web (available): allowed 0.001 x 2,592,000 = 2,592 s;
    # acme-mail (excluded): allowed 0.001 x (2,592,000 - 864,000) = 1,728 s.
    # A 2,000 s outage of each: met for acme-web (99.9228 %); missed for acme-mail,
    # (1,728,000 - 2,000) / 1,728,000 = 0.998842... -> 99.8843 %.
    ten_days = (paris(2026, 9, 11), paris(2026, 9, 21))
    with running_app(CONFIG, db_url) as app:
        history(app.db, ten_days, now=dt.datetime.now(dt.UTC))
        for server in ("web-01", "mail-01"):
            start = paris(2026, 9, 3, 10)
            outage(app.base_url, server, start, start + dt.timedelta(seconds=2_000))
        web = get_sla(app.base_url, "acme-web", month="2026-09").json()
        mail = get_sla(app.base_url, "acme-mail", month="2026-09").json()
    assert web["unmonitored_seconds"] == mail["unmonitored_seconds"] == 864_000
    assert (web["allowed_downtime_seconds"], web["availability_percent"], web["breached"]
            ) == (2592, 99.9228, False)
    assert (mail["allowed_downtime_seconds"], mail["availability_percent"], mail["breached"]
            ) == (1728, 99.8843, True)


def test_collector_isolation_filed_under_one_service_is_blind_time_for_all(
        db_url: str) -> None:
    # collector_isolated 15 Sep 10:00-10:30, filed under acme-mail: both services have
    # 1,800 s unmonitored (the incident is about the collector, not acme-mail)
    with running_app(CONFIG, db_url) as app:
        history(app.db, now=dt.datetime.now(dt.UTC))
        with app.db.write() as conn:
            incident_service.open_incident(
                conn, app.config, service_id="acme-mail", server_id=None,
                kind=IncidentKind.COLLECTOR_ISOLATED, severity=Severity.CRITICAL,
                responsibility=Responsibility.PROVIDER, affects_availability=False,
                started_at=paris(2026, 9, 15, 10), detected_at=paris(2026, 9, 15, 10),
                summary="no canary answers", evidence={}, dedup_key=ISOLATED_KEY, actor="vigie",
                now=dt.datetime.now(dt.UTC), resolved_at=paris(2026, 9, 15, 10, 30))
        reports = [get_sla(app.base_url, s, month="2026-09").json()
                   for s in ("acme-web", "acme-mail")]
    for report in reports:
        assert report["unmonitored"] == [{"start": "2026-09-15T10:00:00+02:00",
                                          "end": "2026-09-15T10:30:00+02:00"}]
        assert report["downtime_seconds"] == 0  # isolation is not downtime


def test_the_page_draws_unmonitored_time_apart_with_its_legend(sqlite_url: str) -> None:
    with running_app(CONFIG, sqlite_url) as app:
        history(app.db, BLIND, now=dt.datetime.now(dt.UTC))
        page = get_sla(app.base_url, "acme-web", month="2026-09", format="html").text
    # 12 Sep 02:00 is 11 days 2 h into the 30-day month: 957,600 / 2,592,000 x 1000 = 369.44
    assert '<rect class="unmonitored" x="369.44"' in page
    assert "svg .unmonitored { fill: #f0a30a; }" in page
    assert "unmonitored (Vigie could not observe: counted as available)" in page
    assert "<th>Unmonitored time</th><td class=\"num unmonitored\">3600 s (1 h)" in page
    assert "<tr><td>2026-09-12 02:00</td><td>2026-09-12 03:00</td><td class=\"num\">1 h</td>" \
        in page


def test_the_metrics_budget_leaves_excluded_unmonitored_time_out(db_url: str) -> None:
    # This month, blind its first hour (U = 3,600 s): the budget of acme-web is
    # 0.001 x |month| (December 2026: 31 days, 2,678.4 s), that of acme-mail (excluded)
    # 0.001 x (|month| - 3,600) (2,674.8 s); no downtime, so the ratio is 1 for both.
    with running_app(CONFIG, db_url) as app:
        # `now` once the app is up: history() prunes the migration's stretch (1970 to the
        # app's start) only if it ended before `now`; taken before a slow start, it did not,
        # and that stretch hid the blind hour (a failure seen under load)
        now = dt.datetime.now(dt.UTC)
        local = now.astimezone(PARIS)
        first = dt.datetime(local.year, local.month, 1, tzinfo=PARIS)
        after = dt.datetime(local.year + local.month // 12, local.month % 12 + 1, 1,
                            tzinfo=PARIS)
        blind_end = min(first + dt.timedelta(hours=1), now)  # in its first hour: until now
        history(app.db, (first, blind_end), now=now)
        with app.db.read() as conn:
            figures = {f.service_id: f for f in month_figures(conn, app.config, now)}
    month = after.timestamp() - first.timestamp()  # through UTC: exact across DST
    unmonitored = (blind_end - first).total_seconds()
    assert round(figures["acme-web"].budget_remaining_seconds, 1) == round(month / 1000, 1)
    assert round(figures["acme-mail"].budget_remaining_seconds, 1) == round(
        (month - unmonitored) / 1000, 1)
    assert figures["acme-web"].availability_ratio == figures["acme-mail"].availability_ratio == 1
