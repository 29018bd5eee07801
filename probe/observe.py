"""One cycle's look at every target: one echo request each, all at once from one ICMP
socket per address family (as fping does: a thousand targets cost one socket and one wait,
not a thousand), and the TCP ports the collector names, connected without blocking under
one selector.

icmplib builds and parses the packets (its sockets, not its `ping`, which waits for each
host in turn); where it is missing (Debian 11), the agent's `ping_many` (the system's
ping, sixteen at a time) does the work. `read()`s here touch the OS; `observation()` is
pure.
"""
from __future__ import annotations

import errno
import logging
import select
import selectors
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent.probes.ping import raw_sockets_allowed

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    server_id: str
    address: str
    ports: tuple[int, ...] = ()


@dataclass(frozen=True)
class Echo:
    """One echo request's outcome: `sent` 0 when it could not leave (no evidence)."""

    sent: int
    received: int
    rtt: float | None = None
    error: str | None = None


def observation(target: Target, at: str, echo: Echo, ports: dict[int, bool]
                ) -> dict[str, Any]:
    """Pure: what the collector is told of one target (POST /api/v1/observations)."""
    out: dict[str, Any] = {"server_id": target.server_id, "at": at,
                           "ping": {"sent": echo.sent, "received": echo.received}}
    if echo.rtt is not None:
        out["ping"]["rtt_avg_seconds"] = round(echo.rtt, 6)
    if ports:
        out["ports"] = [{"port": p, "open": ok} for p, ok in sorted(ports.items())]
    return out


def ping_all(addresses: Sequence[str], timeout: float) -> dict[str, Echo]:
    """One echo request to each address, replies awaited together for `timeout` s."""
    try:
        from icmplib import ICMPRequest, ICMPv4Socket, ICMPv6Socket  # type: ignore[import-untyped]
        from icmplib.exceptions import ICMPLibError  # type: ignore[import-untyped]
    except ImportError:  # Debian 11: the system's ping through the agent's helper
        return _ping_command(addresses, timeout)
    resolved = {a: _resolve(a) for a in dict.fromkeys(addresses)}
    out: dict[str, Echo] = {a: Echo(0, 0, error=err) for a, (ip, err) in resolved.items()
                            if ip is None}
    privileged = raw_sockets_allowed()
    for family, kind in ((socket.AF_INET, ICMPv4Socket), (socket.AF_INET6, ICMPv6Socket)):
        wanted = {a: ip for a, (ip, _) in resolved.items()
                  if ip is not None and (":" in ip) == (family == socket.AF_INET6)}
        if not wanted:
            continue
        try:
            sock = kind(privileged=privileged)
        except (ICMPLibError, OSError) as exc:
            out.update({a: Echo(0, 0, error=f"{type(exc).__name__}: {exc}") for a in wanted})
            continue
        try:
            out.update(_round(sock, wanted, timeout, ICMPRequest, ICMPLibError, privileged))
        finally:
            sock.close()
    return out


def _resolve(address: str) -> tuple[str | None, str | None]:
    try:
        info = socket.getaddrinfo(address, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        return None, f"NameLookupError: {exc}"
    return str(info[0][4][0]), None


def _round(sock: Any, wanted: dict[str, str], timeout: float, request_type: Any,
           errors: Any, privileged: bool) -> dict[str, Echo]:
    ident = (id(sock) >> 4) & 0xFFFF
    by_seq: dict[int, tuple[str, str, float]] = {}
    out: dict[str, Echo] = {}
    _grow_buffer(sock, len(wanted))

    def take(reply: Any) -> None:
        sent = by_seq.get(reply.sequence)
        # an echo reply from the address it was sent to (an unprivileged socket's id is
        # the kernel's, so the id is not compared); ICMP errors are no answer
        if sent is None or reply.source != sent[1] or reply.type not in (0, 129) \
                or (privileged and reply.id != ident):  # a raw socket sees every echo
            return
        if out[sent[0]].received == 0:
            out[sent[0]] = Echo(1, 1, rtt=time.monotonic() - sent[2])

    for seq, (address, ip) in enumerate(wanted.items()):
        if seq % SEND_BURST == SEND_BURST - 1:
            _drain(sock, take, errors)  # replies of near hosts come back while we send
        request = request_type(destination=ip, id=ident, sequence=seq & 0xFFFF,
                               payload_size=16)
        try:
            sock.send(request)
        except (errors, OSError) as exc:
            out[address] = Echo(0, 0, error=f"{type(exc).__name__}: {exc}")
            continue
        by_seq[seq & 0xFFFF] = (address, ip, time.monotonic())
        out[address] = Echo(1, 0)
    deadline = time.monotonic() + timeout
    while sum(e.received for e in out.values()) < len(by_seq):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            take(sock.receive(None, left))
        except errors:
            break  # TimeoutExceeded, or the socket failed: the rest went unanswered
    return out


SEND_BURST = 32  # echo requests sent between two looks at the replies already back


def _drain(sock: Any, take: Any, errors: Any) -> None:
    """Take the replies already waiting, without waiting (icmplib's receive drops a
    packet read after its time limit, so it is called only when one is there)."""
    raw = getattr(sock, "_sock", None)
    if raw is None:
        return
    while select.select([raw], [], [], 0)[0]:
        try:
            take(sock.receive(None, 1.0))
        except errors:
            return


def _grow_buffer(sock: Any, targets: int) -> None:
    """Room for every reply of a round (the default buffer holds about 200)."""
    raw = getattr(sock, "_sock", None)
    if raw is None:
        return
    wanted = min(max(targets, 256) * 2048, 8 * 1024 * 1024)
    for option in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
        if option is None:
            continue
        try:
            raw.setsockopt(socket.SOL_SOCKET, option, wanted)
            return
        except OSError:
            continue


def _ping_command(addresses: Sequence[str], timeout: float) -> dict[str, Echo]:
    from agent.probes.ping import ping_many

    results = ping_many([(a, 1, 0.2, timeout) for a in addresses])
    return {r.target: Echo(r.sent, r.received, r.rtt_avg_seconds, r.error) for r in results}


def open_ports(pairs: Sequence[tuple[str, int]], timeout: float) -> dict[tuple[str, int], bool]:
    """Each (address, port): did a TCP connection open within `timeout` s? All at once."""
    out: dict[tuple[str, int], bool] = {}
    selector = selectors.DefaultSelector()
    try:
        for address, port in dict.fromkeys(pairs):
            try:
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                sock = socket.socket(family, socket.SOCK_STREAM)
            except OSError:
                out[(address, port)] = False
                continue
            sock.setblocking(False)
            code = sock.connect_ex((address, port))
            if code in (0, errno.EINPROGRESS):
                selector.register(sock, selectors.EVENT_WRITE, (address, port))
            else:
                out[(address, port)] = False
                sock.close()
        deadline = time.monotonic() + timeout
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for key, _ in selector.select(left):
                done = key.fileobj
                assert isinstance(done, socket.socket)
                out[key.data] = done.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
                selector.unregister(done)
                done.close()
        for key in list(selector.get_map().values()):
            out[key.data] = False  # no answer in time
            selector.unregister(key.fileobj)
            key.fileobj.close()  # type: ignore[union-attr]
    finally:
        selector.close()
    return out
