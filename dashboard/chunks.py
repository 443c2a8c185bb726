"""Frames no bigger than a WebSocket message may be (DESIGN §6, Size).

Daphne refuses to send a message over 1 MiB (it closes the socket with 1011), and a namespace of
thousands of pods, or a whole cluster, is more than that. A message whose text is longer than
CHUNK_CHARS is sent as consecutive `Chunk {id, index, count, data}` frames, `data` being
consecutive slices of the text; the browser joins the slices of one id and handles the joined
text as the message it is, only once every slice has arrived. Pure: no I/O.
"""

from __future__ import annotations

import functools
import itertools

from constellation import protocol

CHUNK_CHARS = 192 * 1024
"""A slice of at most this many characters encodes to at most 4 bytes each (UTF-8; a quote or
backslash escapes to 2), so a Chunk frame stays under 800 KiB, well below Daphne's 1 MiB."""

_ids = itertools.count(1)


def split(text: str, message_id: str, chunk_chars: int = CHUNK_CHARS) -> list[str]:
    """`text` itself when it is short enough, else its Chunk frames in order."""
    if len(text) <= chunk_chars:
        return [text]
    parts = [text[i : i + chunk_chars] for i in range(0, len(text), chunk_chars)]
    return [
        protocol.encode(
            {
                "type": protocol.CHUNK,
                "id": message_id,
                "index": i,
                "count": len(parts),
                "data": part,
            }
        )
        for i, part in enumerate(parts)
    ]


def new_id() -> str:
    """An id no other chunked message of this process has."""
    return f"m{next(_ids)}"


@functools.lru_cache(maxsize=32)
def forwarded(text: str) -> tuple[str, ...]:
    """The frames of one of the watcher's messages, split once for every client forwarding it
    (the hub hands all of them the same string, whose hash Python keeps)."""
    return tuple(split(text, new_id()))
