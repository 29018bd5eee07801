"""deploy/install-agent.sh in Debian roots without git: it builds the package from a plain
copy of the repository (Debian 12) or installs the one it is given (VIGIE_DEB, Debian 11),
then fills in the collector URL, the server id and the token, and never overwrites them."""
from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import need_binary
from tests.packaging.roots import SUITES, Workspace
from tests.packaging.test_deb import CONF, TOKEN, USER, build

ROOT = Path(__file__).resolve().parents[2]
CHECKOUT = "/opt/vigie-checkout"  # a copy of the repository, as a tarball would unpack


@pytest.fixture(scope="module", params=sorted(SUITES, reverse=True))
def root(request: pytest.FixtureRequest) -> Iterator[Workspace]:
    with Workspace(SUITES[request.param]) as ws:
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".git")
        for folder in ("agent", "deploy"):
            shutil.copytree(ROOT / folder, ws.file(f"{CHECKOUT}/{folder}"), ignore=ignore)
        yield ws


def _script(ws: Workspace, **env: str) -> str:
    done = ws.run("bash", f"{CHECKOUT}/deploy/install-agent.sh", timeout=600, **env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_it_installs_configures_and_keeps_the_operators_settings(
        root: Workspace, tmp_path: Path) -> None:
    assert root.run("sh", "-c", "command -v git").returncode != 0  # a host without git
    env = {"VIGIE_COLLECTOR_URL": "http://127.0.0.1:8480", "VIGIE_AGENT_TOKEN": "token-of-web-07",
           "VIGIE_SERVER_ID": "web-07"}
    if root.suite.name == "bullseye":  # the package is given: the script builds nothing
        need_binary("dpkg-deb")
        deb = build(None, tmp_path)
        shutil.copyfile(deb, root.file(f"/root/{deb.name}"))
        env["VIGIE_DEB"] = f"/root/{deb.name}"
    out = _script(root, **env)
    assert "its configuration works" in out, out  # no systemd in a chroot to start it
    assert root.run("dpkg-query", "-W", "-f", "${Status}", "vigie-agent").stdout == \
        "install ok installed"
    conf = root.file(CONF).read_text()
    assert 'url = "http://127.0.0.1:8480"' in conf and 'server_id = "web-07"' in conf
    assert root.file(TOKEN).read_text() == "token-of-web-07\n"
    report = json.loads(root.run("vigie-agent", "--config", CONF, "once", user=USER,
                                 check=True).stdout)
    assert report["server_id"] == "web-07"

    # run again with other values: what is configured stays
    root.file(CONF).write_text(conf.replace("http://127.0.0.1:8480", "http://127.0.0.1:9480"))
    _script(root, **{**env, "VIGIE_COLLECTOR_URL": "http://127.0.0.1:1",
                     "VIGIE_AGENT_TOKEN": "another", "VIGIE_SERVER_ID": "web-99"})
    conf = root.file(CONF).read_text()
    assert 'url = "http://127.0.0.1:9480"' in conf and 'server_id = "web-07"' in conf
    assert root.file(TOKEN).read_text() == "token-of-web-07\n"


def test_it_refuses_a_server_id_that_would_break_the_file(root: Workspace) -> None:
    done = root.run("bash", f"{CHECKOUT}/deploy/install-agent.sh", timeout=60,
                    VIGIE_SERVER_ID='web"07')
    assert done.returncode == 1
    assert "VIGIE_SERVER_ID may hold letters" in done.stderr


def test_the_releases_own_python_and_dpkg_build_the_same_package(
        root: Workspace, tmp_path: Path) -> None:
    """`make deb` on Debian 11 (Python 3.9, dpkg 1.20) gives the package built here."""
    need_binary("dpkg-deb")
    here = build(None, tmp_path)
    done = root.run("python3", f"{CHECKOUT}/deploy/debian/build.py", "--out", "/root/dist",
                    timeout=120)
    assert done.returncode == 0, done.stderr
    there = root.file(done.stdout.strip())
    assert there.name == here.name

    def described(deb: Path) -> tuple[str, list[str]]:
        info = subprocess.run(["dpkg-deb", "--field", str(deb)], capture_output=True,
                              text=True, check=True, timeout=30).stdout
        listing = subprocess.run(["dpkg-deb", "--contents", str(deb)], capture_output=True,
                                 text=True, check=True, timeout=30).stdout
        return info, sorted(listing.splitlines())

    assert described(there) == described(here)
