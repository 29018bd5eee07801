"""The Vigie agent (SPEC §2, §3): runs on Python 3.9+ with Debian 11's libraries (SPEC §14).

`__version__` is the one place the version is written: pyproject.toml reads it
(`[tool.setuptools.dynamic]`), `make deb` names the package after it, and the agent puts it
in every report without importing importlib.metadata.
"""

__version__ = "0.1.0"
