#!/usr/bin/env python3
"""Build dist/vigie-agent_VERSION_all.deb from this checkout (SPEC §14), with dpkg-deb.

    python3 deploy/debian/build.py [--version VERSION] [--out DIR]

Needs only Python 3.9+ and dpkg-deb (every Debian and Ubuntu has both): no git, no
network, no debhelper. The package holds the agent's modules, private to it, in
/usr/share/vigie-agent (Debian Python policy: an application's modules stay off the
common path), the launcher /usr/bin/vigie-agent, the systemd unit of deploy/systemd, the
conffile /etc/vigie/agent.toml and the maintainer scripts of this folder; its Depends are
the Debian packages of the agent's libraries (control.in). Files are dated from
SOURCE_DATE_EPOCH, or the changelog's last entry: two builds of one tree are identical.

`--version` builds another version of the same tree (the upgrade test does): the agent's
`__version__` and the changelog then say that version too.
"""
from __future__ import annotations

import argparse
import email.utils
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PACKAGE = "vigie-agent"
SHARE = Path("usr/share/vigie-agent")
DOC = Path("usr/share/doc") / PACKAGE
CONFFILES = ("/etc/vigie/agent.toml",)
SCRIPTS = ("postinst", "prerm", "postrm")
# what the agent's folder may hold that is not the agent (caches, tool settings)
SKIPPED = re.compile(r"(__pycache__|\.pyc$|\.pyo$|^ruff\.toml$|^\.)")
_VERSION_LINE = re.compile(r'^__version__ = "([^"]+)"$', re.MULTILINE)
_CHANGELOG_TOP = re.compile(r"^vigie-agent \(([^)]+)\)")
_TRAILER = re.compile(r"^ -- (.+?)  (.+)$", re.MULTILINE)


def source_version() -> str:
    text = (ROOT / "agent" / "__init__.py").read_text(encoding="utf-8")
    found = _VERSION_LINE.search(text)
    if found is None:
        raise SystemExit("agent/__init__.py has no __version__ line")
    return found.group(1)


def changelog(version: str) -> tuple[str, int]:
    """The changelog text for `version` and its date (epoch): an entry is added on top
    when `version` is not the last one written."""
    text = (HERE / "changelog").read_text(encoding="utf-8")
    trailer = _TRAILER.search(text)
    top = _CHANGELOG_TOP.match(text)
    if trailer is None or top is None:
        raise SystemExit("deploy/debian/changelog: no entry found")
    maintainer, date = trailer.groups()
    epoch = int(email.utils.parsedate_to_datetime(date).timestamp())
    if top.group(1) != version:
        text = (f"vigie-agent ({version}) unstable; urgency=medium\n\n"
                f"  * Built from the tree of {top.group(1)}.\n\n"
                f" -- {maintainer}  {date}\n\n") + text
    return text, epoch


def copy(src: Path, dest: Path, mode: int = 0o644) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    os.chmod(dest, mode)


def write(dest: Path, data: bytes, mode: int = 0o644) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    os.chmod(dest, mode)


def gzipped(data: bytes) -> bytes:
    # mtime 0 and no file name, as `gzip -9n`: lintian asks for both
    return gzip.compress(data, compresslevel=9, mtime=0)


def stage_agent(tree: Path, version: str) -> None:
    """The agent's modules, `__version__` set to the package's version."""
    source = ROOT / "agent"
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if any(SKIPPED.search(part) for part in relative.parts) or path.is_dir():
            continue
        if path.suffix != ".py":
            continue
        dest = tree / SHARE / "agent" / relative
        copy(path, dest)
        if relative == Path("__init__.py"):
            text = _VERSION_LINE.sub(f'__version__ = "{version}"', path.read_text("utf-8"))
            dest.write_text(text, encoding="utf-8")


def stage(tree: Path, version: str) -> int:
    """Every file of the package under `tree`; returns the epoch to date them with."""
    stage_agent(tree, version)
    copy(HERE / "vigie-agent", tree / "usr/bin/vigie-agent", 0o755)
    copy(ROOT / "deploy/systemd/vigie-agent.service",
         tree / "lib/systemd/system/vigie-agent.service")
    copy(HERE / "agent.toml", tree / "etc/vigie/agent.toml")
    copy(HERE / "copyright", tree / DOC / "copyright")
    copy(ROOT / "deploy/examples/agent.toml", tree / DOC / "examples/agent.toml")
    text, epoch = changelog(version)
    write(tree / DOC / "changelog.gz", gzipped(text.encode("utf-8")))
    write(tree / "usr/share/man/man1/vigie-agent.1.gz",
          gzipped((HERE / "vigie-agent.1").read_bytes()))
    return epoch


def installed_size(tree: Path) -> int:
    """KiB, as dpkg-gencontrol counts: each file rounded up, one per directory."""
    total = 0
    for path in tree.rglob("*"):
        total += 1 if path.is_dir() else -(-path.stat().st_size // 1024)
    return total


def md5sums(tree: Path) -> bytes:
    lines = []
    for path in sorted(p for p in tree.rglob("*") if p.is_file()):
        relative = path.relative_to(tree).as_posix()
        if relative.startswith(("etc/", "DEBIAN/")):
            continue  # conffiles have their own checksums in dpkg's database
        lines.append(f"{hashlib.md5(path.read_bytes()).hexdigest()}  {relative}\n")
    return "".join(lines).encode("utf-8")


def control(tree: Path, version: str) -> None:
    meta = tree / "DEBIAN"
    size = installed_size(tree)
    text = (HERE / "control.in").read_text(encoding="utf-8")
    text = text.replace("@VERSION@", version).replace("@INSTALLED_SIZE@", str(size))
    write(meta / "control", text.encode("utf-8"))
    write(meta / "conffiles", "".join(f"{path}\n" for path in CONFFILES).encode("utf-8"))
    write(meta / "md5sums", md5sums(tree))
    for script in SCRIPTS:
        copy(HERE / script, meta / script, 0o755)


def date_everything(tree: Path, epoch: int) -> None:
    for path in [tree, *tree.rglob("*")]:
        if path.is_dir():
            os.chmod(path, 0o755)
        os.utime(path, (epoch, epoch), follow_symlinks=False)


def build(version: str, out: Path) -> Path:
    dpkg_deb = shutil.which("dpkg-deb")
    if dpkg_deb is None:
        raise SystemExit("dpkg-deb not found: install dpkg (Debian, Ubuntu)")
    if not re.fullmatch(r"[0-9][A-Za-z0-9.+~-]*", version):
        raise SystemExit(f"not a Debian version: {version!r}")
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{PACKAGE}_{version}_all.deb"
    with tempfile.TemporaryDirectory(prefix="vigie-deb-") as tmp:
        tree = Path(tmp) / PACKAGE
        tree.mkdir()
        os.umask(0o022)
        changelog_date = stage(tree, version)
        epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or changelog_date)
        control(tree, version)
        date_everything(tree, epoch)
        env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch)}
        subprocess.run([dpkg_deb, "--root-owner-group", "--build", str(tree), str(target)],
                       check=True, stdout=subprocess.DEVNULL, env=env)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the vigie-agent Debian package.")
    parser.add_argument("--version", default=None,
                        help="package version (default: agent/__init__.py's __version__)")
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder")
    args = parser.parse_args(argv)
    target = build(args.version or source_version(), args.out)
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
