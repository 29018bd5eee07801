"""Enrolment (SPEC-2 §15): an agent holding the `[enrolment] token` creates its own server
in the service it names and receives its own token, once. The enrolment token is compared
by digest in constant time; changing it in the file (and reloading) revokes the old one."""
from __future__ import annotations

import datetime as dt
import hmac
import logging
from collections.abc import Mapping
from typing import Any

from collector.config import Config, Server
from collector.errors import Conflict, Unauthorized
from collector.services import inventory
from collector.store import Database
from collector.store import inventory as store

logger = logging.getLogger(__name__)


def check_token(config: Config, presented: str) -> None:
    expected = config.enrolment.token
    if expected is None or not expected.reveal():
        raise Unauthorized("enrolment is not enabled on this collector ([enrolment] token)")
    if not hmac.compare_digest(inventory.digest(presented), inventory.digest(expected.reveal())):
        raise Unauthorized("invalid enrolment token (unknown, or changed since)")


def enrol(db: Database, config: Config, body: Mapping[str, Any], *, address: str,
          now: dt.datetime) -> tuple[Server, str, bool]:
    """(the server, its token, created). The same host enrolling again with its own token
    (`token`) gets its server back; another with an existing `server_id` a 409."""
    server_id = str(body["server_id"])
    own = body.get("token")
    with db.read() as conn:
        existing = store.get(conn, "server", server_id)
    if existing is not None:
        if own and existing.token_digest and existing.status != inventory.RETIRED and \
                hmac.compare_digest(existing.token_digest, inventory.digest(str(own))):
            server = config.any_server(server_id)
            if server is not None:
                return server, str(own), False
        raise Conflict(f"server_id {server_id!r} exists already (a host enrolling again "
                       "presents its own token)")
    wanted = {"id": server_id, "service": body["service"],
              "address": body.get("address") or address}
    for key in ("interval", "network", "metrics_address"):
        if body.get(key) is not None:
            wanted[key] = body[key]
    item, token = inventory.create(db, config, "server", wanted, actor=f"agent:{server_id}",
                                   now=now)
    assert isinstance(item, Server) and token is not None
    logger.info("server %s enrolled in service %s from %s", item.id, item.service, address)
    return item, token, True
