"""SIGHUP (SPEC-2 §15, `systemctl reload`): the file's inventory re-read without a restart,
with one worker and with several: a server added is served (and watched) within a pass;
a broken file is refused with the `check` messages and the running inventory kept.

With several workers, "every worker" is checked worker by worker: the kernel hands each
new connection to whichever worker accepts first, so a handful of requests may all land
on one. A connection is tied to the worker that holds its socket (psutil reads the
workers' socket tables); connections are opened until each worker holds one."""
from __future__ import annotations

import http.client
import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import psutil
import pytest
import requests

from tests.collector.server import auth, config_text, make_report
from tests.collector.test_workers import _workers, serving
from tests.helpers import wait_until

ADDED = '''
[[servers]]
id = "web-07"
service = "acme-web"
address = "127.0.0.7"
token = "agent-web07-token-0123456789"
'''
WEB07 = {"Authorization": "Bearer agent-web07-token-0123456789"}
MAX_CONNECTIONS = 64  # to reach every worker; each takes one with odds 1/workers or so
T = TypeVar("T")


def _ids(base: str) -> set[str]:
    answer = requests.get(base + "/api/v1/servers", headers=auth("admin"), timeout=5)
    return {s["id"] for s in answer.json()}


def _serving_processes(proc: subprocess.Popen[str], workers: int) -> list[psutil.Process]:
    """The processes that accept connections: `serve` itself with one worker, else its
    uvicorn workers (all of them started)."""
    if workers == 1:
        return [psutil.Process(proc.pid)]
    wait_until(lambda: len(_workers(proc.pid)) == workers, timeout=30)
    return _workers(proc.pid)


def _holder(processes: list[psutil.Process], server_port: int, client_port: int
            ) -> int | None:
    """The pid of the process holding the server's end of the connection from
    `client_port` (None: none of them, e.g. it was closed meanwhile)."""
    for p in processes:
        for c in p.net_connections(kind="tcp"):
            if c.laddr and c.laddr.port == server_port and c.raddr \
                    and c.raddr.port == client_port:
                return p.pid
    return None


@contextmanager
def one_per_worker(base: str, processes: list[psutil.Process]
                   ) -> Iterator[dict[int, http.client.HTTPConnection]]:
    """A kept-alive connection held by each serving process (pid -> connection), each
    answered once already (so accepted), to be used at once (uvicorn closes an idle
    one after 5 s). Fewer than all when MAX_CONNECTIONS were not enough."""
    url = urlsplit(base)
    assert url.hostname is not None and url.port is not None
    held: dict[int, http.client.HTTPConnection] = {}
    opened: list[http.client.HTTPConnection] = []
    try:
        for _ in range(MAX_CONNECTIONS):
            if len(held) == len(processes):
                break
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
            opened.append(conn)
            assert _request(conn, "GET", "/healthz")[0] == 200
            pid = _holder(processes, url.port, conn.sock.getsockname()[1])
            if pid is not None:
                held.setdefault(pid, conn)
        yield held
    finally:
        for conn in opened:
            conn.close()


def _request(conn: http.client.HTTPConnection, method: str, path: str,
             headers: dict[str, str] | None = None, body: Any = None) -> tuple[int, Any]:
    """One request over `conn` (kept alive: the same worker), its status and JSON."""
    data = None if body is None else json.dumps(body)
    conn.request(method, path, body=data, headers={
        **(headers or {}), **({"Content-Type": "application/json"} if data else {})})
    answer = conn.getresponse()
    raw = answer.read()
    return answer.status, json.loads(raw) if raw else None


def each_worker(base: str, processes: list[psutil.Process],
                ask: Callable[[http.client.HTTPConnection], T]) -> dict[int, T]:
    """`ask`'s answer from every serving process (pid -> answer); fails the test if some
    process could not be reached."""
    with one_per_worker(base, processes) as held:
        assert len(held) == len(processes), (
            f"{MAX_CONNECTIONS} connections reached only {sorted(held)} of "
            f"{sorted(p.pid for p in processes)}")
        return {pid: ask(conn) for pid, conn in held.items()}


def _listed(conn: http.client.HTTPConnection) -> set[str]:
    status, body = _request(conn, "GET", "/api/v1/servers", auth("admin"))
    assert status == 200, body
    return {s["id"] for s in body}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_sighup_adds_the_file_s_new_server_and_refuses_a_broken_file(
        sqlite_url: str, tmp_path: Path, workers: int) -> None:
    head = f"workers = {workers}\n"
    with serving(tmp_path, sqlite_url, head + config_text()) as (base, proc, logs):
        processes = _serving_processes(proc, workers)
        before = each_worker(base, processes, _listed)
        assert not [pid for pid, ids in before.items() if "web-07" in ids]
        path = tmp_path / "collector.toml"
        text = path.read_text(encoding="utf-8")
        path.write_text(text + ADDED, encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        # every worker within a second or two, each asked over its own connection
        wait_until(lambda: all("web-07" in ids
                               for ids in each_worker(base, processes, _listed).values()),
                   timeout=15, step=0.2)
        # and every worker takes the new server's token: one report through each
        taken = each_worker(base, processes, lambda conn: _request(
            conn, "POST", "/api/v1/reports", WEB07, make_report("web-07")))
        assert {pid: status for pid, (status, _) in taken.items()
                } == dict.fromkeys(taken, 202), taken
        # a broken edit: refused, logged, the inventory as it was
        path.write_text(text + ADDED + "\n[[servers]]\nid = 'web-08'\ninterval = 'x'\n",
                        encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: proc.poll() is None and "web-07" in _ids(base), timeout=5)
        time.sleep(1.5)  # the time a wrong reload would take to show (asserting an absence)
        assert proc.poll() is None
        after = each_worker(base, processes, _listed)
        assert after == dict.fromkeys(after, before[processes[0].pid] | {"web-07"}), after
    assert "refused: the running inventory is kept" in logs["stderr"]
    assert "servers[4].interval: not a number" in logs["stderr"]
    assert "agent-web07-token" not in logs["stderr"]
    assert proc.returncode == 0
