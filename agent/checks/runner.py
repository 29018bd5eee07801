"""Runs the due checks concurrently, each bounded by its timeout, and keeps the latest results."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from agent.checks.model import CheckConfig, Outcome, Status

logger = logging.getLogger(__name__)

RunFunction = Callable[[Any, float], Outcome]  # (spec, timeout) -> Outcome

# The scheduler's ticks jitter by a few milliseconds; without slack a 10 s check on a 10 s
# tick would run only every other tick.
DUE_SLACK_SECONDS = 0.5
# Up to 8 checks start at once; a ninth waits for a free thread and its timeout counts
# from submission, so a host with many slow checks should spread their intervals.
MAX_WORKERS = 8


@dataclass
class _Slot:
    config: CheckConfig
    last_start: float | None = None  # monotonic time of the last submission
    future: Future[Outcome] | None = None
    latest: dict[str, Any] | None = None


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _entry(config: CheckConfig, outcome: Outcome, checked_at: datetime) -> dict[str, Any]:
    """One report `checks` entry (docs/report-format.md)."""
    return {
        "name": config.name,
        "type": config.type,
        "status": outcome.status.value,
        "detail": outcome.detail,
        "essential": config.essential,
        "severity": config.severity.value,
        "latency_seconds": outcome.latency_seconds,
        "checked_at": checked_at.isoformat(timespec="seconds"),
        "data": dict(outcome.data),
    }


def _failure(detail: str) -> Outcome:
    # A check that could not run is critical, never a silent ok (STYLE: no magic values).
    return Outcome(Status.CRITICAL, detail, None, {"error": detail})


class CheckRunner:
    """Owns a small thread pool; `run_due()` is called from one scheduler job at a time."""

    def __init__(
        self,
        configs: list[CheckConfig],
        *,
        wall_clock: Callable[[], datetime] = _utc_now,
        runners: Mapping[str, RunFunction] | None = None,
    ) -> None:
        """`runners` replaces the `run` of some types by name (tests: a hanging check)."""
        self._slots = [_Slot(config) for config in configs]
        self._wall_clock = wall_clock
        self._runners = {config.type: config.kind.run for config in configs}
        self._runners.update(runners or {})
        workers = min(MAX_WORKERS, max(1, len(configs)))
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vigie-check")

    def run_due(self, now_monotonic: float) -> list[dict[str, Any]]:
        """Run the checks whose interval has elapsed; return the latest result of every check."""
        started: list[tuple[_Slot, float]] = []
        for slot in self._slots:
            if not self._is_due(slot, now_monotonic):
                continue
            slot.last_start = now_monotonic
            if slot.future is not None and not slot.future.done():
                # The previous run still hangs in its thread (threads cannot be killed):
                # report it again rather than piling up a second copy.
                self._store(
                    slot,
                    _failure(
                        f"timed out after {slot.config.timeout:g} s (previous run still hanging)"
                    ),
                )
                continue
            runner = self._runners[slot.config.type]
            slot.future = self._pool.submit(runner, slot.config.spec, slot.config.timeout)
            started.append((slot, time.monotonic() + slot.config.timeout))
        for slot, deadline in sorted(started, key=lambda item: item[1]):
            self._store(slot, self._collect(slot, deadline))
        return [slot.latest for slot in self._slots if slot.latest is not None]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    @staticmethod
    def _is_due(slot: _Slot, now: float) -> bool:
        if slot.last_start is None:
            return True
        return now - slot.last_start + DUE_SLACK_SECONDS >= slot.config.interval

    def _collect(self, slot: _Slot, deadline: float) -> Outcome:
        assert slot.future is not None
        config = slot.config
        try:
            return slot.future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            logger.warning("check %s timed out after %g s", config.name, config.timeout)
            return _failure(f"timed out after {config.timeout:g} s")
        except Exception as exc:  # job boundary: one broken check must not stop the others
            logger.exception("check %s raised", config.name)
            return _failure(f"check failed: {type(exc).__name__}: {exc}")

    def _store(self, slot: _Slot, outcome: Outcome) -> None:
        slot.latest = _entry(slot.config, outcome, self._wall_clock())
