"""The live inventory (SPEC-2 §15): services, servers and clients in the database, managed
by the file or by the API, each change audited and announced by the version counter in its
own transaction (every process of a cluster reloads when it moves: inventory_holder.py).

Tokens are generated here (`secrets.token_urlsafe(32)`: 256 bits), returned once, and
stored only as their SHA-256 digest. An entry of the file is the file's: the API refuses to
change it (409); the file is loaded at start and on SIGHUP (`sync_file`), its removed
entries retired.
"""
from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
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
Key = tuple[str, str]  # (kind, id)
Order = tuple[int, int, dt.datetime, str]
_FAR = dt.datetime.max.replace(tzinfo=dt.UTC)


@dataclasses.dataclass(frozen=True)
class Current:
    """One version of the inventory: the configuration as the app and jobs read it; its
    entries in the configuration's order, each with what it reads as (a Service, a Server
    or a Client), so the next version is built from the changes alone (`advance`); and
    `moved`, the entries this version changed from the one it was advanced from (None
    when built whole), what the token table needs to follow it."""

    version: int
    config: Config
    entries: Mapping[Key, tuple[Entry, Item]] = dataclasses.field(default_factory=dict)
    moved: tuple[tuple[Entry | None, Entry], ...] | None = None
    keys: Sequence[Order] = ()  # each entry's place in the order, as `entries`'

    @property
    def digests(self) -> list[tuple[bytes, str, str]]:
        """(SHA-256, kind, id) of the tokens kept as digests, of entries not retired."""
        return [(bytes.fromhex(e.token_digest or ""), e.kind, e.id)
                for e, _ in self.entries.values() if _has_token(e)]


def _has_token(e: Entry) -> bool:
    return bool(e.token_digest) and e.status != RETIRED


def token_of(e: Entry | None) -> tuple[bytes, str, str] | None:
    """An entry's token as the token table keeps it (None: it has none that works)."""
    return (bytes.fromhex(e.token_digest or ""), e.kind, e.id) \
        if e is not None and _has_token(e) else None


def load(conn: Conn, file_config: Config, previous: Current | None = None) -> Current:
    """The inventory at the database's version: from `previous` and what changed since it
    when it can be (`advance`), else read whole."""
    version = store.version(conn)
    if previous is not None and previous.version >= 0:
        advanced = advance(previous, file_config, version,
                           store.changed_since(conn, previous.version))
        if advanced is not None:
            return advanced
    return build(file_config, version, store.entries(conn))


def _order(file_config: Config) -> Callable[[Entry], Order]:
    """The configuration's order: the file's entries in the file's order, then the API's by
    creation."""
    order = {("service", s.id): i for i, s in enumerate(file_config.services)}
    order.update({("server", s.id): i for i, s in enumerate(file_config.servers)})
    order.update({("client", c.id): i for i, c in enumerate(file_config.clients)})

    def key(e: Entry) -> Order:
        i = order.get((e.kind, e.id))
        return (0, i, _FAR, e.id) if i is not None else (1, 0, e.created_at or _FAR, e.id)
    return key


def _item(e: Entry) -> Item:
    if e.kind == "server":
        return fields.server_of(e.id, e.fields, e.status)
    if e.kind == "service":
        return fields.service_of(e.id, e.fields)
    return fields.client_of(e.id, e.fields)


def build(file_config: Config, version: int, rows: Sequence[Entry]) -> Current:
    """The file's settings with the database's inventory, every entry read."""
    key = _order(file_config)
    ordered = sorted(rows, key=key)
    return _assembled(file_config, version, {(e.kind, e.id): (e, _item(e)) for e in ordered},
                      None, [key(e) for e in ordered])


def advance(previous: Current, file_config: Config, version: int,
            changed: Sequence[Entry]) -> Current | None:
    """`previous` with the entries `changed` since it: only those read, the others kept
    as they were, a new one put in its place in the order (the API's usually last, by
    creation). None when an entry would move in the order (one the file takes over): then
    only a whole build will do."""
    if not changed and version == previous.version:
        return previous
    key = _order(file_config)
    entries, keys = dict(previous.entries), list(previous.keys)
    moved: list[tuple[Entry | None, Entry]] = []
    late: list[tuple[Order, Entry]] = []  # new, and sorting before the last
    for e in sorted(changed, key=key):
        k, old = key(e), entries.get((e.kind, e.id))
        if old is not None and key(old[0]) != k:
            return None
        if old is not None or not keys or k > keys[-1]:
            if old is None:
                keys.append(k)
            entries[(e.kind, e.id)] = (e, _item(e))
        else:
            late.append((k, e))
        moved.append((old[0] if old is not None else None, e))
    if late:  # each where it sorts: a list insert (a memmove), not a sort of the whole
        items = list(entries.items())
        for k, e in late:
            i = bisect.bisect(keys, k)
            keys.insert(i, k)
            items.insert(i, ((e.kind, e.id), (e, _item(e))))
        entries = dict(items)
    return _assembled(file_config, version, entries, tuple(moved), keys)


def _assembled(file_config: Config, version: int, entries: dict[Key, tuple[Entry, Item]],
               moved: tuple[tuple[Entry | None, Entry], ...] | None,
               keys: Sequence[Order]) -> Current:
    services: list[Service] = []
    servers: list[Server] = []
    unwatched: list[Server] = []
    clients: list[Client] = []
    for e, item in entries.values():
        if isinstance(item, Server):
            (servers if e.status == ACTIVE else unwatched).append(item)
        elif e.status == RETIRED:
            continue
        elif isinstance(item, Service):
            services.append(item)
        else:
            clients.append(item)
    config = dataclasses.replace(file_config, services=tuple(services), servers=tuple(servers),
                                 clients=tuple(clients), unwatched=tuple(unwatched))
    return Current(version, config, entries, moved, keys)


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
        # the processes of one collector start together, each syncing the same file: the
        # second one reads the entries once the first has committed (no row inserted twice)
        store.lock(conn)
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
        version = store.bump(conn)
        store.insert(conn, new, now, version)
        store.replace(conn, changed + gone, now, version)
        actor = f"file:{config.path}"[:100]
        audit.record_many(conn, [{"at": now, "actor": actor, "object": o, "action": a}
                                 for a, objects in (("created", done.added),
                                                    ("changed", done.changed),
                                                    ("retired", done.retired))
                                 for o in objects])
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
        store.insert(conn, [entry], now, store.bump(conn))
        audit.record(conn, at=now, actor=actor, object=f"{kind}:{item.id}", action="created",
                     changes=_changes({}, entry.fields))
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
            store.replace(conn, [dataclasses.replace(old, fields=new)], now, store.bump(conn))
            audit.record(conn, at=now, actor=actor, object=f"{kind}:{entry_id}",
                         action="changed", changes=diff)
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
        store.replace(conn, [dataclasses.replace(old, token_digest=digest(token))], now,
                      store.bump(conn))
        audit.record(conn, at=now, actor=actor, object=f"{kind}:{entry_id}",
                     action="token_rotated")
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
        store.replace(conn, [new], now, store.bump(conn))
        service_id = str(old.fields.get("service", ""))
        if old.status == ISOLATED:
            store.close_isolation(conn, server_id, now)
        if status == ISOLATED:
            store.open_isolation(conn, server_id=server_id, service_id=service_id, at=now,
                                 reason=reason or "", actor=actor)
        audit.record(conn, at=now, actor=actor, object=f"server:{server_id}", action=action,
                     changes={"status": [old.status, status]}, reason=reason)
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
