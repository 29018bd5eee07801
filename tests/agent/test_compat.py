"""What running on Python 3.9+ with Debian's libraries changed in the agent (SPEC §14),
seen on this machine: the real-interpreter tests are in tests/packaging."""
from __future__ import annotations

import ast
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import agent
from tests.agent.conftest import run_agent_cli

ROOT = Path(__file__).resolve().parents[2]


def test_a_config_that_is_not_utf8_is_one_problem_line_not_a_traceback(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_bytes('server_id = "café"\n'.encode("latin-1"))
    config.chmod(0o600)
    result = run_agent_cli("--config", str(config), "once")
    assert result.returncode == 2
    assert result.stderr.startswith(f"{config}: config: not valid TOML (")
    assert "Traceback" not in result.stderr


def test_the_version_is_written_once() -> None:
    # pyproject.toml reads agent.__version__; the report and the Debian package say it
    assert metadata.version("vigie") == agent.__version__
    from agent.runtime import agent_version

    assert agent_version() == agent.__version__


def test_the_agent_does_not_load_importlib_metadata_to_know_its_version() -> None:
    code = "import sys, agent.runtime; print('importlib.metadata' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout.strip() == "False"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_the_agent_never_imports_the_collector_nor_its_libraries() -> None:
    allowed = {"agent", "psutil", "prometheus_client", "requests", "apscheduler", "icmplib",
               "tomli", "toml", *sys.stdlib_module_names}
    for path in sorted((ROOT / "agent").rglob("*.py")):
        extra = _imports(path) - allowed
        assert extra == set(), f"{path.relative_to(ROOT)} imports {sorted(extra)}"


def test_the_agent_is_free_of_syntax_newer_than_python_3_9() -> None:
    # ast's feature_version rejects some of what 3.9's grammar lacks (match statements,
    # except*, type statements), here and in a second; tests/packaging runs the agent on
    # Debian 11's real Python 3.9
    for path in sorted((ROOT / "agent").rglob("*.py")):
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=(3, 9))
