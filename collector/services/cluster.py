"""The cluster's nodes as an operator sees them (SPEC-2 §11): each node's newest
heartbeat, and which one leads (`GET /api/v1/cluster`, `vigie_cluster_*` metrics)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from collector.config import Config
from collector.store import Conn, heartbeats
from collector.store.leadership import current_holder

# migration 0003's row standing for the history before heartbeats existed: not a node
HISTORY = "before-heartbeats"


@dataclass(frozen=True)
class Node:
    id: str
    leader: bool
    last_heartbeat_at: dt.datetime
    version: str
    address: str
    fresh: bool   # a heartbeat within 3 heartbeats: the node is running


def nodes(conn: Conn, config: Config, now: dt.datetime) -> list[Node]:
    """Every node that ever beat (by id). The leader is the lease's holder on PostgreSQL;
    on SQLite (one host) the node with the freshest heartbeat, if it is fresh."""
    gap = dt.timedelta(seconds=config.cluster.blind_gap)
    newest = [s for s in heartbeats.latest_per_node(conn) if s.node_id != HISTORY]
    holder = current_holder(conn)
    if conn.dialect.name == "postgresql":
        leader = holder.node_id if holder is not None else None
    else:
        live = [s for s in newest if now - s.last_at <= gap]
        leader = max(live, key=lambda s: s.last_at).node_id if live else None
    return [Node(s.node_id, s.node_id == leader, s.last_at, s.version, s.address,
                 now - s.last_at <= gap) for s in newest]
