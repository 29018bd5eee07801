"""Secrets in configuration files (issue 11, item 7), for both programs as an operator runs
them: a file that holds a secret inline must be private, as a `*_file` must (group and
other bits refused, exit 2, `chmod 600`), and no error message quotes a secret's value."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Where each secret of collector.toml lives: (the key a problem names, the TOML key).
COLLECTOR_SECRETS = {
    "admin_token": "admin_token",
    "servers[0].token": "token",
    "clients[0].token": "token",
    "webhooks[0].secret": "secret",
    "smtp.password": "password",
}
# A value seen nowhere else: if it shows in stderr, a message quoted it.
LEAK = "S3CRET-b7f1e9-do-not-print"


def _cli(program: str, config: Path, *args: str,
         timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", program, "--config", str(config), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)


def _private_file(path: Path, value: str) -> Path:
    path.write_text(value + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def collector_toml(tmp: Path, inline: set[str], value: dict[str, str] | None = None) -> str:
    """A collector.toml with every kind of secret: those in `inline` written in the file
    (their TOML text from `value`, else a distinct quoted token), the others in a private
    `*_file` each."""
    value = value or {}

    def secret(key: str) -> str:
        name = COLLECTOR_SECRETS[key]
        if key in inline:
            return f"{name} = {value.get(key, repr(f'{key}-inline-0123456789'))}\n"
        path = _private_file(tmp / f"{key.replace('[', '-').replace(']', '')}.secret",
                             f"{key}-in-a-file-0123456789")
        return f'{name}_file = "{path}"\n'

    return (f'database = "sqlite:///{tmp}/c.db"\n' + secret("admin_token")
            + '[[services]]\nid = "acme-web"\nclient = "acme"\n'
            + '[[servers]]\nid = "web-01"\nservice = "acme-web"\naddress = "127.0.0.1"\n'
            + secret("servers[0].token")
            + '[[clients]]\nid = "acme"\n' + secret("clients[0].token")
            + '[[webhooks]]\nurl = "http://127.0.0.1:9/hook"\n' + secret("webhooks[0].secret")
            + '[smtp]\nhost = "127.0.0.1"\nusername = "vigie"\n' + secret("smtp.password"))


def _write(path: Path, text: str, mode: int) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


# -- item 1: a file holding an inline secret must not be readable by group or others --


@pytest.mark.parametrize("key", list(COLLECTOR_SECRETS))
def test_it_refuses_a_collector_toml_others_can_read_with_an_inline_secret(
        tmp_path: Path, key: str) -> None:
    config = _write(tmp_path / "collector.toml", collector_toml(tmp_path, {key}), 0o644)
    result = _cli("collector", config, "check")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        (f"{config}: {key}: inline secret in a file group or others can read (mode 0644): "
        f"chmod 600 {config}, or use {COLLECTOR_SECRETS[key]}_file")]


@pytest.mark.parametrize("mode", [0o666, 0o640, 0o604], ids=lambda mode: f"{mode:04o}")
def test_it_names_every_inline_secret_of_a_shared_collector_toml_in_one_line(
        tmp_path: Path, mode: int) -> None:
    config = _write(tmp_path / "collector.toml",
                    collector_toml(tmp_path, set(COLLECTOR_SECRETS)), mode)
    result = _cli("collector", config, "check")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        (f"{config}: admin_token: inline secret in a file group or others can read (mode "
        f"{mode:04o}; also servers[0].token, clients[0].token, webhooks[0].secret and 1 "
        f"more): chmod 600 {config}, or move them to *_file keys")]
    if mode == 0o666:  # nothing starts half-configured (a refused serve exits at once)
        serve = _cli("collector", config, "serve", timeout=20)
        assert serve.returncode == 2 and serve.stderr == result.stderr
        assert not (tmp_path / "c.db").exists()


def test_it_accepts_a_private_collector_toml_and_a_shared_one_without_inline_secrets(
        tmp_path: Path) -> None:
    private = _write(tmp_path / "private.toml",
                     collector_toml(tmp_path, set(COLLECTOR_SECRETS)), 0o600)
    shared = _write(tmp_path / "shared.toml", collector_toml(tmp_path, set()), 0o644)
    for config in (private, shared):
        result = _cli("collector", config, "check")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().endswith("ok (1 services, 1 servers, 1 clients)")


def test_it_counts_a_database_password_as_an_inline_secret(tmp_path: Path) -> None:
    text = (collector_toml(tmp_path, set()).replace(
        f'database = "sqlite:///{tmp_path}/c.db"', f'database = "postgresql://vigie:{LEAK}@db/vigie"'))
    config = _write(tmp_path / "collector.toml", text, 0o644)
    result = _cli("collector", config, "check")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        (f"{config}: database: inline secret in a file group or others can read (mode 0644): "
        f"chmod 600 {config}")]
    assert LEAK not in result.stderr


AGENT_TOML = '[collector]\nurl = "http://127.0.0.1:9"\n{token}\n[metrics]\nlisten = ""\n'


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o660], ids=lambda mode: f"{mode:04o}")
def test_it_refuses_an_agent_toml_others_can_read_with_an_inline_token(
        tmp_path: Path, mode: int) -> None:
    config = _write(tmp_path / "agent.toml", AGENT_TOML.format(token=f'token = "{LEAK}"'), mode)
    result = _cli("agent", config, "once")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        (f"{config}: collector.token: inline secret in a file group or others can read (mode "
        f"{mode:04o}): chmod 600 {config}, or use token_file")]
    assert LEAK not in result.stderr and result.stdout == ""


def test_it_loads_a_private_agent_toml_and_a_shared_one_with_a_token_file(tmp_path: Path) -> None:
    from agent.config import load_config

    private = _write(tmp_path / "private.toml", AGENT_TOML.format(token='token = "inline"'), 0o600)
    token = _private_file(tmp_path / "agent.token", "from-a-file")
    shared = _write(tmp_path / "shared.toml",
                    AGENT_TOML.format(token=f'token_file = "{token}"'), 0o644)
    assert load_config(str(private)).collector.token.reveal() == "inline"
    assert load_config(str(shared)).collector.token.reveal() == "from-a-file"


# -- item 2: no message quotes a secret's value --


MISTYPED = {  # the TOML text of a mistyped secret, and how the problem names what it got
    "a list": f'["{LEAK}"]',
    "a table": f'{{ value = "{LEAK}" }}',
}


@pytest.mark.parametrize("got", list(MISTYPED))
def test_the_collector_names_a_mistyped_secret_without_quoting_it(tmp_path: Path,
                                                                   got: str) -> None:
    text = collector_toml(tmp_path, set(COLLECTOR_SECRETS),
                          dict.fromkeys(COLLECTOR_SECRETS, MISTYPED[got]))
    config = _write(tmp_path / "collector.toml", text, 0o600)
    result = _cli("collector", config, "check")
    assert result.returncode == 2
    # once each, and not "missing" after it: the key is there, with the wrong type
    assert result.stderr.splitlines() == [f"{config}: {key}: not a string (got {got})"
                                          for key in COLLECTOR_SECRETS]
    assert LEAK not in result.stderr


def test_the_collector_names_empty_and_shared_tokens_without_quoting_them(tmp_path: Path) -> None:
    shared = repr(LEAK)
    text = collector_toml(tmp_path, set(COLLECTOR_SECRETS), {
        "admin_token": shared, "servers[0].token": shared, "clients[0].token": shared,
        "webhooks[0].secret": '"  "', "smtp.password": "42"})
    text += f'[[servers]]\nid = "web-02"\nservice = "acme-web"\ntoken = {shared}\n'
    text = text.replace("[smtp]", f'[[servers]]\nid = "web-03"\nservice = "acme-web"\n'
                                  f'token = {shared}\ntoken_file = "/nonexistent"\n[smtp]')
    config = _write(tmp_path / "collector.toml", text, 0o600)
    result = _cli("collector", config, "check")
    assert result.returncode == 2
    assert sorted(result.stderr.splitlines()) == sorted(f"{config}: {line}" for line in [
        "webhooks[0].secret: must not be empty",
        "smtp.password: not a string (got an integer)",
        "servers[1].token: give token or token_file, not both",
        "servers[0].token: same token as admin_token; every principal needs its own",
        "servers[2].token: same token as admin_token; every principal needs its own",
        "clients[0].token: same token as admin_token; every principal needs its own",
    ])
    assert LEAK not in result.stderr


def test_the_collector_names_a_mistyped_table_of_secrets_without_quoting_it(
        tmp_path: Path) -> None:
    text = (f'admin_token = "admin-0123456789"\nservers = {{ token = "{LEAK}" }}\n'
            f'clients = [["{LEAK}"]]\nsmtp = ["{LEAK}"]\n'
            f'database = ["postgresql://vigie:{LEAK}@db/vigie"]\n')
    config = _write(tmp_path / "collector.toml", text, 0o600)
    result = _cli("collector", config, "check")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"{config}: {line}" for line in [
        "database: not a string (got a list)",
        "servers: not a list (got a table)",
        "clients[0]: not a table (got a list)",
        "smtp: not a table (got a list)",
    ]]
    assert LEAK not in result.stderr


@pytest.mark.parametrize(("token", "problem"), [
    (f'token = ["{LEAK}"]', "collector.token: not a string (got a list)"),
    (f'token = {{ value = "{LEAK}" }}', "collector.token: not a string (got a table)"),
    ('token = 7', "collector.token: not a string (got an integer)"),
    ('token = " "', "collector.token: must not be empty"),
    (f'token = "{LEAK}"\ntoken_file = "/nonexistent"',
     "collector.token: give token or token_file, not both"),
])
def test_the_agent_names_a_bad_token_without_quoting_it(tmp_path: Path, token: str,
                                                        problem: str) -> None:
    config = _write(tmp_path / "agent.toml", AGENT_TOML.format(token=token), 0o600)
    result = _cli("agent", config, "once")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"{config}: {problem}"]
    assert LEAK not in result.stderr
