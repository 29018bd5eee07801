"""Errors the agent raises where the caller must decide what to do."""
from __future__ import annotations

from collections.abc import Sequence

from agent.tomlconf import Problem


class ConfigError(Exception):
    """A configuration file that cannot be used, with every problem found in it.

    `lines()` gives one line per problem, `FILE: key: message` (SPEC §2); the message
    quotes the bad value, never a secret.
    """

    def __init__(self, path: str, problems: Sequence[Problem]) -> None:
        self.path = path
        self.problems = tuple(problems)
        super().__init__("\n".join(self.lines()))

    @classmethod
    def one(cls, path: str, key: str, message: str) -> ConfigError:
        """A file that cannot be read at all (missing, unreadable, not TOML)."""
        return cls(path, [Problem(key, message)])

    def lines(self) -> list[str]:
        return [f"{self.path}: {problem}" for problem in self.problems]
