"""Secrets that hide themselves (Starlette's `Secret`); a leaf module the collector reuses."""
from __future__ import annotations

import os
import stat


class Secret:
    """A string that never shows in a repr, a log line or a traceback."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def read_secret_file(path: str) -> Secret:
    """The secret kept in a file of its own (`token_file`, `password_file`...).

    A file others can read lets them impersonate its owner (SPEC §3), so it must be
    private; raise ValueError with a message naming the file, never showing its content.
    """
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & 0o077:
            raise ValueError(f"{path} has mode {mode:04o}: it must not be readable by group "
                             "or others (chmod 600)")
        with open(path, encoding="utf-8") as fh:
            value = fh.read().strip()
    except OSError as exc:
        raise ValueError(f"cannot read {path} ({exc.strerror})") from None
    if not value:
        raise ValueError(f"{path} is empty")
    return Secret(value)
