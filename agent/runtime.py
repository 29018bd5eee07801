"""The agent's cycle: collect -> report -> spool -> drain, and the status the exporter shows."""
from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from agent.collect import Sampler
from agent.config import AgentConfig
from agent.model import build_report, encode
from agent.probes.ping import PingResult, ping_many
from agent.secret import Secret
from agent.spool import Spool
from agent.status import AgentStatus

if TYPE_CHECKING:
    from agent.checks import CheckRunner
    from agent.sender import Sender

logger = logging.getLogger(__name__)

# once: CPU percent and rates need two samples; this is the gap between them
ONCE_SETTLE_SECONDS = 1.0


def agent_version() -> str:
    # agent/__init__.py, not importlib.metadata: the Debian package has no dist-info, and
    # importlib.metadata would load email, zipfile and csv into every agent
    from agent import __version__

    return __version__


class Agent:
    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.version = agent_version()
        self.sampler = Sampler(self.version)
        # the checks package (and its thread pool) only when [[checks]] are configured
        self.checks: CheckRunner | None = None
        if config.checks:
            from agent.checks import CheckRunner  # owned by the checks package

            self.checks = CheckRunner(list(config.checks))
        # one long-lived thread for the pings of every cycle, not one new thread per cycle
        self._ping_pool = (ThreadPoolExecutor(max_workers=1, thread_name_prefix="pings")
                           if config.pings else None)
        self.stop_event = threading.Event()
        self._lock = threading.Lock()
        self._pings: tuple[PingResult, ...] = ()
        self._check_results: tuple[dict[str, Any], ...] = ()
        self.spool: Spool | None = None
        self.sender: Sender | None = None

    def open_outbox(self) -> None:
        """Spool and sender, for the daemon only (`once` sends nothing)."""
        from agent.sender import Sender  # requests: only for the daemon, not for `once`

        if self.config.collector.needs_enrolment:
            self._enrol()
        c = self.config
        self.spool = Spool(c.spool.path, c.spool.max_bytes)
        self.sender = Sender(c.collector.urls, c.collector.token.reveal(), c.collector.timeout,
                             c.collector.verify_tls, ca_file=c.collector.ca_file,
                             client_cert=c.collector.client_cert)
        if len(self.spool):
            logger.info("%d report(s) left in the spool from a previous run", len(self.spool))

    def _enrol(self) -> None:
        """SPEC-2 §15: no token yet, an enrolment token: ask for ours (agent/enrol.py).
        A refusal ends the agent (exit 1) with its reason logged."""
        from agent.enrol import EnrolmentRefused, enrol

        try:
            token = enrol(self.config, self.version, self.stop_event)
        except EnrolmentRefused as exc:
            logger.error("%s", exc)
            raise SystemExit(1) from None
        except OSError as exc:
            logger.error("enrolment: cannot write the token file %s: %s",
                         self.config.collector.token_file, exc.strerror or exc)
            raise SystemExit(1) from None
        if token is None:
            raise SystemExit(0)  # stopped while waiting for a collector
        c = self.config.collector
        self.config = replace(self.config, collector=replace(c, token=Secret(token)))

    def collect_report(self, settle_until: float | None = None) -> dict[str, Any]:
        """One report; pings run in parallel with the checks and the system probes."""
        errors: list[dict[str, str]] = []
        pings_future = None
        if self._ping_pool is not None:
            targets = [(p.target, p.count, p.interval, p.timeout) for p in self.config.pings]
            pings_future = self._ping_pool.submit(ping_many, targets)
        checks = self._run_checks(errors)
        if settle_until is not None:
            time.sleep(max(0.0, settle_until - time.monotonic()))
        now = datetime.now(timezone.utc)
        collected = self.sampler.collect(now, time.monotonic())
        pings = tuple(pings_future.result()) if pings_future is not None else ()
        with self._lock:
            self._pings, self._check_results = pings, tuple(checks)
        return build_report(
            report_id=str(uuid.uuid4()),
            server_id=self.config.server_id,
            collected_at=now,
            interval=self.config.interval,
            agent=collected.agent,
            sections={**collected.sections, "ping": [p.to_entry() for p in pings]},
            checks=checks,
            errors=collected.errors + errors,
        )

    def _run_checks(self, errors: list[dict[str, str]]) -> list[dict[str, Any]]:
        if self.checks is None:
            return []
        try:
            return list(self.checks.run_due(time.monotonic()))
        except Exception as exc:  # the check runner's own failure must not lose the report
            logger.exception("check runner failed")
            errors.append({"probe": "checks", "error": f"{type(exc).__name__}: {exc}"})
            return list(self._check_results)

    def once(self) -> dict[str, Any]:
        self.sampler.prime(time.monotonic())
        return self.collect_report(settle_until=time.monotonic() + ONCE_SETTLE_SECONDS)

    def cycle(self) -> None:
        """The scheduled job: spool the new report first, then send oldest first."""
        assert self.spool is not None and self.sender is not None, "open_outbox() first"
        from agent.sender import drain  # loaded by open_outbox(): a dictionary lookup

        try:
            self.spool.put(encode(self.collect_report()))
            drain(self.spool, self.sender, self.stop_event)
        except Exception:  # job boundary: log, the next cycle tries again
            logger.exception("collection cycle failed")

    def status(self) -> AgentStatus:
        with self._lock:
            pings, checks = self._pings, self._check_results
        spool, sender = self.spool, self.sender
        return AgentStatus(
            pings=pings,
            checks=checks,
            spool_reports=len(spool) if spool else 0,
            spool_bytes=spool.total_bytes if spool else 0,
            spool_dropped_total=spool.dropped_total if spool else 0,
            sent_total=dict(sender.sent_total) if sender else {},
            version=self.version,
        )

    def close(self) -> None:
        self.stop_event.set()
        if self.checks is not None:
            self.checks.close()
        if self._ping_pool is not None:
            self._ping_pool.shutdown(wait=False, cancel_futures=True)
        if self.sender is not None:
            self.sender.close()
