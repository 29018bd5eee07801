"""What every page shares: the templates, the security headers, the signed-in person, the
forms (parsed with bounds, CSRF checked) and refusals answered as pages.

A page route raises the collector's errors as the API does (NotFound, Forbidden, Invalid,
Conflict); `PageRoute` answers them with an HTML page of the same status (a client asking
for another client's incident gets the 404 page, SPEC-2 §13), and `SignInNeeded` with a
redirect to the sign-in form.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.responses import HTMLResponse, RedirectResponse, Response

from collector.api.auth import Principal, PrincipalKind
from collector.api.errors import describe
from collector.config import Config, Role
from collector.domain.sla.periods import PeriodError
from collector.errors import Conflict, Forbidden, Invalid, NotFound
from collector.ui.session import COOKIE, Session, Sessions

# no inline script or style anywhere (SPEC-2 §13): everything comes from /ui/static
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"}
MAX_FIELDS = 40
MAX_FIELD = 2000  # characters of one field (the API's texts are at most 1,000)


class SignInNeeded(Exception):
    """No valid session: the page answers a redirect to /ui/login."""


@dataclass(frozen=True)
class Viewer:
    """The signed-in person of a page: who (the API's Principal), their session, the CSRF
    token their forms carry."""

    principal: Principal
    session: Session
    csrf: str

    @property
    def is_operator(self) -> bool:
        return self.principal.kind is PrincipalKind.OPERATOR

    @property
    def can_change(self) -> bool:
        """Role operator or admin: the forms that change things are shown (SPEC-2 §12)."""
        return self.principal.has_role(Role.OPERATOR)

    def require_change(self) -> None:
        if not self.can_change:
            raise Forbidden("this change needs an operator of role operator or above")


def environment() -> Environment:
    env = Environment(loader=PackageLoader("collector.ui", "templates"),
                      autoescape=select_autoescape(default=True), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters.update(when=when, span=span, duration=duration, money=money)
    return env


def when(value: dt.datetime | int | None, tz: ZoneInfo | str = "UTC", *,
         seconds: bool = False) -> str:
    """A time as a person reads it, in the service's zone: "2026-12-01 12:27 CET"."""
    if value is None:
        return "-"
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    moment = (dt.datetime.fromtimestamp(value, zone) if isinstance(value, int)
              else value.astimezone(zone))
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def span(start: dt.datetime, end: dt.datetime | None, tz: str = "UTC") -> Markup:
    """"2026-11-29 10:00 to 10:15 CET" within a day, both dates otherwise; each end kept
    on one line, the line free to break between them (both dates do not fit a phone's
    width on one line)."""
    if end is None:
        return Markup('<span class="t">{}</span>, ongoing').format(when(start, tz))
    zone = ZoneInfo(tz)
    a, b = start.astimezone(zone), end.astimezone(zone)
    if a.date() == b.date() and a.tzname() == b.tzname():
        first, last = f"{a:%Y-%m-%d %H:%M}", f"{b:%H:%M %Z}"
    else:
        first, last = when(start, tz), when(end, tz)
    return Markup('<span class="t">{}</span> to <span class="t">{}</span>').format(first, last)


def duration(seconds: float | Decimal | None) -> str:
    """1 h 5 min, 3 min 20 s, 0 s; a negative one with its sign."""
    if seconds is None:
        return "-"
    total = int(seconds)
    sign, total = ("-" if total < 0 else ""), abs(total)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes and not days else []
    parts += [f"{secs} s"] if secs and not (days or hours) else []
    return sign + (" ".join(parts) or "0 s")


def money(value: Decimal, currency: str = "EUR") -> str:
    return f"{value:.2f} {currency}"


def render(request: Request, name: str, context: Mapping[str, Any], status: int = 200,
           headers: Mapping[str, str] | None = None) -> HTMLResponse:
    env: Environment = request.app.state.ui_templates
    config: Config = request.app.state.config
    body = env.get_template(name).render(branding=config.branding, **context)
    return HTMLResponse(body, status_code=status,
                        headers={**SECURITY_HEADERS, "Cache-Control": "no-store",
                                 **(headers or {})})


def secure(request: Request) -> bool:
    """Cookies are `Secure` when the collector serves HTTPS (SPEC-2 §13)."""
    return request.url.scheme == "https" or request.app.state.config.tls is not None


def _viewer(request: Request) -> Viewer:
    sessions: Sessions = request.app.state.ui_sessions
    session = sessions.read(request.cookies.get(COOKIE))
    principal = sessions.principal(session) if session else None
    if session is None or principal is None:
        raise SignInNeeded
    return Viewer(principal, session, sessions.csrf(session.nonce))


async def signed_in(request: Request) -> Viewer:
    return _viewer(request)


SignedIn = Annotated[Viewer, Depends(signed_in)]


def same_origin(request: Request) -> None:
    """A browser's cross-site POST is refused before its form is even read (the CSRF token
    is the rule; this is a second lock, SameSite=Strict the third)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise Forbidden("cross-site request refused")
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise Forbidden("cross-site request refused")


async def read_form(request: Request) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body (what forms and htmx send), bounded:
    at most 40 fields of 2,000 characters (the body itself is bounded by the door)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise Invalid(f"body: not a form (got content type {kind or 'none'!r})")
    try:
        text = (await request.body()).decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text),
                          max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise Invalid("body: not a form") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if len(value) > MAX_FIELD or "\x00" in value:
            raise Invalid(f"{name}: longer than {MAX_FIELD} characters or with a NUL")
        form[name] = value
    return form


async def posted(request: Request, viewer: SignedIn) -> dict[str, str]:
    """The form of a POST by a signed-in person, its CSRF token checked (else 403); a
    dependency, so that the handler itself can be a plain function (run in a thread: the
    database calls block)."""
    same_origin(request)
    form = await read_form(request)
    sessions: Sessions = request.app.state.ui_sessions
    if not sessions.csrf_ok(viewer.session.nonce, form.get("csrf")):
        raise Forbidden("the form's CSRF token is missing or not this session's")
    return form


Posted = Annotated[dict[str, str], Depends(posted)]


_PAGES: dict[type[Exception], tuple[int, str]] = {
    NotFound: (404, "Not found"), Forbidden: (403, "Not allowed"),
    Invalid: (422, "Not accepted"), PeriodError: (422, "Not accepted"),
    Conflict: (409, "Conflict"),
}


def refusal(request: Request, exc: Exception) -> Response:
    if isinstance(exc, SignInNeeded):
        return RedirectResponse("/ui/login", status_code=303)
    if isinstance(exc, RequestValidationError):  # a query parameter out of its bounds
        return render(request, "error.html", {"title": "Not accepted",
                                              "message": describe(exc.errors())}, status=422)
    for kind, (status, title) in _PAGES.items():
        if isinstance(exc, kind):
            # a 404 says nothing about what exists (SPEC §5): the same words for any
            message = "This page does not exist, or is not yours to see." if status == 404 \
                else str(exc)
            return render(request, "error.html", {"title": title, "message": message},
                          status=status)
    raise exc


class PageRoute(APIRoute):
    """A route whose refusals are pages (see the module's docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                return await handler(request)
            except (SignInNeeded, NotFound, Forbidden, Invalid, PeriodError, Conflict,
                    RequestValidationError) as exc:
                return refusal(request, exc)
        return page
