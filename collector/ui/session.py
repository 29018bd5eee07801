"""The pages' session: a signed, stateless cookie, and the CSRF token bound to it.

Why stateless (docs/pages.md): a session kept in `app.state` would be lost between the
`workers` of one collector and between the nodes of a cluster. The cookie holds who signed in
(`operator:<id>` or `client:<id>`, never a token), a random nonce and an expiry, signed with
HMAC-SHA256. The key is derived from every secret of the configuration (tokens of operators,
clients, agents, integrations, the admin token): every worker and node with the same file
derives the same key, nobody who holds only their own token can forge it, and changing any
token ends every session. The person is looked up again in the configuration at each
request, so an operator removed from the file, or whose role changed, is so at once.

CSRF (SPEC-2 §13: every form): each form carries `csrf`, the HMAC of the session's nonce
(the sign-in form: of a nonce in its own `vigie_login` cookie); a POST without it, or with
another session's, is refused (403). Both cookies are `HttpOnly` and `SameSite=Strict`.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from collector.api.auth import Principal, PrincipalKind, operator
from collector.config import ADMIN_OPERATOR, Config, Role

COOKIE = "vigie_session"
LOGIN_COOKIE = "vigie_login"
LIFETIME = 12 * 3600  # seconds: a working day, then sign in again
MAX_COOKIE = 1024      # a cookie longer than this is not one of ours


def session_key(config: Config) -> bytes:
    """The signing key, from every configured secret (see the module's docstring)."""
    parts = [config.admin_token.reveal()]
    parts += [o.token.reveal() for o in config.operators]
    parts += [c.token.reveal() for c in config.clients]
    parts += [s.token.reveal() for s in config.servers if s.token is not None]
    for name in ("alertmanager_token", "prometheus_token"):
        secret = getattr(config.integrations, name)
        if secret is not None:
            parts.append(secret.reveal())
    material = b"\x00".join(p.encode("utf-8") for p in parts)
    return hmac.new(b"vigie-ui-session-1", material, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Session:
    actor: str      # "operator:alice", "client:acme"
    nonce: str
    expires: int    # epoch seconds


class Sessions:
    """Signs and reads session cookies and CSRF tokens with one key (built per app)."""

    def __init__(self, config: Config) -> None:
        self._key = session_key(config)
        self._config = config

    def _mac(self, text: str) -> str:
        return _b64(hmac.new(self._key, text.encode("utf-8"), hashlib.sha256).digest())

    def issue(self, actor: str, now: float | None = None) -> tuple[str, Session]:
        at = int(time.time() if now is None else now)
        session = Session(actor, secrets.token_urlsafe(16), at + LIFETIME)
        body = _b64(json.dumps({"a": session.actor, "n": session.nonce, "e": session.expires},
                               separators=(",", ":")).encode("utf-8"))
        return f"{body}.{self._mac(body)}", session

    def read(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session of a cookie that is ours, intact and not expired; else None."""
        if not cookie or len(cookie) > MAX_COOKIE or cookie.count(".") != 1:
            return None
        body, mac = cookie.split(".")
        if not hmac.compare_digest(mac, self._mac(body)):
            return None
        try:
            data = json.loads(_unb64(body))
            session = Session(str(data["a"]), str(data["n"]), int(data["e"]))
        except (ValueError, KeyError, TypeError, binascii.Error):
            return None
        if session.expires <= (time.time() if now is None else now):
            return None
        return session

    def csrf(self, nonce: str, purpose: str = "form") -> str:
        return self._mac(f"csrf|{purpose}|{nonce}")

    def csrf_ok(self, nonce: str, given: str | None, purpose: str = "form") -> bool:
        return bool(given) and hmac.compare_digest(self.csrf(nonce, purpose), given or "")

    def principal(self, session: Session) -> Principal | None:
        """Who the session's actor is in the configuration now (None: no longer there)."""
        kind, _, ident = session.actor.partition(":")
        if kind == "operator":
            if ident == ADMIN_OPERATOR and self._config.admin_token.reveal():
                return operator(ADMIN_OPERATOR, Role.ADMIN)
            for op in self._config.operators:
                if op.id == ident:
                    return operator(op.id, op.role)
            return None
        if kind == "client" and self._config.client(ident) is not None:
            return Principal(PrincipalKind.CLIENT, f"client:{ident}", client_id=ident)
        return None


def new_nonce() -> str:
    return secrets.token_urlsafe(16)
