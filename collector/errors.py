"""Errors with fields, raised where the caller decides what to do."""
from __future__ import annotations


class ConfigError(Exception):
    """One or more problems in a configuration file, each naming the file and the key."""

    def __init__(self, path: str, problems: list[str]) -> None:
        super().__init__("\n".join(f"{path}: {p}" for p in problems))
        self.path = path
        self.problems = problems

    def lines(self) -> list[str]:
        return [f"{self.path}: {p}" for p in self.problems]


class NotFound(Exception):
    """A resource that does not exist, or that the caller may not see (both answer 404)."""


class Conflict(Exception):
    """A change that contradicts the current state (409)."""


class Invalid(Exception):
    """A request that is well-formed but not acceptable (422); the message names the field."""


class DatabaseTooNew(Exception):
    """The database was migrated by a newer Vigie: refuse it rather than misread it."""

    def __init__(self, revision: str, known_head: str) -> None:
        super().__init__(f"database schema revision {revision!r} is newer than this version of "
                         f"vigie-collector knows (newest known: {known_head!r}); upgrade vigie")
        self.revision = revision
        self.known_head = known_head


class Unauthorized(Exception):
    """No token, or a token nobody was given (401)."""


class Forbidden(Exception):
    """A known principal asking for something it may not do (403)."""


class TooLarge(Exception):
    """A request body over the limit (413)."""
