"""Report bodies on disk (issue 12): the JSON text as sent, compact.

Zstandard at level 1 against a preset raw-content dictionary (`_ZDICT_1`, a typical
compact agent report: most of a report's keys, structure and figures are found in it),
behind a one-byte format tag. About 100 bytes for an agent report of 2.3 KB, in 1.6 µs;
zlib level 1 with the same dictionary gives 115 bytes in 7.7 µs (zlib alone: 1 KB in
14 µs), and compression runs in the ingest's hot path (docs/evidence.md has the figures,
`python bench/storage.py --codecs`). The dictionary of a tag never changes: a new
dictionary takes a new tag, and the old one stays readable.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence

import zstandard

LEVEL = 1
_TAG_ZSTD_1 = b"\x02"  # Zstandard (RFC 8878) with the preset dictionary _ZDICT_1
# A compact agent report (agent/model.py `encode`): keys, structure and typical figures.
# Matches near the end of a dictionary are the cheapest: what reports repeat most is last.
_ZDICT_1 = (
    b'{"report_id":"00000000-0000-0000-0000-000000000000","server_id":"web-01","collected_at'
    b'":"2026-12-01T11:13:22.170+00:00","interval":10.0,"agent":{"version":"0.1.0","hostname'
    b'":"web-01","boot_time":"2026-12-01T11:04:40+00:00","uptime_seconds":522.171},"cpu":{"c'
    b'ount":2,"percent":0.5,"seconds":{"user":95.14,"nice":0.0,"system":43.45,"idle":891.27,'
    b'"iowait":4.7,"irq":0.0,"softirq":1.29,"steal":0.16},"percent_by_mode":{"user":0.0,"nic'
    b'e":0.0,"system":0.5,"idle":99.5,"iowait":0.0,"irq":0.0,"softirq":0.0,"steal":0.0},"iow'
    b'ait_percent":0.0},"memory":{"total_bytes":25276502016,"available_bytes":24558247936,"u'
    b'sed_bytes":718254080,"percent":2.84,"swap_total_bytes":0,"swap_used_bytes":0,"swap_per'
    b'cent":0.0},"filesystems":[{"mountpoint":"/","device":"/dev/vda","fstype":"ext4","size_'
    b'bytes":270553174016,"used_bytes":24463458304,"avail_bytes":84480835584,"percent":22.46'
    b'}],"disks":[{"device":"vda","read_bytes":1739314176,"write_bytes":1683480576,"reads":7'
    b'3142,"writes":46234,"busy_seconds":10.108,"read_bytes_per_second":0.0,"write_bytes_per'
    b'_second":0.0,"busy_ratio":0.0}],"network":[{"interface":"eth0","rx_bytes":150028092,"t'
    b'x_bytes":250471,"rx_packets":4064,"tx_packets":2132,"rx_errors":0,"tx_errors":0,"rx_dr'
    b'ops":0,"tx_drops":0,"rx_bits_per_second":0.0,"tx_bits_per_second":0.0},{"interface":"l'
    b'o","rx_bytes":791527,"tx_bytes":791527,"rx_packets":4151,"tx_packets":4151,"rx_errors"'
    b':0,"tx_errors":0,"rx_drops":0,"tx_drops":0,"rx_bits_per_second":0.0,"tx_bits_per_secon'
    b'd":0.0}],"load":{"load1":0.64501953125,"load5":0.333984375,"load15":0.16064453125,"loa'
    b'd1_per_core":0.3225,"load5_per_core":0.167,"load15_per_core":0.0803},"ping":[{"target"'
    b':"192.168.0.1","sent":3,"received":3,"loss_ratio":0.0,"rtt_min_seconds":0.00021,"rtt_a'
    b'vg_seconds":0.00025,"rtt_max_seconds":0.0003,"error":null}],"checks":[{"name":"init","'
    b'type":"process","status":"ok","detail":"37 process(es) matching \'.\'","essential":fal'
    b'se,"severity":"critical","latency_seconds":null,"checked_at":"2026-12-01T11:13:21+00:0'
    b'0","data":{"count":37,"min_count":1,"pids":[1,100,1000]}},{"name":"https","type":"http'
    b'","status":"failed","detail":"HTTP 200 in 0.012 s","essential":true,"severity":"warnin'
    b'g","latency_seconds":0.012,"checked_at":"2026-12-01T11:13:21+00:00","data":{"status":2'
    b'00}}],"errors":[]}')


# Compressors are built once (a dictionary is digested when first used) and used from one
# thread at a time each: zstandard's objects are not thread-safe, so one per thread.
_DICT = zstandard.ZstdCompressionDict(_ZDICT_1, dict_type=zstandard.DICT_TYPE_RAWCONTENT)


class _Codecs(threading.local):
    def __init__(self) -> None:
        self.packer = zstandard.ZstdCompressor(level=LEVEL, dict_data=_DICT,
                                               write_content_size=True, write_checksum=False)
        self.unpacker = zstandard.ZstdDecompressor(dict_data=_DICT)


_codecs = _Codecs()  # per-thread state, like a statement cache: no application state


def encode_body(text: str) -> bytes:
    """A body's JSON text as stored: tag, then Zstandard level 1 against `_ZDICT_1`."""
    data = text.encode("utf-8", "surrogatepass")  # rows of old may hold a lone surrogate
    return _TAG_ZSTD_1 + _codecs.packer.compress(data)


def encode_bodies(texts: Sequence[str]) -> list[bytes]:
    """`encode_body` of many texts in one call into zstandard, the bytes of each alike.

    For the ingest's writer thread: each call into the compressor lets go of the GIL, and
    taking it back waits for the thread holding it (the event loop, busy under load) to
    let go in turn, up to the 5 ms switch interval: 10 us a body alone, 1.6 ms a body
    beside a busy thread; in one call for the batch, that wait comes once per batch."""
    if len(texts) < 2:
        return [encode_body(t) for t in texts]
    packed = _codecs.packer.multi_compress_to_buffer(
        [t.encode("utf-8", "surrogatepass") for t in texts], threads=0)
    return [_TAG_ZSTD_1 + packed[i].tobytes() for i in range(len(packed))]


def decode_body(blob: bytes | None) -> str | None:
    """The JSON text of a stored body; None when there is none. Raises ValueError when
    the bytes are not a body this collector wrote (the caller names the problem)."""
    if blob is None:
        return None
    blob = bytes(blob)  # psycopg hands bytea as memoryview
    if blob[:1] != _TAG_ZSTD_1:
        raise ValueError(f"unknown body format {blob[:1]!r}")
    try:
        data = _codecs.unpacker.decompress(blob[1:])
    except zstandard.ZstdError as exc:
        raise ValueError(f"the stored body cannot be decompressed ({exc})") from None
    return data.decode("utf-8", "surrogatepass")
