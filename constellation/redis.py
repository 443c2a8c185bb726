"""How the channel layer connects to Redis.

channels_redis waits up to 5 s in BZPOPMIN for a message; redis-py 8 also gives
up on a socket read after 5 s by default, so an idle receive can fail with a
TimeoutError — and lose the message popped at that instant. Reads therefore get
a longer timeout than the blocking pop; connecting stays quick so an outage is
noticed at once.
"""

from __future__ import annotations

from typing import Any

SOCKET_TIMEOUT_S = 15
CONNECT_TIMEOUT_S = 5


def channel_host(url: str) -> dict[str, Any]:
    """A channels_redis `hosts` entry for `url`."""
    return {
        "address": url,
        "socket_timeout": SOCKET_TIMEOUT_S,
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
    }
