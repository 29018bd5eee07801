"""`process` check: enough processes with a given name or command-line pattern are running."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

import psutil

from agent.checks.model import CheckKind, Outcome, Status, gauge_of
from agent.tomlconf import Key, between, non_empty, regex

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessSpec:
    process: str | None = None  # exact process name
    pattern: str | None = None  # regular expression searched in the command line
    min_count: int = 1


KEYS = (
    Key("process", str, check=non_empty),
    Key("pattern", str, check=regex),
    Key("min_count", int, check=between(1, 1_000_000)),
)


def _one_way_to_match(spec: ProcessSpec) -> tuple[str, str] | None:
    if (spec.process is None) == (spec.pattern is None):
        return "process", "give exactly one of `process` (a name) or `pattern` (a regex)"
    return None


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    name: str
    cmdline: str


def read_processes(with_cmdline: bool = True) -> list[ProcessInfo]:
    """Every visible process but the agent itself (its own command line could match a pattern).

    Reading command lines costs a /proc read per process: skip it for name-only checks.
    """
    own = os.getpid()
    found: list[ProcessInfo] = []
    fields = ["pid", "name", "cmdline"] if with_cmdline else ["pid", "name"]
    for proc in psutil.process_iter(fields):
        info = proc.info
        if info["pid"] == own:
            continue
        # cmdline is None for zombies and processes we may not read: match on the name only.
        found.append(ProcessInfo(info["pid"], info["name"] or "", " ".join(info.get("cmdline") or ())))
    return found


def _matches(spec: ProcessSpec, proc: ProcessInfo) -> bool:
    if spec.process is not None:
        return proc.name == spec.process
    assert spec.pattern is not None
    return re.search(spec.pattern, proc.cmdline) is not None


def evaluate(spec: ProcessSpec, processes: Sequence[ProcessInfo]) -> Outcome:
    pids = sorted(proc.pid for proc in processes if _matches(spec, proc))
    what = f"named {spec.process!r}" if spec.process is not None else f"matching {spec.pattern!r}"
    data = {"count": len(pids), "min_count": spec.min_count, "pids": pids[:20]}
    if len(pids) < spec.min_count:
        detail = f"{len(pids)} process(es) {what}, expected at least {spec.min_count}"
        return Outcome(Status.CRITICAL, detail, None, data)
    return Outcome(Status.OK, f"{len(pids)} process(es) {what}", None, data)


def run(spec: ProcessSpec, timeout: float) -> Outcome:
    return evaluate(spec, read_processes(with_cmdline=spec.pattern is not None))


KIND = CheckKind(
    "process", ProcessSpec, KEYS, run,
    families=(gauge_of("vigie_process_count", "Processes matching the check", "count"),),
    rule=_one_way_to_match,
)
