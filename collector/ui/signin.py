"""Sign-in and sign-out (SPEC-2 §13): a form whose field `token` takes an operator's or a
client's token; the session is the signed cookie of collector.ui.session.

Bad tokens count in the same per-address throttle as the API's (SPEC-2 §12): 20 failures a
minute and the address gets 429 pages for a while, whatever it types next.
"""
from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from collector.api.auth import PrincipalKind, lookup
from collector.api.throttle import AuthThrottle, source
from collector.errors import Forbidden
from collector.ui.session import COOKIE, LIFETIME, LOGIN_COOKIE, Sessions, new_nonce
from collector.ui.web import PageRoute, read_form, render, same_origin, secure

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)


def _form(request: Request, error: str = "", status: int = 200) -> Response:
    sessions: Sessions = request.app.state.ui_sessions
    nonce = new_nonce()
    response = render(request, "login.html", {"csrf": sessions.csrf(nonce, "login"),
                                              "error": error, "viewer": None}, status=status)
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, path="/ui", httponly=True,
                        samesite="strict", secure=secure(request))
    return response


@router.get("/login")
async def login_form(request: Request) -> Response:
    return _form(request)


@router.post("/login")
async def login(request: Request) -> Response:
    same_origin(request)
    throttle: AuthThrottle = request.app.state.auth_throttle
    address = source(request.scope)
    wait = throttle.retry_after(address)
    if wait is not None:
        return render(request, "error.html", {"title": "Too many attempts", "message":
                      f"Too many bad tokens from this address: try again in {wait} s."},
                      status=429, headers={"Retry-After": str(wait)})
    form = await read_form(request)
    sessions: Sessions = request.app.state.ui_sessions
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if not nonce or not sessions.csrf_ok(nonce, form.get("csrf"), "login"):
        raise Forbidden("the form's CSRF token is missing or not this browser's")
    principal = await lookup(request.app.state, form.get("token", "").strip())
    if principal is None or principal.kind not in (PrincipalKind.OPERATOR,
                                                   PrincipalKind.CLIENT):
        throttle.failed(address)  # and vigie_auth_failures_total
        return _form(request, "This token opens no page: an operator's or a client's token "
                     "is needed.", status=401)
    cookie, _ = sessions.issue(principal.name)
    logger.info("%s signed in to the pages", principal.name)
    response = RedirectResponse("/ui/", status_code=303)
    response.set_cookie(COOKIE, cookie, max_age=LIFETIME, path="/", httponly=True,
                        samesite="strict", secure=secure(request))
    response.delete_cookie(LOGIN_COOKIE, path="/ui")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    # no CSRF needed to end one's own session; SameSite=Strict keeps other sites out anyway
    same_origin(request)
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict",
                           secure=secure(request))
    return response
