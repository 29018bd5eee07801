"""`make deb` and the package it builds (SPEC §14): lintian, contents, and, in the Debian 11
and 12 roots, install, `once`, upgrade keeping a changed conffile, remove, purge."""
from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import agent
from tests.helpers import need_binary
from tests.packaging.roots import SUITES, Workspace

ROOT = Path(__file__).resolve().parents[2]
VERSION = agent.__version__
UPGRADE = f"{VERSION}+upgrade1"  # sorts after VERSION for dpkg
CONF = "/etc/vigie/agent.toml"
TOKEN = "/etc/vigie/agent.token"
USER = "vigie-agent"
MAX_INSTALLED_KIB = 1024  # issue 18: the agent itself under 1 MB (the venv was 141 MB)


def build(version: str | None, out: Path) -> Path:
    argv = ["python3", str(ROOT / "deploy/debian/build.py"), "--out", str(out)]
    done = subprocess.run(argv + (["--version", version] if version else []),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip())


@pytest.fixture(scope="module")
def debs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    need_binary("dpkg-deb")
    out = tmp_path_factory.mktemp("debs")
    return {VERSION: build(None, out), UPGRADE: build(UPGRADE, out)}


def test_make_deb_builds_the_versioned_package_reproducibly(tmp_path: Path) -> None:
    need_binary("dpkg-deb")
    make = need_binary("make")
    for run in ("first", "second"):
        done = subprocess.run([make, "-s", "deb", f"DIST={tmp_path / run}"], cwd=ROOT,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    first, second = (tmp_path / run / f"vigie-agent_{VERSION}_all.deb"
                     for run in ("first", "second"))
    assert first.read_bytes() == second.read_bytes()  # dated from the changelog


def _field(deb: Path, name: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True,
                          check=True, timeout=30).stdout.strip()


def test_it_ships_the_agent_unit_and_conffile_depending_on_debians_libraries(
        debs: dict[str, Path]) -> None:
    deb = debs[VERSION]
    listing = subprocess.run(["dpkg-deb", "--contents", str(deb)], capture_output=True,
                             text=True, check=True, timeout=30).stdout
    paths = {line.split()[-1].lstrip(".") for line in listing.splitlines()}
    assert {"/usr/bin/vigie-agent", "/usr/share/vigie-agent/agent/__main__.py",
            "/usr/share/vigie-agent/agent/checks/updates.py", "/lib/systemd/system/vigie-agent.service",
            CONF, "/usr/share/doc/vigie-agent/copyright",
            "/usr/share/man/man1/vigie-agent.1.gz"} <= paths
    assert not [p for p in paths if "__pycache__" in p or p.endswith(".pyc")]
    assert not [p for p in paths if p.startswith("/usr/share/vigie-agent/collector")]
    control = subprocess.run(["dpkg-deb", "--ctrl-tarfile", str(deb)], capture_output=True,
                             check=True, timeout=30).stdout
    assert b"./conffiles" in control
    depends = _field(deb, "Depends")
    for package in ("python3-psutil", "python3-prometheus-client", "python3-requests",
                    "python3-apscheduler", "python3-icmplib | iputils-ping",
                    "python3 (>= 3.11) | python3-tomli | python3-toml"):
        assert package in depends
    assert not re.search(r"fastapi|sqlalchemy|psycopg|uvicorn|pydantic", depends)
    assert int(_field(deb, "Installed-Size")) < MAX_INSTALLED_KIB
    unit = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True,
                          check=True, timeout=30).stdout
    assert b"ExecStart=/usr/bin/vigie-agent --config /etc/vigie/agent.toml" in unit
    assert b"ProtectSystem=strict" in unit and b"CapabilityBoundingSet=CAP_NET_RAW" in unit


def test_lintian_finds_no_error_and_no_warning(debs: dict[str, Path]) -> None:
    lintian = need_binary("lintian")
    done = subprocess.run([lintian, "--pedantic", "--display-info", str(debs[VERSION])],
                          capture_output=True, text=True, timeout=300, check=False)
    tags = [line for line in done.stdout.splitlines() if re.match(r"^[EWIPX]: ", line)]
    print("lintian:", *tags, sep="\n  ")
    assert [t for t in tags if t[0] in "EW"] == [], done.stdout + done.stderr
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module", params=sorted(SUITES, reverse=True))
def root(request: pytest.FixtureRequest) -> Iterator[Workspace]:
    with Workspace(SUITES[request.param]) as ws:
        yield ws


def _install(ws: Workspace, deb: Path) -> None:
    shutil.copyfile(deb, ws.file(f"/tmp/{deb.name}"))
    done = ws.run("apt-get", "install", "-y", "-q", f"/tmp/{deb.name}", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    # every dependency is one of the root's Debian packages: nothing was downloaded
    assert "http://" not in done.stdout, done.stdout


def _once(ws: Workspace) -> subprocess.CompletedProcess[str]:
    return ws.run("vigie-agent", "--config", CONF, "once", user=USER, timeout=60)


def _mode(ws: Workspace, inside: str) -> tuple[int, str, str]:
    done = ws.run("stat", "-c", "%a %U %G", inside, check=True)
    mode, owner, group = done.stdout.split()
    return int(mode, 8), owner, group


def test_it_installs_reports_upgrades_keeping_the_conffile_and_purges(
        root: Workspace, debs: dict[str, Path]) -> None:
    _install(root, debs[VERSION])
    passwd = root.run("getent", "passwd", USER, check=True).stdout
    assert passwd.strip().endswith(":/var/lib/vigie-agent:/usr/sbin/nologin")
    assert _mode(root, "/var/lib/vigie-agent/spool") == (0o700, USER, USER)
    assert _mode(root, TOKEN) == (0o600, USER, USER)
    assert _mode(root, CONF) == (0o640, "root", USER)
    compiled = list(root.file("/usr/share/vigie-agent/agent").rglob("*.pyc"))
    assert len(compiled) >= 30, "py3compile did not run"

    # the package's own configuration: only the token is missing
    empty = _once(root)
    assert empty.returncode == 2 and f"{TOKEN} is empty" in empty.stderr, empty.stderr
    root.file(TOKEN).write_text("token-from-the-collector\n")
    done = _once(root)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["agent"]["version"] == VERSION and report["errors"] == []

    # the operator's changes survive an upgrade
    conf = root.file(CONF)
    conf.write_text(conf.read_text().replace('# server_id = "web-01"',
                                             'server_id = "kept-on-upgrade"'))
    _install(root, debs[UPGRADE])
    assert 'server_id = "kept-on-upgrade"' in conf.read_text()
    upgraded = json.loads(_once(root).stdout)
    assert (upgraded["server_id"], upgraded["agent"]["version"]) == ("kept-on-upgrade", UPGRADE)
    assert root.file(TOKEN).read_text() == "token-from-the-collector\n"

    # remove keeps the configuration and the user, purge takes everything away
    root.run("apt-get", "remove", "-y", "-q", "vigie-agent", check=True, timeout=300)
    assert not root.file("/usr/bin/vigie-agent").exists() and conf.exists()
    assert not root.file("/usr/share/vigie-agent").exists()  # bytecode included
    root.run("apt-get", "purge", "-y", "-q", "vigie-agent", check=True, timeout=300)
    assert root.run("getent", "passwd", USER).returncode == 2
    assert root.run("getent", "group", USER).returncode == 2
    for gone in ("/var/lib/vigie-agent", CONF, TOKEN, "/etc/vigie"):
        assert not root.file(gone).exists(), gone
    assert root.run("dpkg-statoverride", "--list", CONF).returncode != 0


def test_the_installed_agent_takes_under_1mb(root: Workspace, debs: dict[str, Path]) -> None:
    _install(root, debs[VERSION])
    try:
        files = root.run("dpkg", "-L", "vigie-agent", check=True).stdout.split()
        compiled = root.file("/usr/share/vigie-agent").rglob("*.pyc")
        size = sum(root.file(p).stat().st_size for p in files
                   if stat.S_ISREG(root.file(p).lstat().st_mode))
        size += sum(p.stat().st_size for p in compiled)
        print(f"{root.suite.name}: vigie-agent installed, bytecode included: "
              f"{size / 1024:.0f} KiB")
        assert size < MAX_INSTALLED_KIB * 1024
    finally:
        root.run("apt-get", "purge", "-y", "-q", "vigie-agent", check=True, timeout=300)


def test_the_packaged_unit_is_one_systemd_accepts(tmp_path: Path) -> None:
    analyze = need_binary("systemd-analyze")
    unit = ROOT / "deploy" / "systemd" / "vigie-agent.service"
    text = unit.read_text(encoding="utf-8")
    # verify wants the executable to exist: a stand-in where the package puts the launcher
    stand_in = tmp_path / "vigie-agent"
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    stand_in.chmod(0o755)
    copy = tmp_path / unit.name
    copy.write_text(text.replace("/usr/bin/vigie-agent", str(stand_in)))
    # --man=no: its Documentation= names the manual page the package installs, not here
    done = subprocess.run([analyze, "verify", "--man=no", str(copy)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr
