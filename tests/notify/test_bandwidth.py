"""Sustained bandwidth overage notice (contract §7: 101 Mbps, throttling 72 h after notice)."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import insert, select

from collector.domain.notices import Sample, ongoing_overage, service_totals
from collector.notify.dispatcher import run_due
from collector.services.notices import run_bandwidth
from collector.store import Database
from collector.store.tables import emails, notices, reports
from tests.notify.conftest import T0, Mailbox, make_config, parts, smtp_for

MBPS = 1_000_000


def _report(server: str, at: dt.datetime, rx_mbps: float, tx_mbps: float) -> dict[str, object]:
    network = [{"interface": "eth0", "rx_bits_per_second": rx_mbps * MBPS,
                "tx_bits_per_second": tx_mbps * MBPS},
               # loopback traffic never leaves the machine: it must not count
               {"interface": "lo", "rx_bits_per_second": 500 * MBPS, "tx_bits_per_second": 500 * MBPS}]
    return {"report_id": str(uuid.uuid4()), "server_id": server, "collected_at": at.isoformat(),
            "interval": 60, "network": network}


def _store(db: Database, start: dt.datetime, minutes: int, web01: float, web02: float) -> None:
    """One report a minute from each server: web-01 sends `web01` Mbps, web-02 `web02`."""
    with db.write() as conn:
        for m in range(minutes + 1):
            at = start + dt.timedelta(minutes=m)
            for server, mbps in (("web-01", web01), ("web-02", web02)):
                body = _report(server, at, mbps / 2, mbps / 2)
                conn.execute(insert(reports).values(report_id=body["report_id"], server_id=server,
                                                    collected_at=at, received_at=at, interval=60,
                                                    body=body))


def test_it_sends_one_notice_naming_the_throttling_date_72_hours_later(
        db: Database, mailbox: Mailbox) -> None:
    config = make_config(smtp=smtp_for(mailbox))
    # 60 + 50 = 110 Mbps > 101 from 09:00 to 10:10 UTC: 70 min above, sustain is 60 min.
    _store(db, T0, 70, web01=60, web02=50)
    now = T0 + dt.timedelta(minutes=70, seconds=20)
    run_bandwidth(db, config, now)
    _store(db, T0 + dt.timedelta(minutes=71), 5, web01=60, web02=50)
    run_bandwidth(db, config, now + dt.timedelta(minutes=6))   # same episode: no new notice
    run_due(db, config, now + dt.timedelta(minutes=6))
    assert sorted(rcpt[0] for rcpt, _ in mailbox.received) == ["noc@hoster.example", "ops@acme.example"]
    # Notice at 10:10:20 UTC on 3 Nov; + 72 h = 10:10 UTC on 6 Nov = 11:10 in Paris (UTC+01:00).
    for _, message in mailbox.received:
        assert "acme-web" in message["Subject"] and "101 Mbps" in message["Subject"]
        text, html = parts(message)
        assert "Earliest throttling: 2026-11-06 11:10 (Europe/Paris, UTC+01:00)" in text
        assert "2026-11-06 11:10 (Europe/Paris, UTC+01:00)" in html
        assert "110.0 Mbps" in text


def test_it_sends_nothing_at_or_below_the_limit(db: Database, mailbox: Mailbox) -> None:
    config = make_config(smtp=smtp_for(mailbox))
    _store(db, T0, 70, web01=60, web02=41)   # 101 Mbps is not above 101 (plus 1000 on lo)
    run_bandwidth(db, config, T0 + dt.timedelta(minutes=70))
    with db.read() as conn:
        assert conn.execute(select(emails)).all() == []


def test_it_sends_nothing_for_an_overage_shorter_than_the_sustain_time(db: Database,
                                                                       mailbox: Mailbox) -> None:
    config = make_config(smtp=smtp_for(mailbox))
    _store(db, T0, 20, web01=30, web02=30)                     # 60 Mbps until 09:20
    _store(db, T0 + dt.timedelta(minutes=21), 49, web01=80, web02=80)  # 160 Mbps for 49 min
    run_bandwidth(db, config, T0 + dt.timedelta(minutes=70))
    with db.read() as conn:
        assert conn.execute(select(emails)).all() == []


def test_it_sends_a_new_notice_for_a_new_episode_after_a_dip(db: Database, mailbox: Mailbox) -> None:
    config = make_config(smtp=smtp_for(mailbox), sustain=600)     # 10 minutes
    _store(db, T0, 15, web01=60, web02=50)
    run_bandwidth(db, config, T0 + dt.timedelta(minutes=15))
    _store(db, T0 + dt.timedelta(minutes=16), 0, web01=10, web02=10)   # one dip at 09:16
    _store(db, T0 + dt.timedelta(minutes=17), 12, web01=60, web02=50)
    run_bandwidth(db, config, T0 + dt.timedelta(minutes=29))
    with db.read() as conn:
        keys = sorted(r.key for r in conn.execute(select(notices)))
    assert keys == [T0.isoformat(), (T0 + dt.timedelta(minutes=17)).isoformat()]


def test_it_sums_the_latest_figure_of_each_server() -> None:
    t = [T0 + dt.timedelta(seconds=s) for s in range(4)]
    samples = service_totals([("b", t[1], 30.0), ("a", t[0], 50.0), ("a", t[2], 80.0),
                              ("b", t[3], 10.0)])
    assert samples == [Sample(t[0], 50.0), Sample(t[1], 80.0), Sample(t[2], 110.0), Sample(t[3], 90.0)]
    over = ongoing_overage(samples[:3], 60.0)
    assert over is not None and (over.started, over.last, over.peak_bits_per_second) == (t[1], t[2], 110.0)
    assert ongoing_overage(samples, 100.0) is None   # the newest total is back under the limit
