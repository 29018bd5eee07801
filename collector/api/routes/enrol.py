"""POST /api/v1/enrol (SPEC-2 §15): an agent with the `[enrolment] token` creates its
server and receives its own token, once (201); the same host again with its own token
gets its server back (200)."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from collector.api import presenter
from collector.api.bounds import Id, Text
from collector.api.jsonbody import JSONRoute
from collector.api.responses import BODY, answers
from collector.config import Config
from collector.errors import Unauthorized
from collector.services import enrol as service

router = APIRouter(prefix="/api/v1", tags=["enrolment"], route_class=JSONRoute)
_bearer = HTTPBearer(auto_error=False, description="the [enrolment] token")


class EnrolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    server_id: Id
    service: Id = Field(description="the agent's `enrol_service`")
    address: Annotated[str, Field(max_length=253, pattern=r"^[^\s\x00]*$")] = ""
    interval: Annotated[float, Field(gt=0, le=3600)] | None = None
    network: Annotated[str, Field(max_length=64)] | None = None
    token: Annotated[str, Field(min_length=16, max_length=256)] | None = Field(
        default=None, description="its own token, when a host enrols again")
    facts: dict[Annotated[str, Field(max_length=64)], Text] = Field(
        default_factory=dict, max_length=32, description="host facts (os, kernel, ...)")


def enrolment_token(request: Request, credentials: Annotated[
        HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """The `[enrolment] token`, checked before the body is read (a 401 comes first, as on
    every other route)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing bearer token (the [enrolment] token)")
    service.check_token(request.app.state.config, credentials.credentials)


@router.post("/enrol", status_code=201, responses=answers(401, 403, 409, 429, *BODY),
             dependencies=[Depends(enrolment_token)])
def enrol(body: EnrolIn, request: Request, response: Response) -> dict[str, Any]:
    config: Config = request.app.state.config
    peer = request.client.host if request.client else ""
    server, token, created = service.enrol(
        request.app.state.db, config, body.model_dump(exclude_none=True),
        address=body.address or peer, now=dt.datetime.now(dt.UTC))
    request.app.state.inventory.refresh()
    if not created:
        response.status_code = 200
    out = presenter.server_json(request.app.state.config, server, None, None, None)
    return {**out, "address": server.address, "token": token}
