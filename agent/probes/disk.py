"""Filesystems (use per real filesystem) and block devices (I/O counters and rates)."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psutil

from agent.rates import CounterSample, per_second, ratio

logger = logging.getLogger(__name__)

# Pseudo and image filesystems: their "use" says nothing about the server's disks.
FSTYPE_DENYLIST = frozenset({
    "tmpfs", "devtmpfs", "ramfs", "overlay", "aufs", "squashfs", "proc", "sysfs", "cgroup",
    "cgroup2", "devpts", "mqueue", "debugfs", "tracefs", "securityfs", "pstore", "bpf",
    "configfs", "fusectl", "hugetlbfs", "autofs", "binfmt_misc", "nsfs", "rpc_pipefs",
    "efivarfs", "selinuxfs", "iso9660", "fuse.lxcfs", "fuse.snapfuse", "fuse.gvfsd-fuse",
    "nfsd", "rootfs", "zfs_snapshot",
})
# Devices that are not disks: loop images (snaps), RAM disks, zram swap, optical drives.
DEVICE_DENY_PREFIXES = ("loop", "ram", "zram", "sr", "fd")


@dataclass(frozen=True)
class FilesystemReading:
    mountpoint: str
    device: str
    fstype: str
    size: int
    used: int
    avail: int


def read_filesystems() -> tuple[list[FilesystemReading], list[dict[str, str]]]:
    """Usage of every real filesystem, and an error entry for each one that cannot be read."""
    readings: list[FilesystemReading] = []
    errors: list[dict[str, str]] = []
    seen: set[str] = set()
    for part in psutil.disk_partitions(all=False):
        if part.fstype in FSTYPE_DENYLIST or part.mountpoint in seen:
            continue
        seen.add(part.mountpoint)
        try:
            usage = psutil.disk_usage(part.mountpoint)
        except OSError as exc:  # stale NFS, permission: report it, keep the others
            errors.append({"probe": f"filesystem {part.mountpoint}", "error": str(exc)})
            continue
        readings.append(FilesystemReading(part.mountpoint, part.device, part.fstype,
                                          usage.total, usage.used, usage.free))
    return readings, errors


def filesystem_entry(r: FilesystemReading) -> dict[str, Any]:
    # like df: percent of the space a non-root user could use (reserved blocks excluded)
    usable = r.used + r.avail
    return {
        "mountpoint": r.mountpoint,
        "device": r.device,
        "fstype": r.fstype,
        "size_bytes": r.size,
        "used_bytes": r.used,
        "avail_bytes": r.avail,
        "percent": 0.0 if usable <= 0 else round(100.0 * r.used / usable, 2),
    }


def read_disks(at: float) -> dict[str, CounterSample]:
    """Counters per block device at monotonic time `at`."""
    counters = psutil.disk_io_counters(perdisk=True) or {}
    return {
        name: CounterSample(at, {
            "read_bytes": float(c.read_bytes),
            "write_bytes": float(c.write_bytes),
            "reads": float(c.read_count),
            "writes": float(c.write_count),
            "busy_seconds": getattr(c, "busy_time", 0) / 1000.0,
        })
        for name, c in counters.items()
        if not name.startswith(DEVICE_DENY_PREFIXES)
    }


def disk_entries(previous: Mapping[str, CounterSample] | None,
                 current: Mapping[str, CounterSample]) -> list[dict[str, Any]]:
    entries = []
    for device in sorted(current):
        cur = current[device]
        prev = (previous or {}).get(device)
        elapsed = None if prev is None else cur.at - prev.at
        rate = {
            key: per_second(None if prev is None else prev.values.get(key), value, elapsed)
            for key, value in cur.values.items()
        }
        entries.append({
            "device": device,
            "read_bytes": int(cur.values["read_bytes"]),
            "write_bytes": int(cur.values["write_bytes"]),
            "reads": int(cur.values["reads"]),
            "writes": int(cur.values["writes"]),
            "busy_seconds": cur.values["busy_seconds"],
            "read_bytes_per_second": rate["read_bytes"],
            "write_bytes_per_second": rate["write_bytes"],
            "busy_ratio": ratio(rate["busy_seconds"]),
        })
    return entries
