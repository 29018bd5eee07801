"""The probe's cycle: targets -> observe -> spool -> drain (SPEC-2 §10).

Targets are asked of the collector every TARGETS_EVERY seconds and kept on disk next to
the spool, so a probe restarted while the collector is away still observes what it was
told. Each cycle's observations are one batch (or several of at most BATCH
observations), spooled at once, then the spool is sent oldest first with the agent's
rules (agent.sender: failover between collectors, order kept, nothing sent twice, a
refusal dropped and logged). Each batch carries `sent_at`, stamped at every attempt: the
collector measures the probe's clock by it.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import requests

from agent.sender import Outcome, Sender, shown_url
from agent.spool import Spool
from probe.config import ProbeConfig
from probe.observe import Target, observation, open_ports, ping_all

logger = logging.getLogger(__name__)

TARGETS_PATH = "/api/v1/probes/targets"
OBSERVATIONS_PATH = "/api/v1/observations"
TARGETS_EVERY = 60.0   # seconds between two asks for the target list
BATCH = 2000           # observations per POST (the collector takes at most 5000)


def rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds")


class Probe:
    def __init__(self, config: ProbeConfig) -> None:
        self.config = config
        self.stop_event = threading.Event()
        self.spool = Spool(config.spool.path, config.spool.max_bytes)
        c = config.collector
        self.sender = Sender(c.urls, c.token.reveal(), c.timeout, c.verify_tls,
                             path=OBSERVATIONS_PATH, ca_file=c.ca_file,
                             client_cert=c.client_cert)
        self._targets_file = os.path.join(os.path.dirname(config.spool.path.rstrip("/"))
                                          or ".", "targets.json")
        self.targets: list[Target] = self._load_targets()
        self._targets_at = float("-inf")
        self.cycles = 0

    # --- targets ---------------------------------------------------------------------
    def refresh_targets(self, now: float) -> None:
        if now - self._targets_at < TARGETS_EVERY:
            return
        c = self.config.collector
        headers = {"Authorization": f"Bearer {c.token.reveal()}"}
        verify: bool | str = c.ca_file if (c.verify_tls and c.ca_file) else c.verify_tls
        for index in self.sender.collectors.candidates(now):
            url = self.sender.collectors.urls[index]
            try:
                answer = requests.get(url + TARGETS_PATH, headers=headers, timeout=c.timeout,
                                      verify=verify, cert=c.client_cert)
            except requests.RequestException as exc:
                logger.info("targets not read from %s: %s", shown_url(url), type(exc).__name__)
                continue
            if answer.status_code != 200:
                logger.warning("targets refused by %s: HTTP %s", shown_url(url),
                               answer.status_code)
                continue
            self.targets = [Target(str(t["server_id"]), str(t["address"]),
                                   tuple(int(p) for p in t.get("ports", ())))
                            for t in answer.json().get("targets", [])]
            self._targets_at = now
            self._save_targets()
            return

    def _load_targets(self) -> list[Target]:
        try:
            with open(self._targets_file, encoding="utf-8") as fh:
                return [Target(t["server_id"], t["address"], tuple(t["ports"]))
                        for t in json.load(fh)]
        except (OSError, ValueError, KeyError, TypeError):
            return []

    def _save_targets(self) -> None:
        tmp = self._targets_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump([{"server_id": t.server_id, "address": t.address,
                        "ports": list(t.ports)} for t in self.targets], fh)
        os.replace(tmp, self._targets_file)

    # --- one cycle -------------------------------------------------------------------
    def observe(self) -> list[dict[str, Any]]:
        at = rfc3339(datetime.now(UTC))
        targets = list(self.targets)
        echoes = ping_all([t.address for t in targets], self.config.ping_timeout)
        pairs = [(t.address, p) for t in targets for p in t.ports]
        opened = open_ports(pairs, self.config.port_timeout) if pairs else {}
        return [observation(t, at, echoes[t.address],
                            {p: opened.get((t.address, p), False) for p in t.ports})
                for t in targets]

    def batches(self, observations: list[dict[str, Any]]) -> list[bytes]:
        out = []
        for i in range(0, len(observations), BATCH):
            out.append(json.dumps({
                "probe_id": self.config.probe_id, "batch_id": str(uuid.uuid4()),
                "sent_at": "", "interval": self.config.interval,
                "observations": observations[i:i + BATCH]}, separators=(",", ":")).encode())
        return out

    def cycle(self) -> None:
        try:
            self.refresh_targets(time.monotonic())
            if self.targets:
                for body in self.batches(self.observe()):
                    self.spool.put(body)
            self.drain()
        except Exception:  # job boundary: logged, the next cycle tries again
            logger.exception("probe cycle failed")
        self.cycles += 1

    def drain(self) -> int:
        """The agent's drain (agent.sender.drain), `sent_at` stamped at each attempt."""
        accepted = 0
        while not self.stop_event.is_set():
            head = self.spool.oldest()
            if head is None:
                break
            item, body = head
            result = self.sender.send(_stamped(body))
            if result.outcome is Outcome.RETRYABLE:
                log = logger.warning if self.sender.reachable is not False else logger.debug
                log("collector unavailable (%s: %s); %d batch(es) kept in the spool",
                    result.status or "no answer", result.reason, len(self.spool))
                self.sender.reachable = False
                break
            if self.sender.reachable is False:
                logger.info("collector reachable again; sending %d spooled batch(es)",
                            len(self.spool))
            self.sender.reachable = True
            if result.outcome is Outcome.PERMANENT:
                logger.error("collector refused batch %s with HTTP %s: %s; dropped",
                             item.name, result.status, result.reason)
            else:
                accepted += 1
            self.spool.remove(item)
        return accepted

    def run(self) -> None:
        """Every `interval` seconds from start, until stopped (a late cycle is not
        caught up: the next one starts at the next due instant)."""
        interval = self.config.interval
        start = time.monotonic()
        while not self.stop_event.is_set():
            self.cycle()
            elapsed = time.monotonic() - start
            wait = interval - (elapsed % interval)
            self.stop_event.wait(wait)

    def close(self) -> None:
        self.stop_event.set()
        self.sender.close()


def _stamped(body: bytes) -> bytes:
    """The batch with `sent_at` now (what the collector compares with its own clock)."""
    batch = json.loads(body)
    batch["sent_at"] = rfc3339(datetime.now(UTC))
    return json.dumps(batch, separators=(",", ":")).encode()
