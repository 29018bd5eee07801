"""Fixtures of the packaging tests: Debian roots, the loopback services the checks watch,
an agent configuration with every check type."""
from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.agent.conftest import recording_collector  # noqa: F401  (a fixture)
from tests.packaging import services
from tests.packaging.roots import SUITES, Workspace

ROOT = Path(__file__).resolve().parents[2]
RAID = ROOT / "tests" / "data" / "mdstat"
CHECK_TYPES = ("process", "tcp", "http", "tls", "raid", "backup", "forbidden_ports", "updates")


@pytest.fixture(scope="module", params=sorted(SUITES, reverse=True))  # bullseye first
def workspace(request: pytest.FixtureRequest) -> Iterator[Workspace]:
    """An overlay of the suite's cached root, the agent's sources in /opt/vigie."""
    with Workspace(SUITES[request.param]) as ws:
        shutil.copytree(ROOT / "agent", ws.file("/opt/vigie/agent"),
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "ruff.toml"))
        yield ws


@dataclass(frozen=True)
class Loopback:
    http_port: int
    tls: services.Tls
    forbidden_port: int


@pytest.fixture(scope="module")
def loopback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loopback]:
    directory = tmp_path_factory.mktemp("tls")
    with services.http_server() as http_port, services.tls_server(directory) as tls, \
            services.listener() as forbidden:
        yield Loopback(http_port, tls, forbidden)


def every_check(ws: Workspace, loopback: Loopback, where: str, marker: str) -> str:
    """[[checks]] of each type, against the loopback services and files made in the root
    under `where`; `marker` is the command line the process check looks for."""
    backups = ws.file(f"{where}/backups")
    backups.mkdir(parents=True, exist_ok=True)
    for days_ago in (0, 1):  # a dump today and yesterday: retention_days = 2 is complete
        dump = backups / f"db-{days_ago}.sql"
        dump.write_text("dump")
        stamp = time.time() - days_ago * 86400
        os.utime(dump, (stamp, stamp))
    shutil.copyfile(RAID / "degraded-raid1.txt", ws.file(f"{where}/mdstat"))
    ws.file(f"{where}/ca.pem").write_bytes(loopback.tls.ca_pem)
    return f"""
[[checks]]
name = "marker"
type = "process"
pattern = "{marker}"

[[checks]]
name = "port"
type = "tcp"
host = "127.0.0.1"
port = {loopback.http_port}

[[checks]]
name = "web"
type = "http"
url = "http://127.0.0.1:{loopback.http_port}/health"
contains = "health: ok"

[[checks]]
name = "certificate"
type = "tls"
host = "127.0.0.1"
port = {loopback.tls.port}
cafile = "{where}/ca.pem"

[[checks]]
name = "raid"
type = "raid"
path = "{where}/mdstat"

[[checks]]
name = "backups"
type = "backup"
path = "{where}/backups"
retention_days = 2

[[checks]]
name = "irc"
type = "forbidden_ports"
ports = [{loopback.forbidden_port}]

[[checks]]
name = "updates"
type = "updates"
"""


def agent_config(ws: Workspace, where: str, body: str, collector_port: int = 9,
                 listen: str = "", interval: float = 10) -> str:
    """A full configuration in the root at `where`/agent.toml; returns its path there.
    The token is in a file of mode 0600: a configuration file needs no secret of its own."""
    folder = ws.file(where)
    folder.mkdir(parents=True, exist_ok=True)
    token = folder / "agent.token"
    token.write_text("packaging-test-token\n")
    os.chmod(token, 0o600)
    (folder / "agent.toml").write_text(f"""
server_id = "deb-{ws.suite.name}"
interval = {interval}

[collector]
url = "http://127.0.0.1:{collector_port}"
token_file = "{where}/agent.token"
timeout = 2

[metrics]
listen = "{listen}"

[spool]
path = "{where}/spool"

[[ping]]
target = "127.0.0.1"
count = 2
interval = 0.2
timeout = 1
{body}""")
    return f"{where}/agent.toml"


@pytest.fixture
def marker_process(workspace: Workspace) -> Iterator[str]:
    """A process running in the root whose command line is unique to this test."""
    marker = f"vigie-marker-{uuid.uuid4().hex[:12]}"
    proc = workspace.popen("python3", "-c", "import time; time.sleep(300)", marker)
    try:
        yield marker
    finally:
        proc.kill()
        proc.wait(10)
