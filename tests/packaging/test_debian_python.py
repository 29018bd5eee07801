"""The agent's sources on Debian 11's and 12's own Python and libraries (SPEC §14).

In each root: Debian's interpreter and python3-* packages only; every agent module
imports; `once` reports with every check type; the daemon sends reports and serves
/metrics (APScheduler 3.7 and prometheus-client 0.9 on Debian 11); the TOML parser each
release has reads the example configuration as tomllib does.
"""
from __future__ import annotations

import json
import pkgutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import requests

import agent
from tests.agent.conftest import RecordingCollector
from tests.helpers import free_port, wait_until
from tests.packaging.conftest import CHECK_TYPES, Loopback, agent_config, every_check
from tests.packaging.roots import Workspace, build_info

ROOT = Path(__file__).resolve().parents[2]
LIBRARIES = ("psutil", "prometheus_client", "requests", "apscheduler", "icmplib", "tomli",
             "toml", "tomllib")
DEBIAN_PACKAGES = ("python3", "python3-psutil", "python3-prometheus-client", "python3-requests",
                   "python3-apscheduler", "python3-icmplib", "python3-tomli", "python3-toml",
                   "iputils-ping")
# what the collector imports and the agent must never load
COLLECTOR_ONLY = ("collector", "fastapi", "sqlalchemy", "pydantic", "uvicorn", "alembic",
                  "psycopg", "jinja2", "holidays", "orjson")


def python(ws: Workspace, code: str, *args: str) -> str:
    done = ws.run("python3", "-c", code, *args, timeout=120, PYTHONPATH="/opt/vigie")
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_it_has_only_debians_python_and_libraries(workspace: Workspace) -> None:
    info = build_info(workspace.suite)
    print(f"{workspace.suite.name}: root built in {info['build_seconds']} s, "
          f"versions {workspace.versions(DEBIAN_PACKAGES)}")
    found = json.loads(python(workspace, f"""
import importlib.util, json, platform
libs = {{}}
for name in {LIBRARIES!r}:
    spec = importlib.util.find_spec(name)
    libs[name] = spec.origin if spec else None
print(json.dumps({{"python": platform.python_version(), "libs": libs}}))
"""))
    assert found["python"].startswith(workspace.suite.python + ".")
    for name in ("psutil", "prometheus_client", "requests", "apscheduler"):
        assert found["libs"][name].startswith("/usr/lib/python3/dist-packages/"), found
    # nothing but Debian's: no pip, no /usr/local
    assert not workspace.file("/usr/local/lib").exists() or not any(
        workspace.file("/usr/local/lib").glob("python3*/dist-packages/*"))
    assert workspace.run("python3", "-m", "pip", "--version").returncode != 0


def test_it_imports_every_agent_module_and_nothing_of_the_collector(
        workspace: Workspace) -> None:
    expected = {"agent", *(m.name for m in pkgutil.walk_packages(agent.__path__, "agent."))}
    result = json.loads(python(workspace, f"""
import importlib, json, pkgutil, sys
import agent
names = ["agent"] + [m.name for m in pkgutil.walk_packages(agent.__path__, "agent.")]
errors = {{}}
for name in names:
    try:
        importlib.import_module(name)
    except Exception as exc:
        errors[name] = f"{{type(exc).__name__}}: {{exc}}"
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {COLLECTOR_ONLY!r})
print(json.dumps({{"names": names, "errors": errors, "collector": loaded}}))
"""))
    assert result["errors"] == {}
    assert set(result["names"]) == expected
    assert result["collector"] == []


def test_it_leaves_out_the_libraries_debian_adds_that_the_agent_does_not_use(
        workspace: Workspace, loopback: Loopback) -> None:
    # Debian's requests imports chardet (5 MiB) and its APScheduler pkg_resources (4.5
    # MiB): the agent keeps both out (its 35 MB budget) and still works
    result = json.loads(python(workspace, """
import json, sys
from agent.__main__ import _without_charset_detection
_without_charset_detection()
import requests
import agent.scheduler
body = requests.get(sys.argv[1], timeout=5)
unused = ("pkg_resources", "chardet", "charset_normalizer")
print(json.dumps({"text": body.text, "loaded": sorted(
    name for name, module in sys.modules.items()
    if name.split(".")[0] in unused and getattr(module, "__file__", None))}))
""", f"http://127.0.0.1:{loopback.http_port}/"))
    assert result == {"text": "vigie health: ok\n", "loaded": []}


def test_it_prints_a_report_with_every_check_type(workspace: Workspace, loopback: Loopback,
                                                   marker_process: str) -> None:
    config = agent_config(workspace, "/opt/once",
                          every_check(workspace, loopback, "/opt/once", marker_process))
    done = workspace.run("python3", "-m", "agent", "--config", config, "once", timeout=120,
                         PYTHONPATH="/opt/vigie")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    checks = {c["type"]: c for c in report["checks"]}
    assert set(checks) == set(CHECK_TYPES)
    statuses = {kind: c["status"] for kind, c in checks.items()}
    assert statuses == {"process": "ok", "tcp": "ok", "http": "ok", "tls": "ok",
                        "raid": "critical", "backup": "ok", "forbidden_ports": "critical",
                        "updates": "ok"}, {k: c["detail"] for k, c in checks.items()}
    assert "md0 degraded [U_]" in checks["raid"]["detail"]
    assert checks["forbidden_ports"]["data"]["listening"][0]["port"] == loopback.forbidden_port
    assert 85 < checks["tls"]["data"]["expires_in_days"] <= 90
    assert checks["updates"]["data"]["major"] >= 0
    # the figures: rates need two samples, `once` takes them one second apart
    assert report["errors"] == []
    assert report["cpu"]["percent"] is not None and report["memory"]["total_bytes"] > 0
    # the root is an overlay mount, a pseudo filesystem the probe leaves out: a list it is
    assert isinstance(report["filesystems"], list) and report["disks"]
    assert report["agent"]["version"] == agent.__version__
    (ping,) = report["ping"]
    assert (ping["sent"], ping["received"], ping["error"]) == (2, 2, None), ping


def test_it_runs_the_daemon_sending_reports_and_serving_metrics(
        workspace: Workspace, recording_collector: Callable[[int], RecordingCollector]) -> None:
    collector = recording_collector(free_port())
    metrics_port = free_port()
    config = agent_config(workspace, "/opt/daemon", "", collector.port,
                          f"127.0.0.1:{metrics_port}", interval=1)
    proc = workspace.popen("env", "PYTHONPATH=/opt/vigie", "python3", "-m", "agent",
                           "--config", config)
    try:
        wait_until(lambda: len(collector.received) >= 2, timeout=30)
        page = wait_until(lambda: _scrape(metrics_port), timeout=10)
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert collector.authorizations[0] == "Bearer packaging-test-token"
    assert collector.received[0]["server_id"] == f"deb-{workspace.suite.name}"
    assert isinstance(page, str)
    for name in ("vigie_cpu_seconds_total{", "vigie_cpu_core_seconds_total{cpu=\"0\"",
                 "vigie_memory_total_bytes ", "vigie_uname_info{", "vigie_ping_rtt_seconds{",
                 'vigie_agent_reports_sent_total{outcome="accepted"}'):
        assert name in page, name
    assert "stopping" in err


def _scrape(port: int) -> str | None:
    try:
        response = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
    except requests.RequestException:
        return None
    text = response.text if response.ok else ""
    return text if "vigie_ping_rtt_seconds{" in text else None


def test_it_reads_the_example_configuration_with_the_releases_toml_parser(
        workspace: Workspace, tmp_path: Path) -> None:
    example = ROOT / "deploy" / "examples" / "agent.toml"
    copies = (workspace.file("/opt/example.toml"), tmp_path / "example.toml")
    for copy in copies:
        copy.write_bytes(example.read_bytes())
        copy.chmod(0o600)  # it holds an inline token
    summary = """
import json, sys
sys.modules["tomllib"] = None  # Python 3.11 has it: hide it, as 3.9 and 3.10 do not
from agent import tomlfile
from agent.config import load_config
c = load_config(sys.argv[1])
print(json.dumps({"parser": tomlfile._loads.__module__,
    "config": [c.server_id, c.interval, c.collector.url, [p.target for p in c.pings],
               [(k.name, k.type, k.interval, k.severity.value) for k in c.checks]]}))
"""
    there = json.loads(python(workspace, summary, "/opt/example.toml"))
    # the same on this machine's Python, with tomllib
    here = json.loads(subprocess.run(
        [sys.executable, "-c", summary.replace('sys.modules["tomllib"] = None', ""),
         str(copies[1])], capture_output=True, text=True, check=True, cwd=ROOT,
        timeout=60).stdout)
    assert here["parser"] == "tomllib._parser"
    assert there["config"] == here["config"]
    expected = {"bullseye": "toml.decoder", "bookworm": "tomli._parser"}[workspace.suite.name]
    assert there["parser"] == expected
