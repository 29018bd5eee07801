"""Every module of the collector and the agent imports first, on its own: an import cycle
through a package's __init__ (house_check counts modules, not package initialisation)
fails here with the module that starts it."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for package in ("agent", "collector") for p in (ROOT / package).rglob("*.py")
    if "migrations" not in p.parts and p.name != "__main__.py")


@pytest.mark.parametrize("name", MODULES)
def test_it_imports_the_module_first_and_alone(name: str) -> None:
    saved = {k: v for k, v in sys.modules.items() if k.split(".")[0] in ("agent", "collector")}
    for key in saved:
        del sys.modules[key]
    try:
        importlib.import_module(name)
    finally:
        for key in [k for k in sys.modules if k.split(".")[0] in ("agent", "collector")]:
            del sys.modules[key]
        sys.modules.update(saved)
