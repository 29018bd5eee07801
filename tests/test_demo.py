"""`make demo` (issue 10, defect 6): it installs what runs, not the test and lint tools, and
a second demo right after the first one starts (its old connections in TIME_WAIT do not
make the port look taken)."""
from __future__ import annotations

import importlib.util
import socket
import subprocess
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def demo_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vigie_demo", ROOT / "deploy" / "demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_it_sees_a_port_whose_last_connections_linger_in_time_wait_as_free() -> None:
    demo = demo_module()
    listener = socket.create_server(("127.0.0.1", 0))
    address = listener.getsockname()
    client = socket.create_connection(address)
    accepted, _ = listener.accept()
    accepted.close()        # the server side closes first: it keeps the TIME_WAIT
    client.close()
    listener.close()
    states = subprocess.run(["ss", "-tan", f"sport = :{address[1]}"], capture_output=True,
                            text=True, check=True).stdout
    assert "TIME-WAIT" in states
    assert demo.port_free(address)


def test_it_sees_a_port_something_listens_on_as_taken() -> None:
    demo = demo_module()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        assert not demo.port_free(listener.getsockname())


def test_it_installs_only_what_runs_for_the_demo(tmp_path: Path) -> None:
    plan = subprocess.run(["make", "-n", "demo", f"VENV={tmp_path / 'venv'}"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout
    installs = [line for line in plan.splitlines() if "pip install" in line]
    assert any("-e '.[collector]'" in line for line in installs), plan  # agent + collector
    assert not any("test]" in line for line in installs), plan
