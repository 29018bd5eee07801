"""POST reports to the collector and drain the spool in order (SPEC §5 /api/v1/reports).

Outcomes: accepted (2xx), retryable (no answer, timeout, 5xx, 408, 429: the report stays
spooled and is tried again next cycle), permanent (any other 4xx: the collector will
never take this body, so it is logged with the reason and dropped, not retried forever).

With several collectors (`[collector] urls`, SPEC-2 §11) a retryable failure hands the
same report to the next collector at once (`Collectors`): the spool's head moves on only
after a 2xx or a refusal, so the order is kept and a report one collector accepted is
never sent to another.
"""
from __future__ import annotations

import enum
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests

from agent.spool import Spool

logger = logging.getLogger(__name__)

RETRYABLE_4XX = frozenset({408, 429})


class Outcome(str, enum.Enum):
    ACCEPTED = "accepted"
    RETRYABLE = "retryable"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    status: int | None  # None when no HTTP answer came back
    reason: str


def classify(status: int) -> Outcome:
    """Pure: HTTP status -> what to do with the spooled report."""
    if 200 <= status < 300:
        return Outcome.ACCEPTED
    if 400 <= status < 500 and status not in RETRYABLE_4XX:
        return Outcome.PERMANENT
    return Outcome.RETRYABLE  # 5xx, 408, 429, and anything unexpected (1xx, 3xx)


MAX_RETRY_AFTER = 300.0  # seconds: a collector cannot silence an agent for longer


class Collectors:
    """The collectors to send to, in the configured order (SPEC-2 §11 `[collector] urls`):
    the current one first, the others after it in turn. A collector that answers stays
    the current one; one that fails hands over to the next, and one that asked to wait
    (`Retry-After`) is skipped until then. Pure bookkeeping, the clock passed in: the
    one place that decides where a report goes, for the agent and the probe alike."""

    def __init__(self, urls: Sequence[str]) -> None:
        if not urls:
            raise ValueError("at least one collector URL")
        self.urls = tuple(urls)
        self.current = 0
        self._resting_until = [0.0] * len(self.urls)

    def candidates(self, now: float) -> list[int]:
        """The collectors to try now, the current one first; those resting left out."""
        n = len(self.urls)
        order = [(self.current + k) % n for k in range(n)]
        return [i for i in order if self._resting_until[i] <= now]

    def answered(self, index: int) -> None:
        """`index` answered (2xx or a refusal of the report): it becomes the current one."""
        self.current = index
        self._resting_until[index] = 0.0

    def failed(self, index: int, now: float, retry_after: float | None) -> None:
        """`index` did not take the report: the next one is tried first from now on."""
        if retry_after is not None:
            self._resting_until[index] = now + min(max(retry_after, 0.0), MAX_RETRY_AFTER)
        if index == self.current:
            self.current = (index + 1) % len(self.urls)

    def next_ready_in(self, now: float) -> float:
        """Seconds until a resting collector may be tried again (0 if one may now)."""
        return max(0.0, min(self._resting_until) - now)


class _Target:
    """One collector's endpoint, with what requests needs to POST to it prepared once."""

    def __init__(self, session: requests.Session, url: str, path: str,
                 verify_tls: bool | str) -> None:
        self.url = url.rstrip("/")
        self.endpoint = self.url + path
        self.shown = shown_url(self.url)
        # The environment (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE) is read once, here
        # (NO_PROXY may name one collector and not another): with trust_env requests
        # re-reads it and ~/.netrc at every POST, a fifth of the POST's CPU; and a ~/.netrc
        # entry would replace our bearer token.
        settings = session.merge_environment_settings(self.endpoint, {}, None, verify_tls,
                                                      None)
        self.proxies: dict[str, str] = settings["proxies"]
        self.verify: bool | str = settings["verify"]
        # method, URL and headers never change: prepared once, where Session.post would
        # merge the session's headers, cookies and hooks again at every POST (a quarter
        # of its CPU); each POST only copies this and sets the body
        self.template = session.prepare_request(requests.Request("POST", self.endpoint))


class Sender:
    """POSTs a body to the current collector, handing over to the next one in `urls` when
    it fails (no answer, timeout, 5xx, 408, 429; its `Retry-After` honoured). A refusal
    (any other 4xx) is the report's problem, not the collector's: never tried elsewhere."""

    def __init__(self, urls: str | Sequence[str], token: str, timeout: float,
                 verify_tls: bool = True, *, path: str = "/api/v1/reports",
                 clock: Callable[[], float] = time.monotonic, ca_file: str = "",
                 client_cert: tuple[str, str] | None = None) -> None:
        urls = (urls,) if isinstance(urls, str) else tuple(urls)
        self.collectors = Collectors(urls)
        self._timeout = timeout
        self._clock = clock
        # one Session for the agent's life: its keep-alive connections (one per collector)
        # are reused by every POST
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {token}"
        self._session.headers["Content-Type"] = "application/json"
        # SPEC-2 §12: a CA of our own for the collector's certificate, and this agent's
        # client certificate when the collector asks for one (client_ca_file)
        self._cert = client_cert  # Session.send takes it per call, as `verify`
        verify: bool | str = ca_file if (verify_tls and ca_file) else verify_tls
        self._targets = [_Target(self._session, url, path, verify) for url in urls]
        self._session.trust_env = False  # read once by each _Target above
        self.sent_total: Counter[str] = Counter({o.value: 0 for o in Outcome})
        self.reachable: bool | None = None  # None until the first attempt

    @property
    def endpoint(self) -> str:
        """Where the next report goes first."""
        return self._targets[self.collectors.current].endpoint

    def send(self, body: bytes) -> SendResult:
        """The first answer that is not a failure of the collector, else the last failure.
        Each collector is tried at most once per call: the spool keeps the report otherwise."""
        result: SendResult | None = None
        first = self.collectors.current
        for index in self.collectors.candidates(self._clock()):
            target = self._targets[index]
            result, retry_after = self._post(target, body)
            if result.outcome is not Outcome.RETRYABLE:
                self.collectors.answered(index)
                if index != first:
                    logger.warning("now sending to collector %s", target.shown)
                break
            self.collectors.failed(index, self._clock(), retry_after)
            if len(self._targets) > 1:
                logger.info("collector %s failed (%s: %s)", target.shown,
                            result.status or "no answer", result.reason)
        if result is None:
            wait = self.collectors.next_ready_in(self._clock())
            result = SendResult(Outcome.RETRYABLE, None,
                                f"every collector asked to wait (Retry-After, {wait:.0f} s left)")
        self.sent_total[result.outcome.value] += 1
        return result

    def _post(self, target: _Target, body: bytes) -> tuple[SendResult, float | None]:
        request = target.template.copy()
        request.prepare_body(body, None)
        try:
            response = self._session.send(request, timeout=self._timeout, verify=target.verify,
                                          cert=self._cert,
                                          proxies=target.proxies, allow_redirects=False)
        except requests.RequestException as exc:
            return SendResult(Outcome.RETRYABLE, None, f"{type(exc).__name__}: {exc}"[:300]), None
        outcome = classify(response.status_code)
        if outcome is Outcome.ACCEPTED:  # an accepted answer is not parsed
            return SendResult(outcome, response.status_code, ""), None
        retry_after = (retry_after_seconds(response.headers.get("Retry-After"))
                       if outcome is Outcome.RETRYABLE else None)
        return SendResult(outcome, response.status_code, _reason(response)), retry_after

    def close(self) -> None:
        self._session.close()


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """RFC 9110 §10.2.3: delay-seconds or an HTTP-date; None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def shown_url(url: str) -> str:
    """scheme://host[:port] of a URL: what a log line may say (never a user or password)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}"


def _reason(response: requests.Response) -> str:
    # the collector answers {"error": "..."} (SPEC §5); fall back to the raw text
    try:
        body = response.json()
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, str):
            return error[:300]
    except ValueError:
        pass
    return (response.text or response.reason or "")[:300]


def drain(spool: Spool, sender: Sender, stop: threading.Event | None = None) -> int:
    """Send spooled reports oldest first until one fails or the spool is empty.

    Stopping at the first retryable failure keeps the order; removing a file only after
    a 2xx means nothing is sent twice. Returns how many were accepted.
    """
    accepted = 0
    while stop is None or not stop.is_set():
        head = spool.oldest()
        if head is None:
            break
        item, body = head
        result = sender.send(body)
        if result.outcome is Outcome.RETRYABLE:
            # one warning per outage, not one per cycle
            log = logger.warning if sender.reachable is not False else logger.debug
            log("collector unavailable (%s: %s); %d report(s) kept in the spool",
                result.status or "no answer", result.reason, len(spool))
            sender.reachable = False
            break
        if sender.reachable is False:
            logger.info("collector reachable again; sending %d spooled report(s)", len(spool))
        sender.reachable = True
        if result.outcome is Outcome.PERMANENT:
            logger.error("collector refused report %s with HTTP %s: %s; report dropped",
                         item.name, result.status, result.reason)
        else:
            accepted += 1
        spool.remove(item)
    return accepted
