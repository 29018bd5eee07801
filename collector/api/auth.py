"""Bearer token -> Principal, in one dependency (SPEC §5, SPEC-2 §12: operators with a role,
clients, agents, integration tokens).

A presented token is looked up by its SHA-256 digest in a dict built once per app, then
the digests are compared with `hmac.compare_digest`: O(1) per request whatever the number
of servers. The lookup's timing can only depend on the digest of the guess, which tells an
attacker nothing about any configured token (finding a token from its digest's prefix is a
preimage search). Outside a client's scope the API answers 404, never 403, so
a client learns nothing about other clients' services; a role too low is a 403.

Who may do what (SPEC-2 §12, docs/people.md):
- `Reader`: every operator role (`viewer` reads everything) and clients (their scope);
- `Operator`: role `operator` or `admin` (incidents, maintenances, the inventory);
- `Admin`: role `admin` (deliveries, the audit log, the cluster, statements);
- `AlertmanagerSender`: the `alertmanager_token`, or an operator (recording incidents);
- `TargetsReader`: the `prometheus_token`, or any operator role (a read).
An integration token does nothing else, and an agent token only posts its reports.
"""
from __future__ import annotations

import copy
import hashlib
import hmac
import logging
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import Scope

from collector.api import tls
from collector.config import ADMIN_OPERATOR, Config, Role
from collector.errors import Forbidden, NotFound, Unauthorized

logger = logging.getLogger(__name__)


class PrincipalKind(StrEnum):
    OPERATOR = "operator"          # a person of the provider; what they may do is `role`
    CLIENT = "client"
    AGENT = "agent"
    INTEGRATION = "integration"    # Alertmanager or Prometheus: one endpoint each
    PROBE = "probe"                # SPEC-2 §10: reads its targets, posts observations
    # the name before roles existed, kept for code that still says "admin" for "sees
    # every service": any operator role does
    ADMIN = "operator"


class Integration(StrEnum):
    ALERTMANAGER = "alertmanager"
    PROMETHEUS = "prometheus"


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    # the actor of timelines and audit rows (SPEC-2 §12): "operator:alice", "client:acme",
    # "agent:web-01", "alertmanager", "prometheus"
    name: str
    client_id: str | None = None
    server_id: str | None = None
    role: Role | None = None                 # operators only
    integration: Integration | None = None   # integration tokens only
    probe_id: str | None = None              # probe tokens only (SPEC-2 §10)

    @property
    def sees_everything(self) -> bool:
        """Operators of every role see every service (viewer included: it reads all)."""
        return self.kind is PrincipalKind.OPERATOR

    def has_role(self, needed: Role) -> bool:
        return self.role is not None and self.role.allows(needed)

    def can_see_service(self, config: Config, service_id: str) -> bool:
        if self.sees_everything:
            return config.service(service_id) is not None
        if self.kind is PrincipalKind.CLIENT:
            service = config.service(service_id)
            return service is not None and service.client == self.client_id
        return False

    def can_see_server(self, config: Config, server_id: str) -> bool:
        server = config.any_server(server_id)  # an isolated or retired one too (SPEC-2 §15)
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


def operator(operator_id: str, role: Role) -> Principal:
    return Principal(PrincipalKind.OPERATOR, f"operator:{operator_id}", role=role)


class TokenTable:
    """Digest of every configured token -> its Principal, built once per app; and whether
    agents must present a client certificate (`[tls] client_ca_file`)."""

    def __init__(self, config: Config,
                 digests: Iterable[tuple[bytes, str, str]] = ()) -> None:
        """`digests`: (SHA-256, "server" | "client", id) of the tokens the inventory keeps
        only as digests (SPEC-2 §15, collector.services.inventory)."""
        entries: list[tuple[str, Principal]] = []
        if config.admin_token.reveal():  # SPEC-2 §12: the operator `admin`, role admin
            entries.append((config.admin_token.reveal(), operator(ADMIN_OPERATOR, Role.ADMIN)))
        entries += [(o.token.reveal(), operator(o.id, o.role)) for o in config.operators]
        for kind in Integration:
            secret = getattr(config.integrations, f"{kind.value}_token")
            if secret is not None:
                entries.append((secret.reveal(), Principal(
                    PrincipalKind.INTEGRATION, kind.value, integration=kind)))
        entries += [(c.token.reveal(), Principal(PrincipalKind.CLIENT, f"client:{c.id}",
                                                 client_id=c.id)) for c in config.clients]
        entries += [(s.token.reveal(), Principal(PrincipalKind.AGENT, f"agent:{s.id}",
                                                 server_id=s.id))
                    for s in config.servers if s.token is not None]
        entries += [(p.token.reveal(), Principal(PrincipalKind.PROBE, f"probe:{p.id}",
                                                 probe_id=p.id))
                    for p in getattr(config, "probes", ())]
        # a token configured twice keeps its first owner (config validation reports it)
        self._by_digest: dict[bytes, tuple[bytes, Principal]] = {}
        for token, principal in entries:
            if token:
                digest = _digest(token)
                self._by_digest.setdefault(digest, (digest, principal))
        for digest, entry_kind, entry_id in digests:
            self._by_digest.setdefault(digest, (digest, _inventory_principal(entry_kind,
                                                                             entry_id)))
        self.agent_certificates = bool(config.tls is not None and config.tls.client_ca_file)

    def followed(self, moved: Iterable[tuple[tuple[bytes, str, str] | None,
                                             tuple[bytes, str, str] | None]]) -> TokenTable:
        """A copy with the inventory's tokens that moved: (old, new) per entry changed,
        each (digest, kind, id) or None (it had none, it has none now)."""
        table = copy.copy(self)
        table._by_digest = dict(self._by_digest)
        for old, new in moved:
            if old is not None and old != new:
                found = table._by_digest.get(old[0])
                if found is not None and found[1] == _inventory_principal(old[1], old[2]):
                    del table._by_digest[old[0]]
            if new is not None:
                table._by_digest.setdefault(
                    new[0], (new[0], _inventory_principal(new[1], new[2])))
        return table

    def lookup(self, token: str) -> Principal | None:
        presented = _digest(token)
        found = self._by_digest.get(presented)
        if found is None or not hmac.compare_digest(presented, found[0]):
            return None
        return found[1]


def _inventory_principal(kind: str, entry_id: str) -> Principal:
    if kind == "server":
        return Principal(PrincipalKind.AGENT, f"agent:{entry_id}", server_id=entry_id)
    return Principal(PrincipalKind.CLIENT, f"client:{entry_id}", client_id=entry_id)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


_bearer = HTTPBearer(auto_error=False,
                     description="operator, client, agent or integration token")


async def authenticate(request: Request, credentials: Annotated[
        HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing bearer token")
    principal = await lookup(request.app.state, credentials.credentials)
    if principal is None:
        raise Unauthorized("invalid token")
    return principal


async def lookup(state: Any, token: str) -> Principal | None:
    """The token's principal. A token this process does not know may be one just made on
    another process or node (a server created, a token rotated, a file reloaded): the
    inventory's version is looked at once before the token is refused, so it works at once
    everywhere, not only after the next periodic look (services/inventory_holder.py)."""
    principal: Principal | None = state.tokens.lookup(token)
    holder = getattr(state, "inventory", None)
    if principal is None and holder is not None \
            and await anyio.to_thread.run_sync(holder.recheck):
        principal = state.tokens.lookup(token)
    return principal


async def require_reader(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    if principal.kind is PrincipalKind.AGENT:
        raise Forbidden("an agent token may only post reports")
    if principal.kind is PrincipalKind.INTEGRATION:
        raise Forbidden(f"the {principal.name} token may only {_ONLY[principal.name]}")
    if principal.kind is PrincipalKind.PROBE:
        raise Forbidden("a probe token may only read its targets and post observations")
    return principal


async def require_probe(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    """SPEC-2 §10: GET /probes/targets and POST /observations take probe tokens only."""
    if principal.kind is not PrincipalKind.PROBE:
        raise Forbidden("this endpoint takes a probe token only")
    return principal


_ONLY = {"alertmanager": "post to /api/v1/alertmanager",
         "prometheus": "read /api/v1/prometheus/targets"}


def _role_needed(role: Role, what: str
                 ) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    async def require(principal: Annotated[Principal, Depends(require_reader)]) -> Principal:
        if not principal.has_role(role):
            raise Forbidden(f"{what} needs an operator of role {role.value} or above")
        return principal
    return require


def _integration_or(kind: Integration, role: Role
                    ) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    async def require(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if principal.integration is kind or principal.has_role(role):
            return principal
        if principal.kind is PrincipalKind.INTEGRATION:
            raise Forbidden(f"the {principal.name} token may only {_ONLY[principal.name]}")
        raise Forbidden(f"this endpoint needs the {kind.value} token or an operator of "
                        f"role {role.value} or above")
    return require


async def agent_principal(state: Any, authorization: bytes | None,
                          scope: Scope) -> Principal:
    """The agent behind a raw `Authorization` header value (the reports route reads the
    header itself, without FastAPI's dependencies: it is the hottest route). With
    `[tls] client_ca_file`, its TLS client certificate must name its server (SPEC-2 §12)."""
    scheme, _, token = (authorization or b"").decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token")
    principal = await lookup(state, token.strip())
    if principal is None:
        raise Unauthorized("invalid token")
    if principal.kind is not PrincipalKind.AGENT:
        raise Forbidden("reports are accepted from agent tokens only")
    if state.tokens.agent_certificates:
        tls.check_client_certificate(scope, principal.server_id or "")
    return principal


# Handler parameter types: `principal: Admin` is an admin, or the request was refused.
Reader = Annotated[Principal, Depends(require_reader)]
Operator = Annotated[Principal, Depends(_role_needed(Role.OPERATOR, "this change"))]
Admin = Annotated[Principal, Depends(_role_needed(Role.ADMIN, "this endpoint"))]
AlertmanagerSender = Annotated[Principal, Depends(_integration_or(Integration.ALERTMANAGER,
                                                                  Role.OPERATOR))]
ProbeCaller = Annotated[Principal, Depends(require_probe)]
TargetsReader = Annotated[Principal, Depends(_integration_or(Integration.PROMETHEUS,
                                                             Role.VIEWER))]
