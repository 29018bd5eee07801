"""The one reader of TOML tables, for the agent and the collector (SPEC §2: exit 2 with
every problem, each line naming the file and the key).

Each table declares its keys once (`Key`: name, TOML type, default, check); a `Table`
reads them and records a `Problem` naming the full key and quoting the bad value instead
of raising, so an operator fixes a file in one pass: `services[0].target: not a number
(got 'high')`. A secret is the exception: its value is never quoted (`admin_token: not a
string (got a list)`), and a file that holds one inline must be as private as a `*_file`
(`private_file_problem`). A leaf module (standard library and agent.secret only): the
agent keeps its memory budget, and the collector imports it without importing the rest
of the agent.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from agent.secret import Secret, read_secret_file

Check = Callable[[Any], "str | None"]  # None, or what is wrong with a value of the right type


class _Marker:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


REQUIRED: Final[Any] = _Marker("REQUIRED")  # a missing key is a problem
FIELD: Final[Any] = _Marker("FIELD")  # the default of the dataclass field of the same name

_TYPE_NAMES: Final = {str: "a string", int: "an integer", float: "a number",
                      bool: "true or false", list: "a list", dict: "a table",
                      dt.date: "a date"}
_VALUE_NAMES: Final = {**_TYPE_NAMES, bool: "a boolean", dt.datetime: "a date and time",
                       dt.time: "a time"}
_PRIVATE: Final = 0o077  # group and other bits: any of them lets someone else near a secret


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a configuration file: the full key and what is wrong with it."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


@dataclass(frozen=True)
class Key:
    """One key of a table, declared once.

    `kind` is the TOML type (float accepts an integer and gives a float; bool is never a
    number); `default` is REQUIRED, a value, or FIELD: the default of the dataclass field
    the key fills (`Table.values(keys, cls)`), required when that field has none. `check`
    sees a value of the right type; `convert` turns a good value into the field's type.
    `secret`: no problem quotes the value, it only names what is wrong.
    """

    name: str
    kind: type | tuple[type, ...]
    default: Any = FIELD
    check: Check | None = None
    convert: Callable[[Any], Any] | None = None
    secret: bool = False  # a value no message may quote (a URL with a password...)


class Table:
    """One TOML table being read: typed getters that record problems instead of raising."""

    def __init__(self, raw: object, where: str, problems: list[Problem],
                 inline_secrets: list[str] | None = None) -> None:
        self.where = where
        self.problems = problems
        # the full keys of the secrets written in the file itself, shared with sub-tables
        self.inline_secrets: list[str] = [] if inline_secrets is None else inline_secrets
        self.raw: dict[str, Any] = raw if isinstance(raw, dict) else {}
        self.seen: set[str] = set()
        # a table that is missing or not a table is one problem, not one per key
        self.quiet = not isinstance(raw, dict)
        if raw is not None and not isinstance(raw, dict):
            problems.append(Problem(where, f"not a table (got {shown(raw)})"))

    def key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def problem(self, name: str, message: str) -> None:
        self.problems.append(Problem(self.key(name) if name else self.where, message))

    def has(self, name: str) -> bool:
        return name in self.raw

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = REQUIRED,
            check: Check | None = None, convert: Callable[[Any], Any] | None = None, *,
            show: Callable[[Any], str] | None = repr) -> Any:
        """The value of `name`; on a problem, `default` (None when REQUIRED). A bad value
        is quoted with `show`; with None (a secret) it never is: a problem then names only
        its type (`not a string (got a list)`) or what is wrong with it."""
        self.seen.add(name)
        fallback = None if default is REQUIRED else default
        if name not in self.raw:
            if default is REQUIRED and not self.quiet:
                self.problem(name, "missing")
            return fallback
        value = self.raw[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not is_kind(value, kinds):
            got = (show or kind_of)(value)
            self.problem(name, f"not {kind_names(kinds)} (got {got})")
            return fallback
        if float in kinds and type(value) is int:
            value = float(value)
        message = check(value) if check else None
        if message:
            # quote the value as written; a message that quotes its own value (an item of a
            # list) is kept as it is
            if show is not None and "(got " not in message:
                message = f"{message} (got {show(self.raw[name])})"
            self.problem(name, message)
            return fallback
        return convert(value) if convert else value

    def read(self, key: Key, default: Any = FIELD) -> Any:
        """One declared key; `default` replaces the declared one (a default known at run time)."""
        chosen = key.default if default is FIELD else default
        return self.get(key.name, key.kind, REQUIRED if chosen is FIELD else chosen,
                        key.check, key.convert, show=None if key.secret else repr)

    def values(self, keys: Iterable[Key], cls: type | None = None,
               **defaults: Any) -> dict[str, Any]:
        """Every key read into a dict, ready for `cls(**values)`: a key left at FIELD takes
        the default of `cls`'s field; `defaults` are known only at run time."""
        fields = _field_defaults(cls) if cls is not None else {}
        values: dict[str, Any] = {}
        for key in keys:
            default = defaults.get(key.name, key.default)
            values[key.name] = self.read(key, fields.get(key.name, REQUIRED)
                                         if default is FIELD else default)
        return values

    def table(self, name: str, required: bool = False) -> Table:
        """The sub-table `name` (empty when absent and not required)."""
        raw = self.get(name, dict, REQUIRED if required else {}, show=shown)
        sub = Table(raw if raw is not None else {}, self.key(name), self.problems,
                    self.inline_secrets)
        # a table reported missing or not a table is one problem, not one more per key
        sub.quiet = self.quiet or raw is None or not isinstance(self.raw.get(name, {}), dict)
        return sub

    def tables(self, name: str) -> list[Table]:
        """The array of tables `[[name]]`, each named `name[INDEX]`."""
        items = self.get(name, list, [], show=shown)
        return [Table(item, f"{self.key(name)}[{i}]", self.problems, self.inline_secrets)
                for i, item in enumerate(items)]

    def secret(self, name: str, required: bool = True) -> Secret | None:
        """`name` inline, or `name_file`: a file only its owner can read.

        No message quotes the value of `name` (a mistyped secret is still a secret); the
        path of `name_file` is not one. An inline secret is recorded in `inline_secrets`:
        the file that holds it must then be private too (`private_file_problem`).
        """
        mistyped = name in self.raw and not isinstance(self.raw[name], str)
        inline = self.get(name, str, None, show=None)
        path = self.get(f"{name}_file", str, None)
        if inline is not None and path is not None:
            self.problem(name, f"give {name} or {name}_file, not both")
            return None
        if path is not None:
            try:
                return read_secret_file(path)
            except ValueError as exc:
                self.problem(f"{name}_file", str(exc))
                return None
        if inline is not None and inline.strip():
            self.inline_secrets.append(self.key(name))
            return Secret(inline)
        if required and not self.quiet and not mistyped:  # a mistyped one is reported once
            self.problem(name, "missing" if inline is None else "must not be empty")
        return None

    def finish(self, unknown: str = "unknown key") -> None:
        """Report every key nobody read: a typo must not be silently ignored."""
        for name in sorted(set(self.raw) - self.seen):
            self.problem(name, unknown)


def is_kind(value: object, kinds: Sequence[type]) -> bool:
    if isinstance(value, bool):
        return bool in kinds
    return isinstance(value, tuple(kinds)) or (float in kinds and isinstance(value, int))


def kind_names(kinds: Sequence[type]) -> str:
    return " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)


def kind_of(value: object) -> str:
    """What a value is, without its text: how a problem names a mistyped secret."""
    return _VALUE_NAMES.get(type(value), type(value).__name__)


def shown(value: object) -> str:
    """A scalar quoted; a list or a table only named: one written where a table was
    expected may hold the secrets of that table."""
    return kind_of(value) if isinstance(value, (list, dict)) else repr(value)


def private_file_problem(path: str, mode: int, inline_secrets: Sequence[str], *,
                         without_file: Collection[str] = ()) -> Problem | None:
    """The problem of a file that holds secrets inline and that group or others may read.

    SPEC §3: a token others can read lets them impersonate its owner, so the file is held
    to the rule of a `*_file` (`read_secret_file`). One problem, named after the first
    such key: `chmod 600` fixes them all. `mode` is the file's permission bits;
    `without_file`: the keys that have no `*_file` twin (a database URL).
    """
    if not inline_secrets or not mode & _PRIVATE:
        return None
    first, others = inline_secrets[0], inline_secrets[1:]
    movable = [key for key in inline_secrets if key not in without_file]
    if others:
        listed = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        also, hint = f"; also {listed}", " or move them to *_file keys" if movable else ""
    else:
        also, hint = "", f" or use {_leaf(first)}_file" if movable else ""
    return Problem(first, f"inline secret in a file group or others can read (mode "
                          f"{mode:04o}{also}): chmod 600 {path}{',' if hint else ''}{hint}")


def _leaf(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def _field_defaults(cls: type) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            defaults[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            defaults[f.name] = f.default_factory()
    return defaults


# -- checks shared by both programs; each says what is wrong, the reader quotes the value --


def positive(value: float) -> str | None:
    return None if value > 0 else "must be positive"


def at_most(high: float) -> Check:
    return lambda value: None if value <= high else f"must be at most {high:g}"


def all_of(*checks: Check) -> Check:
    """The first problem of `checks`, in order."""
    return lambda value: next((m for m in (c(value) for c in checks) if m), None)


def non_negative(value: float) -> str | None:
    return None if value >= 0 else "must be >= 0"


def at_least(low: int) -> Check:
    return lambda value: None if value >= low else f"must be at least {low}"


def between(low: int, high: int) -> Check:
    return lambda value: None if low <= value <= high else f"must be between {low} and {high}"


port = between(1, 65535)


def one_of(*allowed: str) -> Check:
    return lambda value: None if value in allowed else f"must be one of {', '.join(allowed)}"


def non_empty(value: str | list[Any]) -> str | None:
    filled = value.strip() if isinstance(value, str) else value
    return None if filled else "must not be empty"


def list_of(kind: type, check: Check | None = None) -> Check:
    """A non-empty list whose every item has `kind` and passes `check`."""
    def items(value: list[Any]) -> str | None:
        if not value:
            return "must not be empty"
        for item in value:
            problem = (None if is_kind(item, (kind,)) else f"item not {kind_names((kind,))}")
            problem = problem or (check(item) if check else None)
            if problem:
                return f"{problem} (got {item!r})"
        return None
    return items


def regex(value: str) -> str | None:
    try:
        re.compile(value)
    except re.error as exc:
        return f"is not a valid regular expression ({exc})"
    return None


def http_url(value: str) -> str | None:
    return None if re.match(r"^https?://[^/\s]+", value) else "not an http:// or https:// URL"


_HOSTNAME: Final = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$")


def is_host(value: str) -> bool:
    """A host name or an IP address."""
    if _HOSTNAME.match(value):
        return True
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def host_port(value: str) -> tuple[str, int] | None:
    """`host:port` or `[v6]:port` (the host a name or an address), or None."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        return None
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return None
        return host[1:-1], int(port_text)
    return (host, int(port_text)) if _HOSTNAME.match(host) else None


def address(value: str) -> str | None:
    return None if host_port(value) else "expected HOST:PORT"
