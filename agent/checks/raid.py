"""`raid` check: Linux software RAID (md) state from /proc/mdstat (contract §1, level 2: RAID)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent.checks.model import CheckKind, Family, Outcome, Samples, Status
from agent.tomlconf import Key, non_empty

logger = logging.getLogger(__name__)

# "md0 : active raid1 sdb1[1] sda1[0]", "md127 : inactive sdb[0](S)",
# "md1 : active (auto-read-only) raid5 sdd1[3](F) ..."
_HEADER = re.compile(r"^(md\w*)\s*:\s*(active|inactive)\s*(\([^)]*\))?\s*(.*)$")
_MEMBER = re.compile(r"^(\S+?)\[(\d+)\]((?:\([A-Z]\))*)$")
_DISKS = re.compile(r"\[(\d+)/(\d+)\]\s+\[([U_]+)\]")
# "[==>....]  recovery = 12.6% (37043392/292945152) finish=127.5min speed=33440K/sec"
_PROGRESS = re.compile(r"(resync|recovery|reshape|check|repair)\s*=\s*([\d.]+)%")
_FINISH = re.compile(r"finish=(\S+)")
_DELAYED = re.compile(r"(resync|recovery|reshape|check)\s*=\s*(DELAYED|PENDING)")
# A routine scrub (Debian's monthly checkarray) is not worth a warning.
_ROUTINE_ACTIONS = frozenset({"check", "repair"})
MDSTAT = "/proc/mdstat"


@dataclass(frozen=True)
class RaidSpec:
    path: str = MDSTAT


KEYS = (Key("path", str, check=non_empty),)


@dataclass(frozen=True)
class MdArray:
    name: str
    active: bool
    level: str | None
    members: tuple[str, ...]
    failed: tuple[str, ...] = ()
    spares: tuple[str, ...] = ()
    raid_disks: int | None = None  # "[2/1]": disks the array should have
    working_disks: int | None = None  # ... and disks working now
    pattern: str | None = None  # "[U_]"
    sync_action: str | None = None  # resync | recovery | reshape | check | repair
    sync_percent: float | None = None
    finish: str | None = None  # kernel's estimate, e.g. "127.5min"
    read_only: bool = False

    @property
    def degraded(self) -> bool:
        missing = self.pattern is not None and "_" in self.pattern
        short = (self.raid_disks or 0) > (self.working_disks or 0)
        return not self.active or missing or short or bool(self.failed)


def _parse_header(match: re.Match[str]) -> dict[str, Any]:
    name, state, flags, rest = match.groups()
    words = rest.split()
    level = words[0] if words and not _MEMBER.match(words[0]) else None
    members, failed, spares = [], [], []
    for word in words[1:] if level else words:
        member = _MEMBER.match(word)
        if not member:
            continue
        members.append(member.group(1))
        if "(F)" in member.group(3):
            failed.append(member.group(1))
        if "(S)" in member.group(3):
            spares.append(member.group(1))
    return {
        "name": name,
        "active": state == "active",
        "level": level,
        "members": tuple(members),
        "failed": tuple(failed),
        "spares": tuple(spares),
        "read_only": bool(flags and "read-only" in flags),
    }


def _parse_detail(line: str, fields: dict[str, Any]) -> None:
    disks = _DISKS.search(line)
    if disks:
        fields.update(
            raid_disks=int(disks.group(1)),
            working_disks=int(disks.group(2)),
            pattern=disks.group(3),
        )
    progress = _PROGRESS.search(line)
    if progress:
        finish = _FINISH.search(line)
        fields.update(
            sync_action=progress.group(1),
            sync_percent=float(progress.group(2)),
            finish=finish.group(1) if finish else None,
        )
    elif delayed := _DELAYED.search(line):
        fields.update(sync_action=delayed.group(1), sync_percent=0.0)


def parse_mdstat(text: str) -> list[MdArray]:
    """Arrays of a /proc/mdstat text, in file order."""
    arrays: list[dict[str, Any]] = []
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            arrays.append(_parse_header(header))
        elif arrays and line[:1].isspace():
            _parse_detail(line, arrays[-1])
    return [MdArray(**fields) for fields in arrays]


def _array_status(array: MdArray) -> tuple[Status, str]:
    progress = ""
    if array.sync_action is not None:
        progress = f", {array.sync_action} {array.sync_percent:.1f}%"
        if array.finish:
            progress += f" (finish in {array.finish})"
    if not array.active:
        return Status.CRITICAL, f"{array.name} inactive"
    if array.failed:
        # A member marked (F) must be replaced even while a spare is being rebuilt.
        return Status.CRITICAL, f"{array.name} failed disk(s) {', '.join(array.failed)}{progress}"
    if array.degraded and array.sync_action in ("recovery", "reshape"):
        return Status.WARNING, f"{array.name} rebuilding [{array.pattern}]{progress}"
    if array.degraded:
        return Status.CRITICAL, f"{array.name} degraded [{array.pattern}]"
    if array.sync_action is not None and array.sync_action not in _ROUTINE_ACTIONS:
        return Status.WARNING, f"{array.name} {array.level} [{array.pattern}]{progress}"
    return Status.OK, f"{array.name} {array.level or ''} clean{progress}".replace("  ", " ")


_RANK = {Status.OK: 0, Status.WARNING: 1, Status.CRITICAL: 2}


def evaluate(arrays: Sequence[MdArray]) -> Outcome:
    """Worst array wins; the detail lists the arrays that are not ok first."""
    data = {"arrays": [_array_data(array) for array in arrays]}
    if not arrays:
        return Outcome(Status.OK, "no md arrays", None, data)
    verdicts = sorted((_array_status(array) for array in arrays), key=lambda v: -_RANK[v[0]])
    worst = verdicts[0][0]
    return Outcome(worst, "; ".join(text for _, text in verdicts), None, data)


def _array_data(array: MdArray) -> dict[str, Any]:
    return {
        "name": array.name,
        "active": array.active,
        "level": array.level,
        "members": list(array.members),
        "failed": list(array.failed),
        "spares": list(array.spares),
        "raid_disks": array.raid_disks,
        "working_disks": array.working_disks,
        "pattern": array.pattern,
        "degraded": array.degraded,
        "sync_action": array.sync_action,
        "sync_percent": array.sync_percent,
        "finish": array.finish,
        "read_only": array.read_only,
    }


def run(spec: RaidSpec, timeout: float) -> Outcome:
    try:
        with open(spec.path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except FileNotFoundError:
        if spec.path == MDSTAT:
            # No /proc/mdstat: the md driver is not loaded, so there is no software RAID.
            return Outcome(Status.OK, "no md arrays (md driver not loaded)", None, {"arrays": []})
        raise
    return evaluate(parse_mdstat(text))


def _per_array(measure: Callable[[Mapping[str, Any]], float | None]) -> Samples:
    """Samples labelled by array from the check's `arrays` data (None: no sample)."""

    def samples(data: Mapping[str, Any]) -> list[tuple[tuple[str, ...], float]]:
        measured = ((array["name"], measure(array)) for array in data.get("arrays", []))
        return [((name,), value) for name, value in measured if value is not None]

    return samples


def _sync_ratio(array: Mapping[str, Any]) -> float | None:
    percent = array.get("sync_percent")
    return None if percent is None else percent / 100.0


KIND = CheckKind(
    "raid", RaidSpec, KEYS, run,
    families=(
        Family("vigie_raid_degraded", "1 when the md array is degraded or inactive",
               _per_array(lambda array: 1.0 if array["degraded"] else 0.0), ("array",)),
        Family("vigie_raid_failed_disks", "Members marked (F) in the md array",
               _per_array(lambda array: float(len(array["failed"]))), ("array",)),
        Family("vigie_raid_sync_progress_ratio", "Progress of a resync, recovery or check",
               _per_array(_sync_ratio), ("array",)),
    ),
)
