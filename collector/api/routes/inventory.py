"""The live inventory (SPEC-2 §15): operators create and change services, servers and
clients, retire a server, rotate a token, isolate and reinstate a server (contract 4.1.2).
A body takes the keys of the entry's TOML table; a generated token is in the answer once
(`token`). An entry of the configuration file: 409. Handlers hold no logic:
collector.services.inventory does the work, audited, in one transaction."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict

from collector.api import presenter
from collector.api.auth import Operator, Principal
from collector.api.bounds import Id, Text
from collector.api.jsonbody import JSONRoute
from collector.api.responses import BODY, READER, answers
from collector.config import Client, Config, Server, Service
from collector.services import inventory as service
from collector.services.inventory_fields import bounded, to_fields

router = APIRouter(prefix="/api/v1", tags=["inventory"], route_class=JSONRoute)
Fields = Annotated[dict[str, Any], Body(description="the keys of the entry's TOML table")]
CHANGE = answers(*READER, *BODY, 404, 409)


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text = ""


def _refreshed(request: Request) -> Config:
    """This process sees its own change at once (the others within a second)."""
    request.app.state.inventory.refresh()
    config: Config = request.app.state.config
    return config


def _json(config: Config, kind: str, item: Service | Server | Client,
          token: str | None = None) -> dict[str, Any]:
    if isinstance(item, Server):
        server = config.any_server(item.id) or item
        out = presenter.server_json(config, server, server.status if server.status != "active"
                                    else None, None, None)
        out.update(to_fields(item))
        out["status"] = server.status if server.status != "active" else out["status"]
    else:
        out = {"id": item.id, **to_fields(item)}
    if token is not None:
        out["token"] = token  # SPEC-2 §15: returned once, stored only as a digest
    return out


def _create(kind: str, body: dict[str, Any], request: Request,
            principal: Principal) -> dict[str, Any]:
    bounded(body)
    item, token = service.create(request.app.state.db, request.app.state.config, kind, body,
                                 actor=principal.name, now=dt.datetime.now(dt.UTC))
    return _json(_refreshed(request), kind, item, token)


def _change(kind: str, entry_id: str, body: dict[str, Any], request: Request,
            principal: Principal) -> dict[str, Any]:
    bounded(body)
    item = service.change(request.app.state.db, request.app.state.config, kind, entry_id,
                          body, actor=principal.name, now=dt.datetime.now(dt.UTC))
    return _json(_refreshed(request), kind, item)


@router.post("/services", status_code=201, responses=answers(*READER, *BODY, 409))
def create_service(body: Fields, request: Request, principal: Operator) -> dict[str, Any]:
    return _create("service", body, request, principal)


@router.patch("/services/{service_id}", responses=CHANGE)
def change_service(service_id: Id, body: Fields, request: Request,
                   principal: Operator) -> dict[str, Any]:
    return _change("service", service_id, body, request, principal)


@router.post("/clients", status_code=201, responses=answers(*READER, *BODY, 409))
def create_client(body: Fields, request: Request, principal: Operator) -> dict[str, Any]:
    return _create("client", body, request, principal)


@router.patch("/clients/{client_id}", responses=CHANGE)
def change_client(client_id: Id, body: Fields, request: Request,
                  principal: Operator) -> dict[str, Any]:
    return _change("client", client_id, body, request, principal)


@router.post("/clients/{client_id}/rotate-token", responses=CHANGE)
def rotate_client_token(client_id: Id, request: Request,
                        principal: Operator) -> dict[str, Any]:
    return _rotate("client", client_id, request, principal)


@router.post("/servers", status_code=201, responses=answers(*READER, *BODY, 409))
def create_server(body: Fields, request: Request, principal: Operator) -> dict[str, Any]:
    return _create("server", body, request, principal)


@router.patch("/servers/{server_id}", responses=CHANGE)
def change_server(server_id: Id, body: Fields, request: Request,
                  principal: Operator) -> dict[str, Any]:
    return _change("server", server_id, body, request, principal)


@router.post("/servers/{server_id}/rotate-token", responses=CHANGE)
def rotate_server_token(server_id: Id, request: Request,
                        principal: Operator) -> dict[str, Any]:
    """A new token; the old one gets 401 from now on."""
    return _rotate("server", server_id, request, principal)


def _rotate(kind: str, entry_id: str, request: Request, principal: Principal
            ) -> dict[str, Any]:
    token = service.rotate_token(request.app.state.db, kind, entry_id,
                                 actor=principal.name, now=dt.datetime.now(dt.UTC))
    _refreshed(request)
    return {"id": entry_id, "token": token}


def _status(server_id: str, request: Request) -> dict[str, Any]:
    config = _refreshed(request)
    server = config.any_server(server_id)
    assert server is not None
    return _json(config, "server", server)


@router.post("/servers/{server_id}/retire", responses=CHANGE)
def retire_server(server_id: Id, request: Request, principal: Operator,
                  body: ReasonIn | None = None) -> dict[str, Any]:
    """Status `retired`: no longer watched, its token refused; history and SLA stay."""
    service.retire(request.app.state.db, server_id, actor=principal.name,
                   now=dt.datetime.now(dt.UTC), reason=(body.reason if body else "") or None)
    return _status(server_id, request)


@router.post("/servers/{server_id}/isolate", responses=CHANGE)
def isolate_server(server_id: Id, body: ReasonIn, request: Request,
                   principal: Operator) -> dict[str, Any]:
    """contract 4.1.2: status `isolated`, not watched; its time excluded from its service's
    SLA as the client's, listed with `reason` in the report."""
    service.isolate(request.app.state.db, server_id, body.reason, actor=principal.name,
                    now=dt.datetime.now(dt.UTC))
    return _status(server_id, request)


@router.post("/servers/{server_id}/reinstate", responses=CHANGE)
def reinstate_server(server_id: Id, request: Request, principal: Operator,
                     body: ReasonIn | None = None) -> dict[str, Any]:
    service.reinstate(request.app.state.db, server_id, (body.reason if body else "") or None,
                      actor=principal.name, now=dt.datetime.now(dt.UTC))
    return _status(server_id, request)
