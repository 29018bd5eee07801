"""GET /api/v1/probes/targets and POST /api/v1/observations (SPEC-2 §10): a probe's door.

Probe tokens only (`[[probes]] token`, api/auth.py `ProbeCaller`). The body is bounded
(api/limits.py: 1 MiB; here at most MAX_OBSERVATIONS observations) and validated before
anything is stored: 422 naming the field (an observation dated more than 5 minutes ahead
of the collector's clock, or before evidence_retention_days), 403 for a server the probe
is not assigned (collector.services.observations.assigned). A batch sent twice is stored
once (its `batch_id`); 202 once committed.
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from collector.api.auth import ProbeCaller
from collector.api.bounds import Id, Moment
from collector.api.jsonbody import JSONRoute
from collector.api.responses import BODY, READER, answers
from collector.config import Config, Probe
from collector.domain.vantage import MAX_AHEAD, Observed
from collector.errors import Forbidden, Invalid
from collector.services import observations

router = APIRouter(prefix="/api/v1", tags=["probes"], route_class=JSONRoute)

MAX_OBSERVATIONS = 5000   # per batch; the probe splits larger cycles
Count = Annotated[StrictInt, Field(ge=0, le=1000)]


class TargetOut(BaseModel):
    server_id: str
    address: str
    ports: list[int]


class TargetsOut(BaseModel):
    probe_id: str
    location: str
    interval_hint: float
    targets: list[TargetOut]


class PingIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sent: Count
    received: Count
    rtt_avg_seconds: float | None = Field(default=None, ge=0, le=3600, allow_inf_nan=False)


class PortIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    port: StrictInt = Field(ge=1, le=65535)
    open: StrictBool


class ObservationIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    server_id: Id
    at: Moment
    ping: PingIn | None = None
    ports: list[PortIn] = Field(default_factory=list, max_length=16)

    def answered(self) -> bool | None:
        """Answered (ping or a port), failed, or None: nothing could be sent, which is
        no evidence at all (SPEC-2 §9)."""
        if self.ping is not None and self.ping.received > 0 or any(p.open for p in self.ports):
            return True
        if self.ping is not None and self.ping.sent > 0 or self.ports:
            return False
        return None


class ObservationsIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    probe_id: Id | None = None
    batch_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    sent_at: Moment
    interval: float = Field(gt=0, le=3600, allow_inf_nan=False)
    observations: list[ObservationIn] = Field(max_length=MAX_OBSERVATIONS)


class ObservationsOut(BaseModel):
    stored: int
    duplicates: int
    clock_skew_seconds: float
    clock_skewed: bool


def _probe(request: Request, principal: ProbeCaller) -> tuple[Config, Probe]:
    config: Config = request.app.state.config
    probe = config.probe(principal.probe_id or "")
    if probe is None:  # a token table older than the config: cannot happen in one app
        raise Forbidden("unknown probe")
    return config, probe


@router.get("/probes/targets", response_model=TargetsOut, responses=answers(*READER))
def get_targets(request: Request, principal: ProbeCaller) -> dict[str, Any]:
    """The servers this probe watches, and the TCP ports to open on each."""
    config, probe = _probe(request, principal)
    return {"probe_id": probe.id, "location": probe.location,
            "interval_hint": config.detection.check_every,
            "targets": [{"server_id": s.id, "address": s.address, "ports": list(probe.ports)}
                        for s in observations.targets(config, probe)]}


@router.post("/observations", status_code=202, response_model=ObservationsOut,
             responses=answers(*READER, *BODY))
def post_observations(body: ObservationsIn, request: Request,
                      principal: ProbeCaller) -> dict[str, Any]:
    config, probe = _probe(request, principal)
    now = dt.datetime.now(dt.UTC)
    if body.probe_id is not None and body.probe_id != probe.id:
        raise Forbidden(f"probe_id: this token is probe {probe.id!r} (got {body.probe_id!r})")
    ahead = now + dt.timedelta(seconds=MAX_AHEAD)
    oldest = now - dt.timedelta(days=config.evidence_retention_days)
    kept: list[Observed] = []
    for i, o in enumerate(body.observations):
        if not observations.assigned(config, probe, o.server_id):
            raise Forbidden(f"observations[{i}].server_id: {o.server_id!r} is not a "
                            f"target of probe {probe.id!r}")
        if o.at > ahead:
            raise Invalid(f"observations[{i}].at: more than 5 minutes ahead of the "
                          f"collector's clock (got {o.at.isoformat()})")
        if o.at < oldest:
            raise Invalid(f"observations[{i}].at: older than evidence_retention_days "
                          f"(got {o.at.isoformat()})")
        ok = o.answered()
        if ok is not None:
            kept.append(Observed(o.server_id, o.at.astimezone(dt.UTC), ok))
    batch = observations.Batch(body.batch_id, body.sent_at.astimezone(dt.UTC),
                               body.interval, kept)
    done = observations.receive(request.app.state.db, config, probe, batch, now)
    return {"stored": done.stored, "duplicates": done.duplicates,
            "clock_skew_seconds": round(done.skew_seconds, 3),
            "clock_skewed": done.skewed}
