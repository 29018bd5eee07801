"""A PostgreSQL server for the tests: the machine's own on 127.0.0.1:5432 when it answers,
otherwise one started here in a temporary directory (initdb + pg_ctl, as user postgres when
running as root, since PostgreSQL refuses to run as root)."""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import psycopg


def _answers(host: str, port: int) -> bool:
    try:
        with psycopg.connect(host=host, port=port, user="postgres", dbname="postgres",
                             connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def _pg_bin() -> str | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return os.path.dirname(candidates[0])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


class PgServer:
    """Gives throwaway databases; stops the server it started, if any."""

    def __init__(self) -> None:
        self.host, self.port = "127.0.0.1", int(os.environ.get("VIGIE_PG_PORT", "5432"))
        self.datadir: str | None = None
        self.reason = ""
        if _answers(self.host, self.port):
            return
        self._start_own()

    def _start_own(self) -> None:
        bindir = _pg_bin()
        if bindir is None:
            self.reason = "PostgreSQL is not running on 127.0.0.1:5432 and initdb is not installed"
            self.port = 0
            return
        self.datadir = tempfile.mkdtemp(prefix="vigie-pg-")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        run_as: dict[str, object] = {}
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.datadir, pw.pw_uid, pw.pw_gid)
            run_as = {"user": pw.pw_uid, "group": pw.pw_gid}
        subprocess.run([f"{bindir}/initdb", "-D", self.datadir, "-U", "postgres", "-A", "trust"],
                       check=True, capture_output=True, **run_as)  # type: ignore[arg-type]
        subprocess.run([f"{bindir}/pg_ctl", "-D", self.datadir, "-w", "-l",
                        f"{self.datadir}/log", "-o", f"-p {self.port} -k {self.datadir} -h 127.0.0.1",
                        "start"], check=True, capture_output=True, **run_as)  # type: ignore[arg-type]
        self._run_as = run_as
        self._bindir = bindir
        for _ in range(50):
            if _answers(self.host, self.port):
                return
            time.sleep(0.1)
        self.reason = f"could not start PostgreSQL from {bindir}"
        self.port = 0

    @property
    def available(self) -> bool:
        return self.port != 0

    def create_database(self) -> str:
        name = f"vigie_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(host=self.host, port=self.port, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@{self.host}:{self.port}/{name}"

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(host=self.host, port=self.port, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self.datadir:
            subprocess.run([f"{self._bindir}/pg_ctl", "-D", self.datadir, "-m", "fast", "stop"],
                           capture_output=True, check=False, **self._run_as)  # type: ignore[arg-type]
            shutil.rmtree(self.datadir, ignore_errors=True)
