"""Real processes for the fail-over tests (issue 13): an agent listing several collectors,
a collector on a database of the test's choice, and a PostgreSQL server of the test's
own that it may stop, start and restart under a running collector."""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import psycopg

from collector.store import Database
from collector.store import reports as report_store
from collector.store.reports import StoredReport
from tests.collector.server import TOKENS, write_config
from tests.helpers import ROOT, collector_process, free_port, need, wait_until
from tests.pg import _pg_bin


@contextmanager
def agent_process(workdir: Path, *, server_id: str, urls: Sequence[str],
                  interval: float = 1.0) -> Iterator[subprocess.Popen[str]]:
    """`python -m agent --config FILE` sending to `urls` (SPEC-2 §11), its spool in
    `workdir/spool`; SIGTERM at the end (a clean stop), SIGKILL if it does not stop."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "agent.toml"
    # one collector: `url`, as every agent configured before SPEC-2 §11 says it
    listed = (f'url = "{urls[0]}"' if len(urls) == 1
              else "urls = [" + ", ".join(f'"{url}"' for url in urls) + "]")
    config.write_text(f"""
server_id = "{server_id}"
interval = {interval}

[collector]
{listed}
token = "{TOKENS[server_id]}"
timeout = 2

[metrics]
listen = ""

[spool]
path = "{workdir / 'spool'}"
""", encoding="utf-8")
    os.chmod(config, 0o600)
    with (workdir / "agent.log").open("w", encoding="utf-8") as log:
        proc = subprocess.Popen([sys.executable, "-m", "agent", "--config", str(config)],
                                cwd=ROOT, text=True, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        stop_agent(proc)


def stop_agent(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def spooled(workdir: Path) -> list[Path]:
    return sorted((workdir / "spool").glob("*.json"))


@contextmanager
def collector(directory: Path, db_url: str, text: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`vigie-collector serve` on a free port with `text` as its configuration."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    path = write_config(f'listen = "127.0.0.1:{port}"\n' + text, directory, db_url)
    with collector_process(path, port) as proc:
        yield f"http://127.0.0.1:{port}", proc


def stored_reports(db_url: str, server_id: str) -> list[StoredReport]:
    db = Database(db_url)
    try:
        with db.read() as conn:
            return list(report_store.list_reports(conn, server_id))
    finally:
        db.dispose()


class OwnPostgres:
    """A PostgreSQL server in a temporary directory on a free port, run as user postgres
    (PostgreSQL refuses root), that the test stops, starts and restarts at will."""

    def __init__(self) -> None:
        bindir = _pg_bin()
        need(bindir is not None, "initdb is not installed")
        assert bindir is not None
        self.bindir = bindir
        self.datadir = tempfile.mkdtemp(prefix="vigie-own-pg-")
        self.port = free_port()
        self.run_as: dict[str, int] = {}
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.datadir, pw.pw_uid, pw.pw_gid)
            self.run_as = {"user": pw.pw_uid, "group": pw.pw_gid}
        self._run("initdb", "-D", self.datadir, "-U", "postgres", "-A", "trust")
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([f"{self.bindir}/{tool}", *args], check=True, capture_output=True,
                       timeout=120, **self.run_as)  # type: ignore[arg-type]

    def _ctl(self, action: str, *extra: str) -> None:
        self._run("pg_ctl", "-D", self.datadir, "-w", "-l", f"{self.datadir}/log", "-o",
                  f"-p {self.port} -k {self.datadir} -h 127.0.0.1", *extra, action)

    def start(self) -> None:
        self._ctl("start")
        wait_until(self.answers, timeout=30, step=0.2)

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                pass
            with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                                 dbname="postgres", connect_timeout=2):
                return True
        except (OSError, psycopg.Error):
            return False

    def create_database(self, name: str = "vigie") -> str:
        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def destroy(self) -> None:
        subprocess.run([f"{self.bindir}/pg_ctl", "-D", self.datadir, "-m", "immediate", "stop"],
                       capture_output=True, check=False, timeout=60,
                       **self.run_as)  # type: ignore[arg-type]
        shutil.rmtree(self.datadir, ignore_errors=True)
