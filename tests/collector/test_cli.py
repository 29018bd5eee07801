"""`vigie-collector` as an operator runs it: check, serve (migrations), refusals, logs."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import requests
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from collector.store.database import make_engine
from collector.store.migrate import head_revision, migrate
from collector.store.tables import metadata
from tests.collector.server import TOKENS, auth, config_text, make_report, write_config
from tests.helpers import free_port, wait_until


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "collector", *args], capture_output=True,
                          text=True, timeout=60, check=False)


def test_it_accepts_a_good_configuration(tmp_path: Path) -> None:
    path = write_config(config_text(), tmp_path, f"sqlite:///{tmp_path}/c.db")
    result = _cli("--config", str(path), "check")
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_it_names_each_bad_key_and_exits_2(tmp_path: Path) -> None:
    bad = 'colour = "blue"\n' + config_text().replace('target = 99.9', 'target = "high"') \
        .replace('service = "globex-db"', 'service = "initech-db"')
    path = write_config(bad, tmp_path)
    result = _cli("--config", str(path), "check")
    missing = _cli("--config", str(tmp_path / "nope.toml"), "check")
    serve = _cli("--config", str(path), "serve")  # nothing starts half-configured

    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2
    assert f"{path}: colour: unknown key" in lines
    assert f"{path}: services[0].target: not a number (got 'high')" in lines
    assert f"{path}: servers[2].service: no such service (got 'initech-db')" in lines
    assert len(lines) == 3
    assert missing.returncode == 2 and "nope.toml: file: not found" in missing.stderr
    assert serve.returncode == 2 and "colour: unknown key" in serve.stderr


def test_it_lists_every_problem_of_every_table_in_one_run(tmp_path: Path) -> None:
    admin_file = tmp_path / "admin.token"
    admin_file.write_text("admin-token-in-a-file\n")
    admin_file.chmod(0o640)
    bad = (f'admin_token_file = "{admin_file}"\n'
           + config_text().replace(f'admin_token = "{TOKENS["admin"]}"\n', "")
           .replace("heartbeat_timeout = 30", 'heartbeat_timeout = "30"')
           .replace('id = "db-01"\n', "")
           + '[[webhooks]]\nurl = "ftp://hooks.invalid"\nsecret = "s"\nevents = ["incident.closed"]\n'
           + '[smtp]\nhost = "mail.invalid"\nport = 70000\ncolour = "blue"\n')
    path = write_config(bad, tmp_path)
    result = _cli("--config", str(path), "check")

    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2
    assert lines[0] == (f"{path}: admin_token_file: {admin_file} has mode 0640: it must not "
                        "be readable by group or others (chmod 600)")
    assert lines[1:5] == [
        f"{path}: detection.heartbeat_timeout: not a number (got '30')",
        f"{path}: servers[2].id: missing",  # it used to pass as a server named "#2"
        f"{path}: webhooks[0].url: not an http:// or https:// URL (got 'ftp://hooks.invalid')",
        (f"{path}: webhooks[0].events: unknown event, known: incident.opened, incident.resolved, "
        "incident.unacknowledged, incident.updated, maintenance.scheduled, sla.budget "
        "(got 'incident.closed')"),
    ]
    assert lines[5:] == [f"{path}: smtp.port: must be between 1 and 65535 (got 70000)",
                         f"{path}: smtp.colour: unknown key"]
    assert "admin-token-in-a-file" not in result.stderr


def test_it_migrates_to_a_schema_equal_to_the_tables(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine)
        migrate(engine)  # a second run is a no-op
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
            version = conn.execute(sa.text("select version_num from alembic_version")).scalar()
    finally:
        engine.dispose()
    assert diff == []
    assert version == head_revision()


def test_it_serves_on_a_new_database_and_never_logs_a_token(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    text = (f'listen = "127.0.0.1:{port}"\nlog_level = "DEBUG"\naccess_log = true\n'
            + config_text())
    path = write_config(text, tmp_path, db_url)
    proc = subprocess.Popen([sys.executable, "-m", "collector", "--config", str(path), "serve"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        def healthy() -> bool:
            try:
                return requests.get(base + "/healthz", timeout=1).status_code == 200
            except requests.ConnectionError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                return False
        wait_until(healthy, timeout=30)
        posted = requests.post(base + "/api/v1/reports", json=make_report("web-01"),
                               headers=auth("web-01"), timeout=10)
        for who in ("admin", "acme", "globex", "db-01"):
            requests.get(base + "/api/v1/servers?x=1", headers=auth(who), timeout=10)
        requests.get(base + "/api/v1/servers", timeout=10,
                     headers={"Authorization": "Bearer wrong-" + TOKENS["admin"]})
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    engine = make_engine(db_url)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("select count(*) from reports")).scalar()
        version = conn.execute(sa.text("select version_num from alembic_version")).scalar()
    engine.dispose()

    assert posted.status_code == 202
    assert proc.returncode == 0, stderr
    assert (stored, version) == (1, head_revision())
    assert '"GET /api/v1/servers?x=1 HTTP/1.1" 200' in stderr   # the access log is on
    leaked = [name for name, token in TOKENS.items() if token in stderr]
    assert leaked == []


def test_it_refuses_a_database_from_a_newer_version(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("update alembic_version set version_num = '0999_future'"))
    engine.dispose()
    path = write_config(f'listen = "127.0.0.1:{free_port()}"\n' + config_text(), tmp_path, db_url)

    result = _cli("--config", str(path), "serve")

    assert result.returncode == 2
    assert "0999_future" in result.stderr and "newer" in result.stderr


def test_it_refuses_a_bad_sla_period_naming_the_option(tmp_path: Path) -> None:
    path = write_config(config_text(), tmp_path, f"sqlite:///{tmp_path}/c.db")
    month = _cli("--config", str(path), "sla", "acme-web", "--month", "2026-13")
    year = _cli("--config", str(path), "sla", "acme-web", "--year", "0")
    both = _cli("--config", str(path), "sla", "acme-web", "--month", "2026-09", "--year", "1")
    neither = _cli("--config", str(path), "sla", "acme-web")

    assert [r.returncode for r in (month, year, both, neither)] == [2, 2, 2, 2]
    assert "argument --month: not YYYY-MM (got '2026-13')" in month.stderr
    assert "argument --year: not a contract year 1, 2, ... (got '0')" in year.stderr
    assert "not allowed with argument --month" in both.stderr
    assert "one of the arguments --month --year is required" in neither.stderr
    assert not (tmp_path / "c.db").exists()  # refused before anything is opened
