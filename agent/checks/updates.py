"""`updates` check: pending Debian/Ubuntu package upgrades, split into minor and major.

contract §1 (4.1.1): an update is "minor" when only the third number of x.y.z changes and
"major" when the first or second changes; the software inventory classifies them that way.
Status policy: pending updates are an inventory, not a fault, so the check is `ok` with the
counts in its detail, data and metrics; it is `warning` only when the package data cannot
be read (no apt-get, apt-get failing).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from agent.checks.model import CheckKind, Family, Outcome, Status

logger = logging.getLogger(__name__)

# "Inst libc6 [2.36-9+deb12u4] (2.36-9+deb12u7 Debian:12.6/stable, Debian-Security:12/... [amd64])"
# A package dist-upgrade newly installs (a new kernel ABI) has no "[old]".
_INST = re.compile(r"^Inst (\S+) (?:\[([^\]]+)\] )?\((\S+)(?: ([^)]*))?\)")
_REMV = re.compile(r"^Remv (\S+)")
# The suffixes Debian appends for backports, security uploads, repacks and pre-releases.
_SUFFIX = re.compile(r"[+~].*$")

UpdateKind = Literal["minor", "major"]


@dataclass(frozen=True)
class UpdatesSpec:
    """No keys of its own: apt knows what is pending."""


@dataclass(frozen=True)
class PendingUpdate:
    package: str
    old: str | None  # None: a package the upgrade newly installs
    new: str
    origin: str = ""

    @property
    def security(self) -> bool:
        return "security" in self.origin.lower()


def upstream_numbers(version: str) -> tuple[int, ...]:
    """First two numbers of the upstream version: no epoch, no Debian revision, no suffix."""
    upstream = version.split(":", 1)[1] if ":" in version else version
    upstream = upstream.rsplit("-", 1)[0]  # Debian revision: after the last '-'
    upstream = _SUFFIX.sub("", upstream)
    numbers = [int(part) for part in re.findall(r"\d+", upstream)[:2]]
    return tuple(numbers + [0] * (2 - len(numbers))) if numbers else ()


def classify(old: str, new: str) -> UpdateKind:
    """contract §1 (4.1.1): first or second number changes -> major, otherwise minor
    (including a change of the third number, of the Debian revision or security suffix)."""
    old_numbers, new_numbers = upstream_numbers(old), upstream_numbers(new)
    if not old_numbers or not new_numbers:
        # No number to compare (rare, e.g. a date-less snapshot name): be conservative.
        return "minor" if old == new else "major"
    return "major" if old_numbers != new_numbers else "minor"


def parse_simulation(text: str) -> tuple[list[PendingUpdate], list[str]]:
    """`apt-get -s dist-upgrade` output -> (upgrades and new installs, removed packages)."""
    updates: list[PendingUpdate] = []
    removed: list[str] = []
    for line in text.splitlines():
        if match := _INST.match(line):
            package, old, new, origin = match.groups()
            updates.append(PendingUpdate(package, old, new, origin or ""))
        elif match := _REMV.match(line):
            removed.append(match.group(1))
    return updates, removed


def evaluate(updates: Sequence[PendingUpdate], removed: Sequence[str] = ()) -> Outcome:
    upgrades = [item for item in updates if item.old is not None]
    major = [item for item in upgrades if classify(item.old or "", item.new) == "major"]
    data = {
        "minor": len(upgrades) - len(major),
        "major": len(major),
        "security": sum(1 for item in upgrades if item.security),
        "new": sum(1 for item in updates if item.old is None),
        "removed": len(removed),
        "major_packages": [f"{item.package} {item.old} -> {item.new}" for item in major][:20],
    }
    if not upgrades:
        return Outcome(Status.OK, "no pending updates", None, data)
    detail = (
        f"{len(upgrades)} pending update(s): {data['minor']} minor, {data['major']} major"
        f" ({data['security']} from security)"
    )
    return Outcome(Status.OK, detail, None, data)


def simulate(timeout: float) -> str:
    """Ask apt what dist-upgrade would do; simulation needs no root and takes no lock."""
    apt_get = shutil.which("apt-get")
    if apt_get is None:
        raise FileNotFoundError("apt-get")
    env = {**os.environ, "LC_ALL": "C"}  # the parser reads apt's English "Inst" lines
    completed = subprocess.run(
        [apt_get, "-s", "-o", "Debug::NoLocking=1", "dist-upgrade"],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"apt-get exited with {completed.returncode}: {last}")
    return completed.stdout


def run(spec: UpdatesSpec, timeout: float) -> Outcome:
    try:
        text = simulate(timeout)
    except FileNotFoundError:
        return Outcome(
            Status.WARNING, "not a Debian system (no apt-get)", None, {"error": "no apt-get"}
        )
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        return Outcome(
            Status.WARNING, f"cannot read pending updates: {exc}", None, {"error": str(exc)}
        )
    return evaluate(*parse_simulation(text))


def _pending(data: Mapping[str, Any]) -> list[tuple[tuple[str, ...], float]]:
    if data.get("minor") is None:
        return []
    return [(("minor",), float(data["minor"])), (("major",), float(data["major"]))]


KIND = CheckKind(
    "updates", UpdatesSpec, (), run,
    families=(Family("vigie_updates_pending", "Pending package updates by contract class",
                     _pending, ("kind",)),),
)
