"""`make demo`: a collector on SQLite and an agent on this machine reporting to it.

Writes its configuration into ./var/demo/ (tokens generated, files 0600), starts
`python -m collector ... serve` and `python -m agent ...`, waits until both answer, prints
where to look, and stops both cleanly on Ctrl-C.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "demo"
COLLECTOR = ("127.0.0.1", 8480)
AGENT_METRICS = ("127.0.0.1", 9839)
SERVICE = "demo-web"


def server_id() -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname()).strip("-.") or "this-host"
    return name[:64]


def write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, 0o600)


def collector_config(tokens: dict[str, str], host: str) -> str:
    month_start = dt.date.today().replace(day=1)
    return f"""listen = "{COLLECTOR[0]}:{COLLECTOR[1]}"
database = "sqlite:///{VAR / 'collector.db'}"
admin_token = "{tokens['admin']}"
timezone = "Europe/Paris"

[detection]
heartbeat_timeout = 30
ping = false              # the demo runs unprivileged; detection relies on reports

[[services]]
id = "{SERVICE}"
client = "demo"
target = 99.9
monthly_fee = "300.00"
currency = "EUR"
gtr = 14400
commissioned = {month_start.isoformat()}

[[servers]]
id = "{host}"
service = "{SERVICE}"
address = "127.0.0.1"
token = "{tokens['agent']}"
metrics_address = "{AGENT_METRICS[0]}:{AGENT_METRICS[1]}"

[[clients]]
id = "demo"
token = "{tokens['client']}"

# SPEC-2 §10: a probe next to the agent plays a second site (docs/probes.md); unprivileged,
# its pings may not leave, so it also opens the collector's port on each target
[[probes]]
id = "demo-probe"
location = "this machine"
token = "{tokens['probe']}"
ports = [{COLLECTOR[1]}]
"""


def probe_config(tokens: dict[str, str]) -> str:
    return f"""probe_id = "demo-probe"
interval = 5

[collector]
url = "http://{COLLECTOR[0]}:{COLLECTOR[1]}"
token = "{tokens['probe']}"

[spool]
path = "{VAR / 'probe' / 'spool'}"
"""


def agent_config(tokens: dict[str, str], host: str) -> str:
    return f"""server_id = "{host}"
interval = 10

[collector]
url = "http://{COLLECTOR[0]}:{COLLECTOR[1]}"
token = "{tokens['agent']}"

[metrics]
listen = "{AGENT_METRICS[0]}:{AGENT_METRICS[1]}"

[spool]
path = "{VAR / 'spool'}"

[[checks]]
name = "collector-api"
type = "http"
url = "http://{COLLECTOR[0]}:{COLLECTOR[1]}/healthz"
essential = true

[[checks]]
name = "collector-port"
type = "tcp"
host = "{COLLECTOR[0]}"
port = {COLLECTOR[1]}
"""


def port_free(address: tuple[str, int]) -> bool:
    """Nothing listens there. SO_REUSEADDR, as uvicorn sets it: the connections of a demo
    stopped a moment ago linger in TIME_WAIT for a minute, and would fail a plain bind."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except OSError:
            return False
    return True


def answers(url: str, token: str | None = None) -> bytes | None:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return bytes(response.read())
    except (urllib.error.URLError, OSError):
        return None


def wait_for(what: str, check: Callable[[], bool], procs: list[subprocess.Popen[bytes]],
             timeout: float = 45) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if any(p.poll() is not None for p in procs):
            raise SystemExit(f"demo: a process stopped while waiting for {what}; see {VAR}/*.log")
        if time.monotonic() > deadline:
            raise SystemExit(f"demo: {what} did not answer within {timeout:.0f} s; see {VAR}/*.log")
        time.sleep(0.3)


def start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "ab")  # noqa: SIM115 - kept open for the child's lifetime
    # a session of its own: Ctrl-C reaches only this script, which then stops each child
    # once with SIGTERM (a second signal would make uvicorn skip its clean shutdown)
    return subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def banner(tokens: dict[str, str], host: str) -> str:
    base = f"http://{COLLECTOR[0]}:{COLLECTOR[1]}"
    month = dt.date.today().strftime("%Y-%m")
    admin = f'-H "Authorization: Bearer {tokens["admin"]}"'
    config = VAR / "collector.toml"
    return f"""
Vigie demo is running (Ctrl-C stops both).

  collector API   curl {admin} {base}/api/v1/servers
  server reports  curl {admin} '{base}/api/v1/servers/{host}/reports'
  incidents       curl {admin} {base}/api/v1/incidents
  SLA report      curl {admin} '{base}/api/v1/services/{SERVICE}/sla?month={month}'
  SLA on the CLI  {sys.executable} -m collector --config {config} sla {SERVICE} --month {month}
                  (vigie-collector --config {config} sla {SERVICE} --month {month} --format html)
  OpenAPI         {base}/openapi.json
  collector metrics  {base}/metrics
  agent metrics      http://{AGENT_METRICS[0]}:{AGENT_METRICS[1]}/metrics
  probe (a second vantage point): `vantage` in the servers' JSON, vigie_probe_up

  client token (read-only): {tokens['client']}
  configuration and logs:   {VAR}/
"""


def main() -> int:
    for name, address in (("collector", COLLECTOR), ("agent metrics", AGENT_METRICS)):
        if not port_free(address):
            print(f"demo: {address[0]}:{address[1]} ({name}) is already in use", file=sys.stderr)
            return 1
    VAR.mkdir(parents=True, exist_ok=True)
    (VAR / "spool").mkdir(exist_ok=True)
    tokens = {k: secrets.token_urlsafe(24) for k in ("admin", "agent", "client", "probe")}
    host = server_id()
    write_private(VAR / "collector.toml", collector_config(tokens, host))
    write_private(VAR / "agent.toml", agent_config(tokens, host))
    write_private(VAR / "probe.toml", probe_config(tokens))
    procs = [start(["collector", "--config", str(VAR / "collector.toml"), "serve"],
                   VAR / "collector.log")]
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops the demo like Ctrl-C does
    try:
        base = f"http://{COLLECTOR[0]}:{COLLECTOR[1]}"
        wait_for("the collector", lambda: answers(base + "/healthz") is not None, procs)
        procs.append(start(["agent", "--config", str(VAR / "agent.toml")], VAR / "agent.log"))
        metrics = f"http://{AGENT_METRICS[0]}:{AGENT_METRICS[1]}/metrics"
        wait_for("the agent", lambda: answers(metrics) is not None, procs)
        procs.append(start(["probe", "--config", str(VAR / "probe.toml")], VAR / "probe.log"))
        wait_for("the first report", lambda: _reported(base, tokens["admin"], host), procs)
        print(banner(tokens, host), flush=True)
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        print(f"demo: a process stopped; see {VAR}/*.log", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ndemo: stopping the probe, the agent and the collector ...", flush=True)
        return 0
    finally:
        stop(list(reversed(procs)))


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _reported(base: str, token: str, host: str) -> bool:
    body = answers(f"{base}/api/v1/servers/{host}", token)
    return body is not None and json.loads(body).get("last_report_at") is not None


if __name__ == "__main__":
    sys.exit(main())
