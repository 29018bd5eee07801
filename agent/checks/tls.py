"""`tls` check: the certificate verifies (chain and host name) and is far from its notAfter."""

from __future__ import annotations

import logging
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from agent.checks.model import CheckKind, Outcome, Status, gauge_of
from agent.tomlconf import Key, non_empty, non_negative, port

logger = logging.getLogger(__name__)

DAY = 86400.0


@dataclass(frozen=True)
class TlsSpec:
    host: str
    port: int = 443
    warning_days: float = 21
    critical_days: float = 7
    cafile: str | None = None  # private CA or test CA; None = system trust store


KEYS = (
    Key("host", str, check=non_empty),
    Key("port", int, check=port),
    Key("warning_days", float, check=non_negative),
    Key("critical_days", float, check=non_negative),
    Key("cafile", str, check=non_empty),
)


def _days_in_order(spec: TlsSpec) -> tuple[str, str] | None:
    if spec.critical_days > spec.warning_days:
        return ("critical_days",
                f"is above warning_days (got {spec.critical_days:g} > {spec.warning_days:g})")
    return None


@dataclass(frozen=True)
class TlsHandshake:
    not_after: float | None  # epoch seconds of the leaf's notAfter
    latency: float | None
    subject: str = ""
    issuer: str = ""
    error: str | None = None


def _name(parts: object) -> str:
    # getpeercert() gives ((("commonName", "x"),), ...); keep it readable.
    if not isinstance(parts, tuple):
        return ""
    return ", ".join(f"{key}={value}" for rdn in parts for key, value in rdn)


def handshake(spec: TlsSpec, timeout: float) -> TlsHandshake:
    # create_default_context(): chain verification and check_hostname are on.
    context = ssl.create_default_context(cafile=spec.cafile)
    start = time.perf_counter()
    try:
        # no parentheses around the two: that form is Python 3.10+ (SPEC §14: 3.9)
        with socket.create_connection((spec.host, spec.port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=spec.host) as conn:
            latency = time.perf_counter() - start
            cert = conn.getpeercert()
    except ssl.SSLCertVerificationError as exc:
        return TlsHandshake(None, None, error=f"certificate rejected: {exc.verify_message or exc}")
    except (OSError, ssl.SSLError) as exc:
        return TlsHandshake(None, None, error=f"TLS connection failed: {exc}")
    if not cert:  # only without verification; kept so a surprise is an error, not a crash
        return TlsHandshake(None, None, error="TLS connection failed: no peer certificate")
    not_after = ssl.cert_time_to_seconds(str(cert["notAfter"]))
    return TlsHandshake(not_after, latency, _name(cert.get("subject")), _name(cert.get("issuer")))


def evaluate(spec: TlsSpec, result: TlsHandshake, now: float) -> Outcome:
    """Statuses by days left: < critical_days critical, < warning_days warning, else ok."""
    target = f"{spec.host}:{spec.port}"
    data: dict[str, object] = {"host": spec.host, "port": spec.port}
    if result.error is not None or result.not_after is None:
        return Outcome(Status.CRITICAL, f"{target}: {result.error}", None, data)
    left = result.not_after - now
    days = left / DAY
    data.update(
        not_after=datetime.fromtimestamp(result.not_after, timezone.utc).isoformat(),
        expires_in_seconds=left,
        expires_in_days=round(days, 2),
        subject=result.subject,
        issuer=result.issuer,
    )
    detail = f"{target}: certificate expires in {days:.1f} days"
    if days < spec.critical_days:
        return Outcome(
            Status.CRITICAL, f"{detail} (< {spec.critical_days:g})", result.latency, data
        )
    if days < spec.warning_days:
        return Outcome(Status.WARNING, f"{detail} (< {spec.warning_days:g})", result.latency, data)
    return Outcome(Status.OK, detail, result.latency, data)


def run(spec: TlsSpec, timeout: float) -> Outcome:
    return evaluate(spec, handshake(spec, timeout), time.time())


KIND = CheckKind(
    "tls", TlsSpec, KEYS, run,
    families=(gauge_of("vigie_tls_cert_expiry_seconds",
                       "Seconds until the certificate's notAfter", "expires_in_seconds"),),
    rule=_days_in_order,
)
