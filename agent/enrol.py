"""Enrolment (SPEC-2 §15): an agent with `[collector] enrol_token` and no token of its
own asks `POST /api/v1/enrol` for one, writes it to `token_file` (0600, atomically) and
uses it from then on: once the file holds a token the enrolment token is never sent again.

A refusal (401 a bad enrolment token, 409 the server_id exists, 422 an unknown service,
any other 4xx) is logged and ends the agent: trying again would only be refused again.
Network errors and 5xx are tried again with a growing pause, on each collector in turn.
"""
from __future__ import annotations

import logging
import os
import platform
import socket
import tempfile
import threading
from typing import Any

import requests

from agent.config import AgentConfig

logger = logging.getLogger(__name__)

FIRST_PAUSE = 1.0
MAX_PAUSE = 60.0
REFUSALS = {
    401: "the enrolment token was refused (unknown or changed: see [enrolment] token "
         "of the collector)",
    403: "enrolment is not allowed with this token",
    409: "a server with this server_id exists already: give it its token (token_file) "
         "or choose another server_id",
    422: "the collector refused the request",
}


class EnrolmentRefused(Exception):
    """The collector said no: the agent cannot start. The message holds no secret."""


def host_facts(version: str) -> dict[str, str]:
    return {"hostname": socket.gethostname()[:200],
            "os": f"{platform.system()} {platform.release()}"[:200],
            "agent_version": version[:200]}


def enrol_body(config: AgentConfig, version: str) -> dict[str, Any]:
    body: dict[str, Any] = {"server_id": config.server_id,
                            "service": config.collector.enrol_service,
                            "interval": config.interval,
                            "facts": host_facts(version)}
    if config.collector.enrol_address:  # else the collector takes the connection's
        body["address"] = config.collector.enrol_address
    return body


def _detail(response: requests.Response) -> str:
    """The collector's reason (its `detail`), short; never the request's headers."""
    try:
        detail = response.json().get("detail", "")
    except ValueError:
        return ""
    if isinstance(detail, list):  # FastAPI's validation errors: name the fields
        detail = "; ".join(f"{'.'.join(str(p) for p in d.get('loc', ())[1:])}: "
                           f"{d.get('msg', '')}" for d in detail if isinstance(d, dict))
    return str(detail)[:300]


def write_token(path: str, token: str) -> None:
    """Atomically: a private temporary file in the same directory, then a rename."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".token-")  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(token + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def enrol(config: AgentConfig, version: str, stop: threading.Event) -> str | None:
    """The agent's own token, written to token_file; None when stopped meanwhile.
    Raise EnrolmentRefused on a refusal."""
    c = config.collector
    assert c.enrol_token is not None
    body = enrol_body(config, version)
    verify: bool | str = (c.ca_file or True) if c.verify_tls else False
    pause = FIRST_PAUSE
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {c.enrol_token.reveal()}"
        while not stop.is_set():
            for url in c.urls:
                try:
                    response = session.post(f"{url}/api/v1/enrol", json=body, timeout=c.timeout,
                                            verify=verify, cert=c.client_cert)
                except requests.RequestException as exc:
                    logger.warning("enrolment: %s unreachable (%s)", url, type(exc).__name__)
                    continue
                if response.status_code in (200, 201):
                    token = response.json().get("token")
                    if not isinstance(token, str) or not token:
                        raise EnrolmentRefused(f"enrolment: {url} answered without a token")
                    write_token(c.token_file, token)
                    logger.info("enrolled as %s in service %s at %s; token written to %s",
                                config.server_id, c.enrol_service, url, c.token_file)
                    return token
                if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                    reason = REFUSALS.get(response.status_code, "refused")
                    detail = _detail(response)
                    raise EnrolmentRefused(
                        f"enrolment refused by {url} ({response.status_code}): {reason}"
                        + (f": {detail}" if detail else ""))
                logger.warning("enrolment: %s answered %d, trying again", url,
                               response.status_code)
            logger.warning("enrolment: no collector enrolled us; next try in %.0f s", pause)
            stop.wait(pause)
            pause = min(pause * 2, MAX_PAUSE)
    return None
