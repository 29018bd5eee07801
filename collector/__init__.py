"""Vigie's collector: API, detection, incidents, notifications, SLA (docs/internals.md).

The distribution installs the agent alone by default; the collector needs Python 3.11+
and its extra (`pip install 'vigie[collector]'`, SPEC-2 §14)."""
import sys

if sys.version_info < (3, 11):  # noqa: UP036 -- one line, not a tomllib ImportError
    raise SystemExit("vigie-collector needs Python 3.11 or newer (this is "
                     f"{sys.version.split()[0]}); the agent runs on 3.9+")
