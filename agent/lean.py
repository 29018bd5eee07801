"""Process-wide memory settings of the daemon, applied by `__main__` only, before the
first thread starts. Issue 2 asks for under 35 MB resident; bench/agent_overhead.py
measures it (figures below: Linux x86-64, glibc, Python 3.11, five checks configured).
"""
from __future__ import annotations

import logging
import os
import sys
import warnings

logger = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc <malloc.h>


def without_charset_detection() -> None:
    """Keep requests from importing charset_normalizer: 2.6 MiB resident.

    requests uses it only to guess the encoding of a text body that declares none; the
    sender reads the collector's JSON (requests infers its encoding without it) and the
    http check decodes with the declared charset or UTF-8. Without it requests falls
    back to UTF-8 (requests/models.py `apparent_encoding`) and warns once at import.
    """
    if "requests" in sys.modules:
        return  # too late, and nothing to gain
    sys.modules.setdefault("charset_normalizer", None)  # type: ignore[arg-type]
    warnings.filterwarnings("ignore", message="Unable to find acceptable character "
                            "detection dependency", module="requests")


def one_malloc_arena() -> None:
    """Make glibc's malloc share one arena between threads: 0.9 MiB resident.

    glibc gives each thread that mallocs its own arena (up to 8 per core) and keeps up
    to ~128 KiB of freed memory in each; the agent runs up to ten threads (the cycle,
    the checks, the scrapes) that hold the GIL while they allocate anyway, so one arena
    costs no contention. MALLOC_ARENA_MAX or GLIBC_TUNABLES set by the operator win.
    """
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ \
            or "arena_max" in os.environ.get("GLIBC_TUNABLES", ""):
        return
    import ctypes  # 0.2 MiB, here only

    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the process already runs on
    except (OSError, AttributeError):
        return  # not glibc (musl has no per-thread arenas to limit)
    if not mallopt(M_ARENA_MAX, 1):
        logger.debug("mallopt(M_ARENA_MAX, 1) refused")
