"""forbidden_ports check: a real socket listening on an IRC port (contract §7)."""

from __future__ import annotations

import os
import socket

import psutil

from agent.checks import forbidden_ports
from agent.checks.forbidden_ports import IRC_PORTS, ForbiddenPortsSpec
from agent.checks.model import Status
from tests.helpers import free_port, need


def _irc_ports_busy() -> bool:
    return any(
        conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port in IRC_PORTS
        for conn in psutil.net_connections(kind="inet")
    )


def test_it_reports_a_listening_irc_port_critical_with_its_process() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as irc:
        irc.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            irc.bind(("127.0.0.1", 6667))
        except OSError as exc:
            need(False, f"127.0.0.1:6667 is taken by something else ({exc})")
        irc.listen()
        outcome = forbidden_ports.run(ForbiddenPortsSpec(), timeout=5)
    assert outcome.status is Status.CRITICAL
    assert "127.0.0.1:6667" in outcome.detail
    mine = [item for item in outcome.data["listening"] if item["pid"] == os.getpid()]
    assert mine == [
        {
            "address": "127.0.0.1",
            "port": 6667,
            "pid": os.getpid(),
            "process": psutil.Process().name(),
        }
    ]
    assert f"pid {os.getpid()}" in outcome.detail


def test_it_reports_ok_when_no_forbidden_port_listens() -> None:
    need(not _irc_ports_busy(), "another process listens on an IRC port")
    outcome = forbidden_ports.run(ForbiddenPortsSpec(), timeout=5)
    assert outcome.status is Status.OK
    assert outcome.data["listening"] == []


def test_it_ignores_listening_ports_outside_the_list() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        watched = forbidden_ports.run(ForbiddenPortsSpec(ports=(port,)), timeout=5)
        unwatched = forbidden_ports.run(ForbiddenPortsSpec(ports=(free_port(),)), timeout=5)
    assert watched.status is Status.CRITICAL
    assert unwatched.status is Status.OK
