"""Pending-update inventory: contract §1 (4.1.1) minor/major classification on real versions."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from agent.checks import updates
from agent.checks.model import Status
from agent.checks.updates import UpdatesSpec

SAMPLE = Path(__file__).parent.parent / "data" / "apt-simulate.txt"


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        ("2.36-9+deb12u4", "2.36-9+deb12u7", "minor"),  # glibc security upload
        ("1:9.2p1-2+deb12u2", "1:9.2p1-2+deb12u3", "minor"),  # openssh, with epoch
        ("5.10.0-1", "5.11.0-1", "major"),  # second number
        ("1.2.3", "1.2.4", "minor"),  # third number only
        ("1.2.3", "2.0.0", "major"),  # first number
        ("3.0.11-1~deb12u2", "3.0.13-1~deb12u1", "minor"),  # openssl point release
        ("7.88.1-10+deb12u5", "8.0.0-1", "major"),  # curl 7 -> 8
        ("2:1.0~rc1-1", "2:1.0-1", "minor"),  # pre-release to release
        ("1:2.66-4+deb12u2+b2", "1:2.66-4+deb12u3+b1", "minor"),  # binNMU suffix
        ("1:4.2.0-1", "2:4.2.1-1", "minor"),  # epoch bump alone does not make it major
        ("1:5.0-1", "2:1.0-1", "major"),  # epoch bump because upstream went backwards
        ("17.0.15+6-1~deb12u1", "17.0.21.1+2-1~deb12u1", "minor"),  # OpenJDK build suffix
        ("2.1.12-stable-8", "2.1.12-stable-8+deb12u1", "minor"),  # hyphen inside upstream
        ("6.1.187-1", "6.1.192-2", "minor"),  # kernel headers
        ("6.1.94-1", "6.6.13-1", "major"),
        ("252.38-1~deb12u1", "252.39-1~deb12u2", "major"),  # systemd: x.y versions, y moved
        ("1.21.22", "1.21.23", "minor"),  # native package, no revision
    ],
)
def test_it_classifies_debian_versions_per_the_contract(old: str, new: str, kind: str) -> None:
    assert updates.classify(old, new) == kind


def test_it_parses_a_recorded_apt_simulation() -> None:
    found, removed = updates.parse_simulation(SAMPLE.read_text())
    # The sample's summary line says "124 upgraded, 0 newly installed, 0 to remove".
    assert len(found) == 124
    assert removed == []
    by_name = {item.package: item for item in found}
    assert by_name["openssh-client"].old == "1:9.2p1-2+deb12u6"
    assert by_name["openssh-client"].new == "1:9.2p1-2+deb12u10"
    assert by_name["openssl"].security
    assert not by_name["curl"].security  # from the point release, not the security archive
    outcome = updates.evaluate(found, removed)
    assert outcome.status is Status.OK
    # Majors by hand: 8 systemd binaries 252.38 -> 252.39, tzdata 2025b -> 2026f and
    # ca-certificates 20230311 -> 20250419 (first number moved); all others keep x.y.
    assert outcome.data["major"] == 10
    assert outcome.data["minor"] == 114
    assert "124 pending update(s): 114 minor, 10 major" in outcome.detail


def test_it_counts_new_installs_and_removals_apart_from_upgrades() -> None:
    text = (
        "Inst linux-image-6.1.0-22-amd64 (6.1.94-1 Debian:12.6/stable [amd64])\n"
        "Inst linux-image-amd64 [6.1.90-1] (6.1.94-1 Debian:12.6/stable [amd64])\n"
        "Remv linux-image-6.1.0-18-amd64 [6.1.76-1]\n"
        "Conf linux-image-amd64 (6.1.94-1 Debian:12.6/stable [amd64])\n"
    )
    outcome = updates.evaluate(*updates.parse_simulation(text))
    assert (outcome.data["minor"], outcome.data["major"]) == (1, 0)
    assert (outcome.data["new"], outcome.data["removed"]) == (1, 1)


def test_it_says_no_pending_updates_when_apt_has_none() -> None:
    outcome = updates.evaluate(*updates.parse_simulation("0 upgraded, 0 newly installed.\n"))
    assert (outcome.status, outcome.detail) == (Status.OK, "no pending updates")


def test_it_reads_this_machines_package_data() -> None:
    outcome = updates.run(UpdatesSpec(), timeout=120)
    if shutil.which("apt-get") is None:
        assert (outcome.status, outcome.detail) == (
            Status.WARNING,
            "not a Debian system (no apt-get)",
        )
        return
    assert outcome.status is Status.OK, outcome.detail
    # apt's own listing, an independent reading of the same package data (held packages
    # aside, which dist-upgrade would not touch either).
    listed = subprocess.run(
        ["apt", "list", "--upgradable"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LC_ALL": "C"},
    ).stdout.count("[upgradable from")
    assert outcome.data["minor"] + outcome.data["major"] == listed


def test_it_warns_when_apt_get_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    outcome = updates.run(UpdatesSpec(), timeout=5)
    assert (outcome.status, outcome.detail) == (Status.WARNING, "not a Debian system (no apt-get)")
