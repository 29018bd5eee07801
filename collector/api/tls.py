"""HTTPS and agents' client certificates (SPEC-2 §12, `[tls]`).

uvicorn (0.54) does not give the application the TLS peer: its ASGI scope has no `tls`
extension yet (uvicorn PRs #1119, #2586, #3043, #3132 are open or closed unmerged). So the
collector serves through a subclass of uvicorn's HTTP protocol that adds one, following
the ASGI TLS extension (asgiref docs/specs/tls.rst): when the connection is over TLS,
`scope["extensions"]["tls"]` holds `client_cert_chain` (the verified leaf, PEM), the
spec's other keys, and `client_cert_common_names`, Vigie's own key (read once per
connection from the certificate the ssl module verified, so no X.509 parser is needed).

With `client_ca_file`, the TLS layer asks for a client certificate without requiring one
(`ssl.CERT_OPTIONAL`: operators' browsers and clients have none); one that the CA did not
sign fails the handshake. Whether a certificate is needed is decided by the route: POST
/api/v1/reports (`auth.agent_principal`) requires one whose common name is the token's
server_id, else 403. Renewing the certificate needs a restart (reload on SIGHUP: issue 14).
"""
from __future__ import annotations

import asyncio
import ssl
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from collector.config import Tls
from collector.errors import Forbidden


def uvicorn_options(tls: Tls | None, http: str) -> dict[str, Any]:
    """The options of uvicorn.run / uvicorn.Config that serve `tls` (none: plain HTTP)
    with the `http` implementation ("httptools" or "h11")."""
    if tls is None:
        return {"http": http}
    options: dict[str, Any] = {
        "ssl_certfile": tls.cert_file, "ssl_keyfile": tls.key_file,
        "http": HttpToolsTlsProtocol if http == "httptools" else H11TlsProtocol}
    if tls.client_ca_file:
        options.update(ssl_ca_certs=tls.client_ca_file, ssl_cert_reqs=ssl.CERT_OPTIONAL)
    return options


def check_client_certificate(scope: Scope, server_id: str) -> None:
    """403 unless the connection's verified client certificate has `server_id` as its
    common name (and no other)."""
    extension = scope.get("extensions", {}).get("tls")
    names = extension.get("client_cert_common_names", ()) if extension else ()
    if not names:
        raise Forbidden(f"a client certificate for {server_id!r} is required "
                        "([tls] client_ca_file)")
    if tuple(names) != (server_id,):
        # the certificate's name is the caller's own, so it may be quoted
        raise Forbidden(f"the client certificate is for {', '.join(names)!r}, not for "
                        f"{server_id!r}")


_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


def tls_extension(ssl_object: ssl.SSLObject) -> dict[str, Any]:
    """The ASGI `tls` extension of one connection (asgiref TLS extension 0.2)."""
    der = ssl_object.getpeercert(binary_form=True)
    verified = ssl_object.getpeercert() or {}  # only filled for a certificate verified
    common_names = tuple(value for rdn in verified.get("subject", ()) for key, value in rdn
                         if key == "commonName")
    cipher = ssl_object.cipher()
    return {
        "server_cert": None,  # the ssl module cannot give the server's own certificate
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der and verified else [],
        "client_cert_name": None,
        "client_cert_error": None,  # a certificate that fails verification ends the handshake
        "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": None,  # the ssl module names the suite, never gives its number
        "cipher_name": cipher[0] if cipher else None,
        "client_cert_common_names": common_names,
    }


def _with_tls(app: ASGIApp, extension: dict[str, Any]) -> ASGIApp:
    async def app_with_tls(scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("extensions", {})["tls"] = extension
        await app(scope, receive, send)
    return app_with_tls


class _TlsScope:
    """Mixed into a uvicorn HTTP protocol: every request of a TLS connection gets the
    connection's `tls` extension (built once, at the connection's start: asyncio calls
    `connection_made` once the handshake is done)."""

    app: ASGIApp

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            self.app = _with_tls(self.app, tls_extension(ssl_object))


class HttpToolsTlsProtocol(_TlsScope, HttpToolsProtocol):
    pass


class H11TlsProtocol(_TlsScope, H11Protocol):
    pass
