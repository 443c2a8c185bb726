"""Reading a watch response's chunked body a block at a time: several events per read, not one.

An API server writes one HTTP chunk per watch event, and urllib3's `stream()` yields one chunk per
iteration (a size line, the data and a CRLF, each its own read). Under churn that is a socket read
and a thread wake-up per event, which on our machines costs more CPU than parsing the event: it is
most of what a bare client loop spends. `read_paced` instead takes whatever the socket holds with
one `read1`, undoes the chunk framing itself (`Dechunker`, pure and tested with literal bytes), and
when a read drained the socket waits until `interval_s` after that read began before reading
again, so events that trickle in meanwhile are read, parsed and handed over together. Throughput
is never capped: a read that fills the block is followed by the next at once, and a stream fast
enough to gather more than `FILL` bytes within the interval is read as often as it gathers
that much. The socket's receive buffer must never fill between reads: the server then stops
sending, and the watch falls behind the cluster (at 2,000 pod events/s, reads every 250 ms
kept up with 1,200 a second).

Each block comes with the earliest time its data can have arrived: when the socket was last
known to be empty (the end of the read before), but no earlier than `interval_s` before the
block was read (a read that blocked got data that came while it waited). The watcher debounces
from that time, so pacing the reads never delays a flush.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Protocol

MAX_SIZE_LINE = 1024  # a chunk-size line is a few hex digits; more is a broken stream
BLOCK = 256 * 1024  # bytes asked of the socket per read
# Bytes a paced read lets gather: Linux's initial TCP receive buffer, which it grows for a reader
# that keeps up. At 200 pod events/s reads stay at the interval (~100 KB each; reading more often
# spread the namespaces' debounce deadlines: ~25% more flushes and publishes, and CPU); at 2,000/s
# they come every ~60 ms.
FILL = 128 * 1024
MIN_GATHER_S = 0.001  # a read that found data waiting says nothing faster about its rate


class ChunkError(ValueError):
    """The body is not valid chunked transfer encoding."""


class Dechunker:
    """Incremental decoder of chunked transfer encoding: framed bytes in, payload bytes out."""

    def __init__(self) -> None:
        self._rest = b""  # undecoded bytes: part of a size line or of a chunk's trailing CRLF
        self._left = 0  # payload bytes still due in the current chunk
        self._crlf = False  # the CRLF after a chunk's payload is due
        self.done = False  # the last (zero-size) chunk arrived

    def feed(self, data: bytes) -> bytes:
        """The payload in `data` (plus what earlier calls left undecoded)."""
        buf = self._rest + data if self._rest else data
        out = []
        pos, end = 0, len(buf)
        while pos < end and not self.done:
            if self._left:
                take = min(self._left, end - pos)
                out.append(buf[pos : pos + take])
                pos += take
                self._left -= take
                self._crlf = not self._left
            elif self._crlf:
                if end - pos < 2:
                    break
                if buf[pos : pos + 2] != b"\r\n":
                    raise ChunkError(f"no CRLF after a chunk: {buf[pos : pos + 20]!r}")
                pos += 2
                self._crlf = False
            else:
                newline = buf.find(b"\r\n", pos, pos + MAX_SIZE_LINE)
                if newline < 0:
                    if end - pos >= MAX_SIZE_LINE:
                        raise ChunkError(f"chunk size line too long: {buf[pos : pos + 20]!r}")
                    break
                size_text = buf[pos:newline].split(b";", 1)[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise ChunkError(f"bad chunk size {size_text[:20]!r}") from None
                pos = newline + 2
                self._left = size
                self.done = size == 0  # trailers after the last chunk are not needed
        self._rest = buf[pos:] if not self.done else b""
        return out[0] if len(out) == 1 else b"".join(out)


class Readable(Protocol):
    def read1(self, size: int = ..., /) -> bytes: ...


def read_paced(
    fp: Readable,
    interval_s: float,
    wait: Callable[[float], bool],
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[tuple[bytes, float]]:
    """(payload, earliest arrival time) blocks of the chunked body read from `fp` (a buffered
    socket file), until the last chunk or EOF. `wait(seconds)` sleeps and returns True when the
    reader should stop."""
    dechunker = Dechunker()
    empty_since = clock()
    while not dechunker.done:
        started = clock()
        data = fp.read1(BLOCK)
        if not data:
            return
        read_at = clock()
        payload = dechunker.feed(data)
        if payload:
            yield payload, max(empty_since, read_at - interval_s)
        # At the rate this data came in since the socket was last empty, FILL bytes take
        # `filling` seconds: read again by then, and at the latest after the interval.
        filling = FILL * max(read_at - empty_since, MIN_GATHER_S) / len(data)
        empty_since = read_at
        if len(data) < BLOCK and not dechunker.done:
            pause = started + min(interval_s, filling) - clock()
            if pause > 0 and wait(pause):
                return
