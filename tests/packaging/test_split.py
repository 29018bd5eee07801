"""SPEC §14: `pip install vigie` is the agent alone; `vigie[collector]` adds the collector."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.helpers import need

ROOT = Path(__file__).resolve().parents[2]
COLLECTOR_ONLY = {"fastapi", "uvicorn", "pydantic", "sqlalchemy", "alembic", "psycopg",
                  "psycopg-binary", "jinja2", "holidays", "orjson", "tzdata", "starlette"}


def _names(requirements: list[str]) -> set[str]:
    return {r.split(";")[0].split("[")[0].split(">")[0].split("<")[0].split("=")[0]
            .strip().lower() for r in requirements}


def test_the_default_dependencies_are_the_agents_with_debian_11s_floors() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["requires-python"] == ">=3.9"
    default = _names(project["dependencies"])
    assert default == {"psutil", "prometheus-client", "requests", "apscheduler", "icmplib",
                       "tomli"}
    assert "psutil>=5.8" in project["dependencies"]  # python3-psutil 5.8.0 in Debian 11
    assert "prometheus-client>=0.9" in project["dependencies"]
    assert "requests>=2.25" in project["dependencies"]
    assert "APScheduler>=3.7,<4" in project["dependencies"]
    collector = _names(project["optional-dependencies"]["collector"])
    assert {"fastapi", "uvicorn", "sqlalchemy", "psycopg", "alembic", "pydantic"} <= collector
    assert project["scripts"] == {"vigie-agent": "agent.__main__:main",
                                  "vigie-probe": "probe.__main__:main",
                                  "vigie-collector": "collector.__main__:main"}


def test_pip_install_gives_an_agent_that_runs_without_the_collectors_libraries(
        tmp_path: Path) -> None:
    # a copy of what the distribution is built from: the build never writes in the checkout
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(ROOT / name, source / name)
    for folder in ("agent", "probe", "collector"):
        shutil.copytree(ROOT / folder, source / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    done = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(source)],
                          capture_output=True, text=True, timeout=600, check=False)
    need(done.returncode == 0, f"pip install failed (no package index?): {done.stderr[-800:]}")
    listed = subprocess.run([str(venv / "bin" / "pip"), "list", "--format=json"],
                            capture_output=True, text=True, check=True, timeout=60).stdout
    installed = {p["name"].lower().replace("_", "-") for p in json.loads(listed)}
    assert installed & COLLECTOR_ONLY == set()
    assert {"vigie", "psutil", "prometheus-client", "requests", "apscheduler"} <= installed

    token = tmp_path / "token"
    token.write_text("pip-token\n")
    os.chmod(token, 0o600)
    config = tmp_path / "agent.toml"
    config.write_text(f'[collector]\nurl = "http://127.0.0.1:9"\ntoken_file = "{token}"\n'
                      f'[spool]\npath = "{tmp_path / "spool"}"\n[metrics]\nlisten = ""\n')
    once = subprocess.run([str(venv / "bin" / "vigie-agent"), "--config", str(config), "once"],
                          capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)
    assert once.returncode == 0, once.stderr
    assert json.loads(once.stdout)["errors"] == []
    # SPEC §14: the probe comes with the agent, without the collector's libraries either
    probe = subprocess.run([str(venv / "bin" / "vigie-probe"), "--help"], capture_output=True,
                           text=True, timeout=60, check=False, cwd=tmp_path)
    assert probe.returncode == 0 and "--config" in probe.stdout, probe.stderr
