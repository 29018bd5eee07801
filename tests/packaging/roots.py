"""Debian 11 and 12 roots made with debootstrap, for the agent's real-interpreter tests.

A root holds Debian's own `python3-*` packages of the agent's libraries and nothing from
PyPI (SPEC §14). It is built once into the cache folder the tests own
(VIGIE_ROOTS_CACHE, default /var/cache/vigie-tests/roots) and reused while its marker
file names the same suite, mirror and packages. A test never changes the cached root: it
works in an overlay of it (`Workspace`), with /proc mounted for psutil, all of it undone
at the end. Without root, debootstrap or the mirror, the test is skipped with the reason
(a failure under VIGIE_REQUIRE_ALL=1).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import requests

from tests.helpers import need

MIRROR = "http://deb.debian.org/debian"
CACHE = Path(os.environ.get("VIGIE_ROOTS_CACHE", "/var/cache/vigie-tests/roots"))
MARKER = ".vigie-root.json"
BUILD_TIMEOUT = 1200  # seconds; about one minute each on the 2-core CI machine
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Suite:
    name: str
    version: str  # Debian's release number
    python: str  # what `python3 --version` must say there (major.minor)
    packages: tuple[str, ...]


# What the vigie-agent package depends on, as each release can satisfy it (control.in):
# Debian 11 has neither python3-tomli nor python3-icmplib, so python3-toml and iputils-ping.
_COMMON = ("python3", "python3-psutil", "python3-prometheus-client", "python3-requests",
           "python3-apscheduler")
SUITES = {
    "bullseye": Suite("bullseye", "11", "3.9", (*_COMMON, "python3-toml", "iputils-ping")),
    "bookworm": Suite("bookworm", "12", "3.11", (*_COMMON, "python3-icmplib", "python3-tomli")),
}


def _marker(suite: Suite) -> dict[str, object]:
    return {"suite": suite.name, "mirror": MIRROR, "variant": "minbase",
            "packages": sorted(suite.packages)}


def mounts_below(path: Path) -> list[str]:
    """Mount points at or under `path`, deepest first."""
    prefix = str(path.resolve())
    with open("/proc/self/mounts", encoding="utf-8") as fh:
        points = [line.split()[1].replace("\\040", " ") for line in fh]
    inside = [p for p in points if p == prefix or p.startswith(prefix + "/")]
    return sorted(set(inside), key=len, reverse=True)


def unmount_all(path: Path) -> None:
    for point in mounts_below(path):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True, timeout=30)


def remove_tree(path: Path) -> None:
    """rm -rf, once nothing is mounted below (a /proc left by an interrupted run)."""
    if path.exists():
        unmount_all(path)
        if mounts_below(path):
            raise RuntimeError(f"{path} still has mounts: {mounts_below(path)}")
        shutil.rmtree(path)


def _mirror_serves(suite: Suite) -> bool:
    try:
        return requests.head(f"{MIRROR}/dists/{suite.name}/Release", timeout=15).ok
    except requests.RequestException:
        return False


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # two test runs never build the same root at once
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def cached_root(suite: Suite) -> Path:
    """The suite's root, built now if the cache has none (or one of other packages)."""
    need(os.geteuid() == 0, "debootstrap and chroot need root")
    debootstrap = shutil.which("debootstrap")
    need(debootstrap is not None, "debootstrap is not installed")
    assert debootstrap is not None
    root = CACHE / suite.name
    with _locked(CACHE / f".{suite.name}.lock"):
        marker = root / MARKER
        if marker.exists():
            built = json.loads(marker.read_text(encoding="utf-8"))
            if {k: built.get(k) for k in _marker(suite)} == _marker(suite):
                return root
        need(_mirror_serves(suite), f"{MIRROR} does not answer for {suite.name}")
        building = CACHE / f".{suite.name}.building"
        remove_tree(building)
        started = time.monotonic()
        done = subprocess.run(
            [debootstrap, "--variant=minbase", f"--include={','.join(suite.packages)}",
             suite.name, str(building), MIRROR],
            capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False)
        unmount_all(building)
        need(done.returncode == 0,
             f"debootstrap {suite.name} failed: {(done.stdout + done.stderr)[-2000:]}")
        info = {**_marker(suite), "build_seconds": round(time.monotonic() - started, 1),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        (building / MARKER).write_text(json.dumps(info, indent=1), encoding="utf-8")
        remove_tree(root)
        building.rename(root)
        return root


def build_info(suite: Suite) -> dict[str, object]:
    return dict(json.loads((CACHE / suite.name / MARKER).read_text(encoding="utf-8")))


class Workspace:
    """A throw-away view of a cached root: an overlay (a full copy where overlayfs is
    missing), /proc mounted; `run()` runs a command chrooted in it."""

    def __init__(self, suite: Suite) -> None:
        self.suite = suite
        self.lower = cached_root(suite)
        self._tmp = Path(tempfile.mkdtemp(prefix=f"vigie-{suite.name}-"))
        self.path = self._tmp / "root"
        self.path.mkdir()
        upper, work = self._tmp / "upper", self._tmp / "work"
        upper.mkdir()
        work.mkdir()
        overlay = subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o",
             f"lowerdir={self.lower},upperdir={upper},workdir={work}", str(self.path)],
            capture_output=True, check=False, timeout=30)
        if overlay.returncode != 0:
            self.path.rmdir()
            subprocess.run(["cp", "-a", str(self.lower), str(self.path)], check=True,
                           timeout=300)
        subprocess.run(["mount", "-t", "proc", "proc", str(self.path / "proc")], check=True,
                       timeout=30)

    def close(self) -> None:
        unmount_all(self.path)
        remove_tree(self._tmp)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def file(self, inside: str) -> Path:
        """The host path of `inside` (an absolute path in the root)."""
        return self.path / inside.lstrip("/")

    def argv(self, argv: Sequence[str], user: str | None = None) -> list[str]:
        as_user = ["runuser", "-u", user, "--"] if user else []
        return ["chroot", str(self.path), *as_user, *argv]

    def env(self, **extra: str) -> dict[str, str]:
        return {"PATH": PATH, "LANG": "C.UTF-8", "HOME": "/root",
                "DEBIAN_FRONTEND": "noninteractive", **extra}

    def run(self, *argv: str, user: str | None = None, timeout: float = 120,
            check: bool = False, **env: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(self.argv(argv, user), capture_output=True, text=True,
                              timeout=timeout, check=False, env=self.env(**env))
        if check:
            assert done.returncode == 0, f"{' '.join(argv)}: {done.stdout}{done.stderr}"
        return done

    def popen(self, *argv: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.argv(argv), text=True, env=self.env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def versions(self, packages: Sequence[str]) -> dict[str, str]:
        """Installed version of each package (dpkg's view)."""
        done = self.run("dpkg-query", "-W", "-f", "${Package} ${Version}\\n", *packages)
        return dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
