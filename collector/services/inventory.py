"""The live inventory (SPEC-2 §15): services, servers and clients in the database, managed
by the file or by the API, each change audited and announced by the version counter in its
own transaction (every process of a cluster reloads when it moves: inventory_holder.py).

Tokens are generated here (`secrets.token_urlsafe(32)`: 256 bits), returned once, and
stored only as their SHA-256 digest. An entry of the file is the file's: the API refuses to
change it (409); the file is loaded at start and on SIGHUP (`sync_file`), its removed
entries retired.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from collector.config import Client, Config, Server, Service
from collector.errors import Conflict, Invalid, NotFound
from collector.services import inventory_fields as fields
from collector.store import Conn, Database, audit
from collector.store import inventory as store
from collector.store.inventory import Entry

logger = logging.getLogger(__name__)

FILE, API = "file", "api"
ACTIVE, ISOLATED, RETIRED = "active", "isolated", "retired"
Item = Service | Server | Client


def new_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits of randomness (issue 14: at least 128)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# -- what a process runs on ------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Current:
    """One version of the inventory: the configuration as the app and jobs read it, and the
    digests of the tokens of its servers and clients ((digest, kind, id))."""

    version: int
    config: Config
    digests: tuple[tuple[bytes, str, str], ...]


def load(conn: Conn, file_config: Config) -> Current:
    return build(file_config, store.version(conn), store.entries(conn))


def build(file_config: Config, version: int, rows: Sequence[Entry]) -> Current:
    """The file's settings with the database's inventory (the file's entries in its order,
    then the API's by creation)."""
    order = {("service", s.id): i for i, s in enumerate(file_config.services)}
    order.update({("server", s.id): i for i, s in enumerate(file_config.servers)})
    order.update({("client", c.id): i for i, c in enumerate(file_config.clients)})
    far = dt.datetime.max.replace(tzinfo=dt.UTC)

    def key(e: Entry) -> tuple[int, int, dt.datetime, str]:
        i = order.get((e.kind, e.id))
        return (0, i, far, e.id) if i is not None else (1, 0, e.created_at or far, e.id)

    services, servers, unwatched, clients = [], [], [], []
    digests: list[tuple[bytes, str, str]] = []
    for e in sorted(rows, key=key):
        if e.kind == "server":
            server = fields.server_of(e.id, e.fields, e.status)
            (servers if e.status == ACTIVE else unwatched).append(server)
        elif e.status == RETIRED:
            continue
        elif e.kind == "service":
            services.append(fields.service_of(e.id, e.fields))
        else:
            clients.append(fields.client_of(e.id, e.fields))
        if e.token_digest and e.status != RETIRED:
            digests.append((bytes.fromhex(e.token_digest), e.kind, e.id))
    config = dataclasses.replace(file_config, services=tuple(services), servers=tuple(servers),
                                 clients=tuple(clients), unwatched=tuple(unwatched))
    return Current(version, config, tuple(digests))


# -- the file -----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Synced:
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    retired: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.retired)

    def line(self) -> str:
        return (f"{len(self.added)} added, {len(self.changed)} changed, "
                f"{len(self.retired)} retired")


def _file_entries(config: Config) -> dict[tuple[str, str], Entry]:
    wanted: dict[tuple[str, str], Entry] = {}
    items: Iterable[tuple[str, Item]] = [
        *(("service", s) for s in config.services), *(("server", s) for s in config.servers),
        *(("client", c) for c in config.clients)]
    for kind, item in items:
        token = getattr(item, "token", None)
        shown = token.reveal() if token is not None else ""
        wanted[(kind, item.id)] = Entry(kind, item.id, FILE, fields.to_fields(item),
                                        digest(shown) if shown else None)
    return wanted


def sync_file(db: Database, config: Config, now: dt.datetime) -> Synced:
    """The file's entries into the database, marked as the file's; the file's entries it
    no longer has retired; an isolated server stays isolated. One transaction."""
    wanted = _file_entries(config)
    with db.write() as conn:
        have = {(e.kind, e.id): e for e in store.entries(conn)}
        new = [e for key, e in wanted.items() if key not in have]
        changed: list[Entry] = []
        for key, e in wanted.items():
            old = have.get(key)
            if old is None:
                continue
            status = ISOLATED if old.status == ISOLATED else ACTIVE
            if (old.managed_by, old.fields, old.token_digest, old.status) != (
                    FILE, e.fields, e.token_digest, status):
                if old.managed_by != FILE:
                    logger.warning("%s %s: now managed by the file (it was the API's)",
                                   e.kind, e.id)
                changed.append(dataclasses.replace(e, status=status, reason=old.reason,
                                                   created_at=old.created_at))
        gone = [dataclasses.replace(old, status=RETIRED, reason="removed from the file")
                for key, old in have.items()
                if old.managed_by == FILE and key not in wanted and old.status != RETIRED]
        done = Synced(tuple(f"{e.kind}:{e.id}" for e in new),
                      tuple(f"{e.kind}:{e.id}" for e in changed),
                      tuple(f"{e.kind}:{e.id}" for e in gone))
        if not done:
            return done
        store.insert(conn, new, now)
        store.replace(conn, changed + gone, now)
        actor = f"file:{config.path}"[:100]
        audit.record_many(conn, [{"at": now, "actor": actor, "object": o, "action": a}
                                 for a, objects in (("created", done.added),
                                                    ("changed", done.changed),
                                                    ("retired", done.retired))
                                 for o in objects])
        store.bump(conn)
    return done


# -- the API's changes -------------------------------------------------------------------------
def _owned(conn: Conn, kind: str, entry_id: str) -> Entry:
    """The entry, locked; 404 if none, 409 if the file manages it."""
    entry = store.get(conn, kind, entry_id, lock=True)
    if entry is None:
        raise NotFound(f"{kind} {entry_id!r} not found")
    if entry.managed_by == FILE:
        raise Conflict(f"{kind} {entry_id!r} is managed by the configuration file: change "
                       "it there and reload (SIGHUP)")
    return entry


def _check_links(conn: Conn, item: Item) -> None:
    """A server's service and a service's client must exist (and not be retired)."""
    if isinstance(item, Server):
        found = store.get(conn, "service", item.service)
        if found is None or found.status == RETIRED:
            raise Invalid(f"service: no such service (got {item.service!r})")
    if isinstance(item, Service) and item.client:
        found = store.get(conn, "client", item.client)
        if (found is None or found.status == RETIRED) and store.entries(conn, "client"):
            raise Invalid(f"client: no such client (got {item.client!r})")


def _read(kind: str, body: Mapping[str, Any], config: Config) -> Item:
    if kind == "service":
        return fields.read_service(body, config.timezone)
    if kind == "server":
        return fields.read_server(body)
    return fields.read_client(body)


def _changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, list[Any]]:
    return {k: [old.get(k), v] for k, v in new.items() if old.get(k) != v}


def create(db: Database, config: Config, kind: str, body: Mapping[str, Any], *, actor: str,
           now: dt.datetime) -> tuple[Item, str | None]:
    """A new entry managed by the API, and its token (servers with an agent, clients),
    returned this once."""
    item = _read(kind, body, config)
    token = new_token() if kind == "client" or (isinstance(item, Server) and item.agent) \
        else None
    entry = Entry(kind, item.id, API, fields.to_fields(item), digest(token) if token else None)
    with db.write() as conn:
        if store.get(conn, kind, item.id, lock=True) is not None:
            raise Conflict(f"{kind} {item.id!r} exists already")
        _check_links(conn, item)
        store.insert(conn, [entry], now)
        audit.record(conn, at=now, actor=actor, object=f"{kind}:{item.id}", action="created",
                     changes=_changes({}, entry.fields))
        store.bump(conn)
    return item, token


def change(db: Database, config: Config, kind: str, entry_id: str, body: Mapping[str, Any],
           *, actor: str, now: dt.datetime) -> Item:
    with db.write() as conn:
        old = _owned(conn, kind, entry_id)
        if old.status == RETIRED:
            raise Conflict(f"{kind} {entry_id!r} is retired")
        item = _read(kind, fields.merged(kind, entry_id, old.fields, body), config)
        _check_links(conn, item)
        new = fields.to_fields(item)
        diff = _changes(old.fields, new)
        if diff:
            store.replace(conn, [dataclasses.replace(old, fields=new)], now)
            audit.record(conn, at=now, actor=actor, object=f"{kind}:{entry_id}",
                         action="changed", changes=diff)
            store.bump(conn)
    return item


def rotate_token(db: Database, kind: str, entry_id: str, *, actor: str,
                 now: dt.datetime) -> str:
    """A new token; the old one is refused from the next request on (SPEC-2 §15)."""
    token = new_token()
    with db.write() as conn:
        old = _owned(conn, kind, entry_id)
        if old.status == RETIRED:
            raise Conflict(f"{kind} {entry_id!r} is retired")
        if kind == "server" and not old.fields.get("agent", True):
            raise Conflict(f"server {entry_id!r} has no agent, hence no token")
        store.replace(conn, [dataclasses.replace(old, token_digest=digest(token))], now)
        audit.record(conn, at=now, actor=actor, object=f"{kind}:{entry_id}",
                     action="token_rotated")
        store.bump(conn)
    return token


def _server_status(db: Database, server_id: str, status: str, *, actor: str,
                   now: dt.datetime, reason: str | None, action: str,
                   allowed: tuple[str, ...], file_ok: bool) -> Entry:
    with db.write() as conn:
        old = store.get(conn, "server", server_id, lock=True)
        if old is None:
            raise NotFound(f"server {server_id!r} not found")
        if old.managed_by == FILE and not file_ok:
            _owned(conn, "server", server_id)  # raises the 409
        if old.status not in allowed:
            raise Conflict(f"server {server_id!r} is {old.status}")
        new = dataclasses.replace(old, status=status, reason=reason)
        store.replace(conn, [new], now)
        service_id = str(old.fields.get("service", ""))
        if old.status == ISOLATED:
            store.close_isolation(conn, server_id, now)
        if status == ISOLATED:
            store.open_isolation(conn, server_id=server_id, service_id=service_id, at=now,
                                 reason=reason or "", actor=actor)
        audit.record(conn, at=now, actor=actor, object=f"server:{server_id}", action=action,
                     changes={"status": [old.status, status]}, reason=reason)
        store.bump(conn)
    return new


def retire(db: Database, server_id: str, *, actor: str, now: dt.datetime,
           reason: str | None = None) -> Entry:
    """Not watched any more, its token refused; its history and SLA stay."""
    return _server_status(db, server_id, RETIRED, actor=actor, now=now, reason=reason,
                          action="retired", allowed=(ACTIVE, ISOLATED), file_ok=False)


def isolate(db: Database, server_id: str, reason: str, *, actor: str,
            now: dt.datetime) -> Entry:
    """contract 4.1.2: not watched; its time excluded from its service's SLA as the
    client's. A file's server may be isolated too: isolation is not inventory."""
    if not reason.strip():
        raise Invalid("reason: missing (contract 4.1.2: an isolation says why)")
    return _server_status(db, server_id, ISOLATED, actor=actor, now=now, reason=reason,
                          action="isolated", allowed=(ACTIVE,), file_ok=True)


def reinstate(db: Database, server_id: str, reason: str | None, *, actor: str,
              now: dt.datetime) -> Entry:
    return _server_status(db, server_id, ACTIVE, actor=actor, now=now, reason=reason,
                          action="reinstated", allowed=(ISOLATED,), file_ok=True)


def entry(db: Database, kind: str, entry_id: str) -> Entry | None:
    with db.read() as conn:
        return store.get(conn, kind, entry_id)


def reload_file(db: Database, path: str) -> Synced | None:
    """SIGHUP: the file checked as `check` does; a bad one refused with its messages (the
    running inventory kept), a good one's inventory loaded (None: refused)."""
    from collector.config import load
    from collector.errors import ConfigError
    from collector.store import DatabaseError

    try:
        config = load(path)
    except ConfigError as exc:
        for line in exc.lines():
            logger.error("SIGHUP: %s", line)
        logger.error("SIGHUP: %s refused: the running inventory is kept", path)
        return None
    try:
        done = sync_file(db, config, dt.datetime.now(dt.UTC))
    except DatabaseError as exc:
        logger.error("SIGHUP: %s not loaded: database %s", path, type(exc).__name__)
        return None
    logger.info("SIGHUP: %s reloaded: %s (settings other than the inventory need a "
                "restart)", path, done.line())
    return done
