"""Fixtures of the Prometheus integration tests: the deploy/ files copied into a temp dir."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
TOKEN_PATH = "/etc/prometheus/vigie-admin.token"   # what the shipped configs point at
ADMIN_TOKEN = "admin-secret-for-tests"


def install(src: Path, dest_dir: Path, token_file: Path) -> Path:
    """Copy `src` into `dest_dir`, pointing its credentials_file at `token_file`."""
    text = src.read_text(encoding="utf-8")
    assert TOKEN_PATH in text, f"{src} no longer reads the admin token from {TOKEN_PATH}"
    dest = dest_dir / src.name
    dest.write_text(text.replace(TOKEN_PATH, str(token_file)), encoding="utf-8")
    return dest


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "vigie-admin.token"
    path.write_text(ADMIN_TOKEN + "\n", encoding="utf-8")
    os.chmod(path, 0o600)
    return path


@pytest.fixture
def prometheus_dir(tmp_path: Path, token_file: Path) -> Path:
    """deploy/prometheus as an operator installs it: config, rules/, and the token file."""
    dest = tmp_path / "prometheus"
    shutil.copytree(DEPLOY / "prometheus" / "rules", dest / "rules")
    install(DEPLOY / "prometheus" / "prometheus.yml", dest, token_file)
    return dest


@pytest.fixture
def alertmanager_config(tmp_path: Path, token_file: Path) -> Path:
    dest = tmp_path / "alertmanager"
    dest.mkdir()
    return install(DEPLOY / "alertmanager" / "alertmanager.yml", dest, token_file)
