"""POST reports to the collector and drain the spool in order (SPEC §5 /api/v1/reports).

Outcomes: accepted (2xx), retryable (no answer, timeout, 5xx, 408, 429: the report stays
spooled and is tried again next cycle), permanent (any other 4xx: the collector will
never take this body, so it is logged with the reason and dropped, not retried forever).
"""
from __future__ import annotations

import enum
import logging
import threading
from collections import Counter
from dataclasses import dataclass

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


class Sender:
    def __init__(self, url: str, token: str, timeout: float, verify_tls: bool = True) -> None:
        self.endpoint = url.rstrip("/") + "/api/v1/reports"
        self._timeout = timeout
        # one Session for the agent's life: its keep-alive connection is reused by every POST
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {token}"
        self._session.headers["Content-Type"] = "application/json"
        # The environment (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE) is read once, here:
        # with trust_env requests re-reads it and ~/.netrc at every POST, a fifth of the
        # POST's CPU; and a ~/.netrc entry would replace our bearer token.
        settings = self._session.merge_environment_settings(self.endpoint, {}, None,
                                                            verify_tls, None)
        self._session.trust_env = False
        self._proxies: dict[str, str] = settings["proxies"]
        self._verify: bool | str = settings["verify"]
        # method, URL and headers never change: prepared once, where Session.post would
        # merge the session's headers, cookies and hooks again at every POST (a quarter
        # of its CPU); each POST only copies this and sets the body
        self._template = self._session.prepare_request(requests.Request("POST", self.endpoint))
        self.sent_total: Counter[str] = Counter({o.value: 0 for o in Outcome})
        self.reachable: bool | None = None  # None until the first attempt

    def send(self, body: bytes) -> SendResult:
        request = self._template.copy()
        request.prepare_body(body, None)
        try:
            response = self._session.send(request, timeout=self._timeout, verify=self._verify,
                                          proxies=self._proxies, allow_redirects=False)
        except requests.RequestException as exc:
            result = SendResult(Outcome.RETRYABLE, None, f"{type(exc).__name__}: {exc}"[:300])
        else:
            outcome = classify(response.status_code)
            # the reason is only logged for a refusal: an accepted answer is not parsed
            reason = "" if outcome is Outcome.ACCEPTED else _reason(response)
            result = SendResult(outcome, response.status_code, reason)
        self.sent_total[result.outcome.value] += 1
        return result

    def close(self) -> None:
        self._session.close()


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
