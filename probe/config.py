"""The probe's TOML (SPEC-2 §10): `probe_id`, `interval` (default 5), `[collector] url` or
`urls`, `token` or `token_file`, `[spool] path`, `max_bytes`; parsed once into frozen
dataclasses, every problem listed (the agent's reader, agent.tomlconf)."""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import Any

from agent import tomlfile
from agent.config import COLLECTOR_KEYS, SPOOL_KEYS, CollectorConfig, _collector_urls
from agent.errors import ConfigError
from agent.secret import Secret
from agent.tomlconf import (
    Key,
    Problem,
    Table,
    all_of,
    at_most,
    non_empty,
    positive,
    private_file_problem,
)

DEFAULT_SPOOL = "/var/lib/vigie-probe/spool"
DEFAULT_SPOOL_BYTES = 52_428_800


@dataclass(frozen=True)
class ProbeSpool:
    path: str = DEFAULT_SPOOL
    max_bytes: int = DEFAULT_SPOOL_BYTES


@dataclass(frozen=True)
class ProbeConfig:
    path: str
    probe_id: str
    collector: CollectorConfig
    interval: float = 5.0
    spool: ProbeSpool = field(default_factory=ProbeSpool)
    ping_timeout: float = 1.0     # seconds an echo reply is waited for
    port_timeout: float = 1.0     # seconds a TCP connect is waited for


TOP_KEYS = (
    Key("probe_id", str, check=non_empty),
    Key("interval", float, 5.0, all_of(positive, at_most(3600.0))),
    Key("ping_timeout", float, 1.0, all_of(positive, at_most(10.0))),
    Key("port_timeout", float, 1.0, all_of(positive, at_most(10.0))),
)


def load_config(path: str) -> ProbeConfig:
    try:
        with open(path, "rb") as fh:
            mode = stat.S_IMODE(os.fstat(fh.fileno()).st_mode)
            raw = tomlfile.load(fh)
    except FileNotFoundError:
        raise ConfigError.one(path, "config", "file not found") from None
    except OSError as exc:
        raise ConfigError.one(path, "config", f"cannot read ({exc.strerror})") from None
    except tomlfile.ERRORS as exc:
        raise ConfigError.one(path, "config", f"not valid TOML ({exc})") from None
    return parse_config(raw, path, mode=mode)


def parse_config(raw: dict[str, Any], path: str, *, mode: int | None = None) -> ProbeConfig:
    problems: list[Problem] = []
    top = Table(raw, "", problems)
    values = top.values(TOP_KEYS, probe_id="")
    if not values.get("probe_id"):
        top.problem("probe_id", "missing (the id of this probe in the collector's "
                    "[[probes]])")
    collector = top.table("collector", required=True)
    collector_config = CollectorConfig(urls=_collector_urls(collector),
                                       **collector.values(COLLECTOR_KEYS, CollectorConfig),
                                       token=collector.secret("token") or Secret(""))
    spool = top.table("spool")
    spool_config = ProbeSpool(**spool.values(SPOOL_KEYS, ProbeSpool))
    for table in (collector, spool, top):
        table.finish()
    exposed = private_file_problem(path, mode, top.inline_secrets) if mode is not None else None
    if exposed:
        problems.insert(0, exposed)
    if problems:
        raise ConfigError(path, problems)
    return ProbeConfig(path=path, collector=collector_config, spool=spool_config, **values)
