"""tls check against a local TLS server with certificates made by the test (own CA)."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent.checks import tls
from agent.checks.model import Status
from agent.checks.tls import TlsSpec
from tests.helpers import tls_listener

NOW = dt.datetime.now(dt.UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@pytest.fixture(scope="module")
def ca(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Vigie Test CA"))
        .issuer_name(_name("Vigie Test CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert, path


def _leaf(ca: tuple, tmp: Path, dns_name: str, days: float) -> ssl.SSLContext:
    ca_key, ca_cert, _ = ca
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(dns_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=10))
        .not_valid_after(NOW + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (tmp / "leaf.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "leaf.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp / "leaf.pem", tmp / "leaf.key")
    return context


def _check(
    ca: tuple,
    tmp: Path,
    dns_name: str,
    days: float,
    *,
    trusted: bool = True,
    host: str = "localhost",
) -> tls.Outcome:
    with tls_listener(_leaf(ca, tmp, dns_name, days)) as port:
        spec = TlsSpec(host=host, port=port, cafile=str(ca[2]) if trusted else None)
        return tls.run(spec, timeout=5)


def test_it_reports_a_certificate_valid_90_days_ok(ca: tuple, tmp_path: Path) -> None:
    outcome = _check(ca, tmp_path, "localhost", 90)
    assert outcome.status is Status.OK
    assert 89.9 < outcome.data["expires_in_days"] <= 90
    assert outcome.latency_seconds is not None and outcome.latency_seconds > 0
    assert "Vigie Test CA" in outcome.data["issuer"]


def test_it_reports_a_certificate_expiring_in_15_days_as_warning(ca: tuple, tmp_path: Path) -> None:
    outcome = _check(ca, tmp_path, "localhost", 15)
    assert outcome.status is Status.WARNING
    assert "expires in 15.0 days (< 21)" in outcome.detail


def test_it_reports_a_certificate_expiring_in_3_days_critical(ca: tuple, tmp_path: Path) -> None:
    outcome = _check(ca, tmp_path, "localhost", 3)
    assert outcome.status is Status.CRITICAL
    assert "(< 7)" in outcome.detail


def test_it_reports_a_name_mismatch_critical_naming_the_host(ca: tuple, tmp_path: Path) -> None:
    outcome = _check(ca, tmp_path, "shop.example.org", 90)
    assert outcome.status is Status.CRITICAL
    assert "Hostname mismatch" in outcome.detail
    assert "'localhost'" in outcome.detail


def test_it_reports_an_untrusted_ca_critical(ca: tuple, tmp_path: Path) -> None:
    outcome = _check(ca, tmp_path, "localhost", 90, trusted=False)
    assert outcome.status is Status.CRITICAL
    assert "certificate rejected" in outcome.detail
    assert "issuer certificate" in outcome.detail  # "unable to get local issuer certificate"


def test_it_reports_an_expired_certificate_critical(ca: tuple, tmp_path: Path) -> None:
    outcome = _check(ca, tmp_path, "localhost", -2)
    assert outcome.status is Status.CRITICAL
    assert "certificate has expired" in outcome.detail


def test_it_grades_days_left_against_the_configured_thresholds() -> None:
    spec = TlsSpec(host="h", warning_days=30, critical_days=10)
    now = 1_700_000_000.0
    grade = [
        tls.evaluate(spec, tls.TlsHandshake(now + days * 86400, 0.01), now).status
        for days in (9.9, 10, 29.9, 30)
    ]
    assert grade == [Status.CRITICAL, Status.WARNING, Status.WARNING, Status.OK]
