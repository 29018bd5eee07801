"""`process` check: enough processes with a given name or command-line pattern are running."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

import psutil

from agent.checks.model import Outcome, ProcessSpec, Status

logger = logging.getLogger(__name__)


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
