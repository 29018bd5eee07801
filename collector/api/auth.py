"""Bearer token -> Principal, in one dependency (SPEC §5: admin, client, agent).

A presented token is looked up by its SHA-256 digest in a dict built once per app, then
the digests are compared with `hmac.compare_digest`: O(1) per request whatever the number
of servers. The lookup's timing can only depend on the digest of the guess, which tells an
attacker nothing about any configured token (finding a token from its digest's prefix is a
preimage search). Outside a client's scope the API answers 404, never 403, so
a client learns nothing about other clients' services.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from collector.config import Config
from collector.errors import Forbidden, NotFound, Unauthorized

logger = logging.getLogger(__name__)


class PrincipalKind(StrEnum):
    ADMIN = "admin"
    CLIENT = "client"
    AGENT = "agent"


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    name: str                      # actor in incident timelines: "admin", "client:acme" ...
    client_id: str | None = None
    server_id: str | None = None

    def can_see_service(self, config: Config, service_id: str) -> bool:
        if self.kind is PrincipalKind.ADMIN:
            return config.service(service_id) is not None
        if self.kind is PrincipalKind.CLIENT:
            service = config.service(service_id)
            return service is not None and service.client == self.client_id
        return False

    def can_see_server(self, config: Config, server_id: str) -> bool:
        server = config.server(server_id)
        return server is not None and self.can_see_service(config, server.service)

    def visible_services(self, config: Config) -> list[str]:
        return [s.id for s in config.services if self.can_see_service(config, s.id)]

    def check_service(self, config: Config, service_id: str) -> None:
        """404 for a service that does not exist or that this principal may not see."""
        if not self.can_see_service(config, service_id):
            raise NotFound(f"service {service_id!r} not found")

    def check_server(self, config: Config, server_id: str) -> None:
        if not self.can_see_server(config, server_id):
            raise NotFound(f"server {server_id!r} not found")


class TokenTable:
    """Digest of every configured token -> its Principal, built once per app."""

    def __init__(self, config: Config) -> None:
        entries: list[tuple[bytes, Principal]] = []
        if config.admin_token.reveal():
            entries.append((_digest(config.admin_token.reveal()),
                            Principal(PrincipalKind.ADMIN, "admin")))
        for client in config.clients:
            if client.token.reveal():
                entries.append((_digest(client.token.reveal()),
                                Principal(PrincipalKind.CLIENT, f"client:{client.id}",
                                          client_id=client.id)))
        for server in config.servers:
            if server.token is not None and server.token.reveal():
                entries.append((_digest(server.token.reveal()),
                                Principal(PrincipalKind.AGENT, f"agent:{server.id}",
                                          server_id=server.id)))
        # a token configured twice keeps its first owner (config validation reports it)
        self._by_digest: dict[bytes, tuple[bytes, Principal]] = {}
        for digest, principal in entries:
            self._by_digest.setdefault(digest, (digest, principal))

    def lookup(self, token: str) -> Principal | None:
        presented = _digest(token)
        found = self._by_digest.get(presented)
        if found is None or not hmac.compare_digest(presented, found[0]):
            return None
        return found[1]


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


_bearer = HTTPBearer(auto_error=False, description="admin, client or agent token")


async def authenticate(request: Request, credentials: Annotated[
        HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing bearer token")
    tokens: TokenTable = request.app.state.tokens
    principal = tokens.lookup(credentials.credentials)
    if principal is None:
        raise Unauthorized("invalid token")
    return principal


async def require_admin(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    if principal.kind is not PrincipalKind.ADMIN:
        raise Forbidden("this endpoint needs the admin token")
    return principal


async def require_reader(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    if principal.kind is PrincipalKind.AGENT:
        raise Forbidden("an agent token may only post reports")
    return principal


def agent_principal(tokens: TokenTable, authorization: bytes | None) -> Principal:
    """The agent behind a raw `Authorization` header value (the reports route reads the
    header itself, without FastAPI's dependencies: it is the hottest route)."""
    scheme, _, token = (authorization or b"").decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token")
    principal = tokens.lookup(token.strip())
    if principal is None:
        raise Unauthorized("invalid token")
    if principal.kind is not PrincipalKind.AGENT:
        raise Forbidden("reports are accepted from agent tokens only")
    return principal


# Handler parameter types: `principal: Admin` is the admin, or the request was refused.
Admin = Annotated[Principal, Depends(require_admin)]
Reader = Annotated[Principal, Depends(require_reader)]
