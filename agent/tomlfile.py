"""Reading a TOML file on every Python the agent supports (SPEC §14: 3.9 and newer).

`tomllib` from Python 3.11; before it `tomli` (its origin: PyPI installs it on 3.9 and
3.10, Debian 12 ships python3-tomli); failing both `toml`, the only TOML parser Debian 11
packages (python3-toml 0.10). All three give plain dicts, lists and scalars. The text is
decoded here, so every parser sees a str (tomli before 1.2 read text files only) and a
file that is not UTF-8 is one more decoding error, not a traceback.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

_loads: Callable[[str], dict[str, Any]]
ERRORS: tuple[type[Exception], ...]  # what a file that is not valid TOML raises

try:
    import tomllib as _parser
except ImportError:  # Python < 3.11
    try:
        import tomli as _parser  # type: ignore[no-redef]
    except ImportError:
        _parser = None  # type: ignore[assignment]

if _parser is not None:
    _loads = _parser.loads
    ERRORS = (_parser.TOMLDecodeError, UnicodeDecodeError)
else:  # Debian 11: python3-toml
    import toml

    _loads = toml.loads
    ERRORS = (toml.TomlDecodeError, UnicodeDecodeError)


def load(fh: IO[bytes]) -> dict[str, Any]:
    """The document of a file opened in binary mode; raises one of ERRORS when invalid."""
    return _loads(fh.read().decode("utf-8"))


def loads(text: str) -> dict[str, Any]:
    return _loads(text)
