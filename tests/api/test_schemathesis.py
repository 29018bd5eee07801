"""Schemathesis against a running collector (issue 11): the OpenAPI document is honest.

For each database and each kind of token (the admin, a client, an agent, a viewer, an
operator, the Alertmanager and Prometheus integration tokens), `schemathesis
run` (its four phases: examples, coverage, fuzzing, stateful) sends a bounded number of
generated requests per operation to a real collector over HTTP, with every check on
(`--checks all`: no 5xx, every status code, content type, body and header as the
document says, schema-invalid data refused, schema-valid data accepted). The few
exceptions are in schemathesis.toml, each with its reason. 0 failures is the bar.

The CLI runs in a subprocess (its own process, so the collector thread and the generator
use the two cores); its JSON report gives the counts. `VIGIE_SCHEMATHESIS_EXAMPLES` and
`VIGIE_SCHEMATHESIS_SEED` change the run's size and seed (a failure prints its seed and
a curl command that reproduces it).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from collector.api.throttle import AuthThrottle
from tests.collector.server import running_app
from tests.people.people import ALL_TOKENS, people_config

CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES = int(os.environ.get("VIGIE_SCHEMATHESIS_EXAMPLES", "30"))  # per operation, phase
# The other kinds of token reach fewer operations (most answer them 403/404): a smaller
# run each, on one database (the role matrix, tests/people, checks every status of theirs);
# the admin's, which reaches every operation, runs whole on both databases.
EXAMPLES_OTHERS = int(os.environ.get("VIGIE_SCHEMATHESIS_EXAMPLES_OTHERS", "8"))
SEED = int(os.environ.get("VIGIE_SCHEMATHESIS_SEED", "11"))
# every kind of token, the roles and integration tokens of SPEC-2 §12 included
WHO = {"admin": "admin", "client": "acme", "agent": "web-01", "viewer": "viewer",
       "operator": "operator", "alertmanager": "alertmanager", "prometheus": "prometheus"}


def schemathesis_run(base_url: str, token: str, workdir: Path,
                     examples: int = EXAMPLES) -> tuple[dict[str, Any], str]:
    """The JSON report and the console output of one `schemathesis run`."""
    report = workdir / "report.json"
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "--no-color",
        "run", f"{base_url}/openapi.json", "--header", f"Authorization: Bearer {token}",
        "--checks", "all", "--max-examples", str(examples), "--seed", str(SEED),
        "--workers", "1", "--request-timeout", "30",
        "--report", "json", "--report-json-path", str(report)]
    # cwd: schemathesis keeps its cache (.schemathesis/) in the working directory
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=300,
                          check=False)
    if not report.exists():
        pytest.fail(f"schemathesis wrote no report (exit {done.returncode}):\n"
                    f"{done.stdout}\n{done.stderr}")
    return json.loads(report.read_text(encoding="utf-8")), done.stdout + done.stderr


def test_it_answers_every_generated_request_as_its_document_says(
        db_url: str, tmp_path: Path) -> None:
    """The admin's token, which reaches every operation, on both databases."""
    _run(db_url, "admin", EXAMPLES, tmp_path)


@pytest.mark.parametrize("kind", [k for k in WHO if k != "admin"])
def test_every_other_kind_of_token_is_answered_as_documented(
        sqlite_url: str, kind: str, tmp_path: Path) -> None:
    _run(sqlite_url, kind, EXAMPLES_OTHERS, tmp_path)


def _run(db_url: str, kind: str, examples: int, tmp_path: Path) -> None:
    started = time.monotonic()
    with running_app(people_config(), db_url) as running:
        # the coverage phase sends a bad token to every operation: past 20 operations the
        # rate limit of failed authentications (SPEC-2 §12) would answer the rest 429
        running.app.state.auth_throttle = AuthThrottle(limit=10**6)
        report, output = schemathesis_run(running.base_url, ALL_TOKENS[WHO[kind]], tmp_path,
                                          examples)
    took = time.monotonic() - started
    cases = report["test_cases"]
    # the figures of the closing note of issue 11 (pytest -s shows them)
    print(f"\nschemathesis {running.db.dialect} {kind}: {report['operations']['tested']} "
          f"operations, {cases['generated']} cases, {cases['with_failures']} with failures, "
          f"{len(report['errors'])} errors, {took:.1f} s")
    assert report["operations"]["tested"] == report["operations"]["total"] >= 17
    assert (cases["with_failures"], report["failures"], report["errors"]) == (0, [], []), output
    assert report["exit_code"] == 0, output
