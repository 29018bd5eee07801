"""HTTPS served by the collector itself and agents' client certificates (SPEC-2 §12),
through the real `vigie-collector serve` (uvicorn, httptools, uvloop), with certificates
made by the test: an agent without a client certificate is refused when client_ca_file
is set, one with a certificate for another server_id too, one with its own is stored."""
from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import requests

from tests.collector.server import make_report, write_config
from tests.helpers import collector_process, free_port
from tests.people.certs import Authority
from tests.people.people import bearer, people_config


def _config(tmp_path: Path, port: int, tls: str) -> Path:
    text = f'listen = "127.0.0.1:{port}"\n' + people_config(tls)
    return write_config(text, tmp_path, f"sqlite:///{tmp_path}/collector.db")


def test_it_serves_https_with_its_certificate(tmp_path: Path) -> None:
    ca = Authority(tmp_path)
    server = ca.issue("collector", server=True)
    port = free_port()
    config = _config(tmp_path, port, f'\n[tls]\ncert_file = "{server.cert}"\n'
                                     f'key_file = "{server.key}"\n')
    with collector_process(config, port):
        secure = requests.get(f"https://127.0.0.1:{port}/api/v1/servers",
                              headers=bearer("viewer"), verify=str(ca.pair.cert), timeout=10)
        report = requests.post(f"https://127.0.0.1:{port}/api/v1/reports",
                               json=make_report("web-01"), headers=bearer("web-01"),
                               verify=str(ca.pair.cert), timeout=10)
        with pytest.raises(requests.exceptions.SSLError):  # not signed by a CA it trusts
            requests.get(f"https://127.0.0.1:{port}/healthz", timeout=10)
        with pytest.raises(requests.exceptions.ConnectionError):  # no plain HTTP
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
    assert secure.status_code == 200 and len(secure.json()) == 3
    assert report.status_code == 202  # no client_ca_file: no client certificate needed


def test_agents_must_present_a_certificate_naming_their_server(tmp_path: Path) -> None:
    ca = Authority(tmp_path)
    other_ca = Authority(tmp_path, "Another CA")
    server = ca.issue("collector", server=True)
    own, other, foreign = ca.issue("web-01"), ca.issue("web-02"), other_ca.issue("web-01")
    port = free_port()
    config = _config(tmp_path, port, f'\n[tls]\ncert_file = "{server.cert}"\n'
                                     f'key_file = "{server.key}"\n'
                                     f'client_ca_file = "{ca.pair.cert}"\n')
    url = f"https://127.0.0.1:{port}"

    def post(cert: tuple[str, str] | None) -> requests.Response:
        return requests.post(url + "/api/v1/reports", json=make_report("web-01"),
                             headers=bearer("web-01"), cert=cert, verify=str(ca.pair.cert),
                             timeout=10)

    with collector_process(config, port):
        without = post(None)
        wrong = post((str(other.cert), str(other.key)))
        right = post((str(own.cert), str(own.key)))
        with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
            post((str(foreign.cert), str(foreign.key)))  # another CA: the handshake fails
        person = requests.get(url + "/api/v1/servers", headers=bearer("viewer"),
                              verify=str(ca.pair.cert), timeout=10)

    assert without.status_code == 403
    assert without.json()["error"] == ("a client certificate for 'web-01' is required "
                                       "([tls] client_ca_file)")
    assert wrong.status_code == 403 and "'web-02'" in wrong.json()["error"]
    assert right.status_code == 202, right.text
    assert person.status_code == 200  # people need no client certificate


def test_check_names_a_bad_certificate(tmp_path: Path) -> None:
    import subprocess
    import sys

    ca = Authority(tmp_path)
    server = ca.issue("collector", server=True)
    wrong_key = ca.issue("someone")
    config = _config(tmp_path, free_port(), f'\n[tls]\ncert_file = "{server.cert}"\n'
                                            f'key_file = "{wrong_key.key}"\n'
                                            f'client_ca_file = "{tmp_path}/none.pem"\n')
    done = subprocess.run([sys.executable, "-m", "collector", "--config", str(config),
                           "check"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "tls.cert_file: cannot be loaded with key_file" in done.stderr
    assert "tls.client_ca_file: cannot be loaded" in done.stderr
    assert "PRIVATE KEY" not in done.stderr
    assert ssl.OPENSSL_VERSION  # the ssl module the collector uses is there


def test_the_agent_sends_with_its_client_certificate_and_ca(tmp_path: Path) -> None:
    """The agent's side (SPEC-2 §12): `[collector] ca_file`, `client_cert_file`,
    `client_key_file` read from its TOML; with them its reports are stored by a collector
    that requires client certificates, without them they are refused (403, not retried)."""
    from agent.config import parse_config
    from agent.sender import Outcome, Sender

    ca = Authority(tmp_path)
    server = ca.issue("collector", server=True)
    own = ca.issue("web-01")
    port = free_port()
    config = _config(tmp_path, port, f'\n[tls]\ncert_file = "{server.cert}"\n'
                                     f'key_file = "{server.key}"\n'
                                     f'client_ca_file = "{ca.pair.cert}"\n')
    token = bearer("web-01")["Authorization"].removeprefix("Bearer ")

    def agent(keys: str) -> Sender:
        raw = {"server_id": "web-01", "collector": {
            "url": f"https://127.0.0.1:{port}", "token": token, **keys}}
        c = parse_config(raw, str(tmp_path / "agent.toml")).collector
        return Sender(c.urls, c.token.reveal(), c.timeout, c.verify_tls, ca_file=c.ca_file,
                      client_cert=c.client_cert)

    import json
    body = json.dumps(make_report("web-01")).encode()
    with collector_process(config, port):
        with_cert = agent({"ca_file": str(ca.pair.cert), "client_cert_file": str(own.cert),
                           "client_key_file": str(own.key)}).send(body)
        without = agent({"ca_file": str(ca.pair.cert)}).send(body)
    assert with_cert.outcome is Outcome.ACCEPTED, with_cert
    assert without.outcome is Outcome.PERMANENT and without.status == 403


def test_the_agent_refuses_half_a_client_certificate(tmp_path: Path) -> None:
    from agent.config import ConfigError, parse_config

    cert = tmp_path / "agent.pem"
    cert.write_text("x")
    raw = {"server_id": "web-01", "collector": {
        "url": "https://127.0.0.1:1", "token": "t" * 24, "client_cert_file": str(cert),
        "ca_file": str(tmp_path / "missing.pem")}}
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, str(tmp_path / "agent.toml"))
    text = str(caught.value)
    assert "collector.client_key_file: missing" in text
    assert "collector.ca_file" in text and "cannot be read" in text
