"""What a browser may send on `/ws/state/` (DESIGN §6), checked before the consumer acts on it.

Client frames are untrusted input on a long-lived connection shared with live traffic, so
parsing and rate limiting live here, pure and separately tested: the consumer only maps a
`ClientMessage` to an action and a `ClientError` to an `Error` frame (or a close). Nothing
here does I/O or knows about Django.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import orjson

PING = "Ping"
PONG = "Pong"
RESYNC = "Resync"
SUBSCRIBE = "Subscribe"
CLIENT_TYPES = (PING, PONG, RESYNC, SUBSCRIBE)

# A Subscribe frame is the largest legitimate message and stays far below this.
MAX_FRAME_BYTES = 64 * 1024
# More namespaces than any one screen shows; "*" covers the whole cluster.
MAX_SUBSCRIBE_NAMESPACES = 500
# Kubernetes namespace names are DNS-1123 labels; anything else cannot match a group.
_NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")

# Error codes sent in `Error {code, message}`; the browser's client may switch on them.
TOO_LARGE = "too_large"
BAD_JSON = "bad_json"
BAD_MESSAGE = "bad_message"
UNKNOWN_TYPE = "unknown_type"
BAD_FIELD = "bad_field"
BINARY_FRAME = "binary_frame"
RATE_LIMITED = "rate_limited"
UNAVAILABLE = "unavailable"


class ClientError(ValueError):
    """A client frame the server will not act on; `code` goes into the Error frame."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class View:
    """What a connection shows (DESIGN §6, Size): the trees of `namespaces` (None: every
    namespace, "*"; empty: none) and, with `summary`, every namespace's summary."""

    namespaces: tuple[str, ...] | None = None
    summary: bool = False


@dataclass(frozen=True)
class ClientMessage:
    """One valid client frame; `view` is set for Subscribe only."""

    type: str
    view: View | None = None


def valid_namespace(name: str) -> bool:
    """Whether `name` is a Kubernetes namespace name (DNS-1123 label)."""
    return _NAMESPACE.fullmatch(name) is not None


def frame_too_large(text: str, max_bytes: int = MAX_FRAME_BYTES) -> bool:
    """Whether the UTF-8 form of `text` exceeds `max_bytes` (encoding only when it might)."""
    if len(text) > max_bytes:
        return True
    if len(text) * 4 <= max_bytes:
        return False
    return len(text.encode()) > max_bytes


def parse_client_frame(text: str, max_bytes: int = MAX_FRAME_BYTES) -> ClientMessage:
    """The message in one text frame, or ClientError saying what is wrong with it."""
    if frame_too_large(text, max_bytes):
        raise ClientError(TOO_LARGE, f"frames are limited to {max_bytes} bytes")
    try:
        content = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ClientError(BAD_JSON, "frame is not valid JSON") from None
    if not isinstance(content, dict):
        raise ClientError(BAD_MESSAGE, "a message must be a JSON object")
    kind = content.get("type")
    if not isinstance(kind, str):
        raise ClientError(BAD_MESSAGE, "a message needs a string `type`")
    if kind not in CLIENT_TYPES:
        raise ClientError(
            UNKNOWN_TYPE, f"unknown type {kind[:40]!r}; expected one of {', '.join(CLIENT_TYPES)}"
        )
    if kind == SUBSCRIBE:
        summary = content.get("summary", False)
        if not isinstance(summary, bool):
            raise ClientError(BAD_FIELD, "`summary` must be true or false")
        namespaces = parse_namespaces(content.get("namespaces", "*"))
        return ClientMessage(SUBSCRIBE, View(namespaces, summary))
    return ClientMessage(kind)


def parse_view(query: Mapping[str, list[str]]) -> View:
    """The view a connection asks for in its URL: `?namespaces=a,b` (or `*`), `&summary=1`.

    Without `namespaces` a connection gets every tree, as before views existed (scripts);
    pages always say what they show, so their first FullState is already bounded.
    """
    raw = query.get("namespaces")
    if raw is None:
        namespaces: tuple[str, ...] | None = None
    else:
        names = [name.strip() for value in raw for name in value.split(",") if name.strip()]
        namespaces = None if names == ["*"] else parse_namespaces(names)
    flags = query.get("summary", ["0"])
    if flags[-1] not in ("0", "1"):
        raise ClientError(BAD_FIELD, "`summary` must be 0 or 1")
    return View(namespaces, flags[-1] == "1")


def parse_namespaces(value: object) -> tuple[str, ...] | None:
    """Subscribe's `namespaces`: "*" → None (all), else a sorted, de-duplicated tuple."""
    if value == "*":
        return None
    if not isinstance(value, list):
        raise ClientError(BAD_FIELD, '`namespaces` must be "*" or a list of namespace names')
    if len(value) > MAX_SUBSCRIBE_NAMESPACES:
        raise ClientError(BAD_FIELD, f"at most {MAX_SUBSCRIBE_NAMESPACES} namespaces per Subscribe")
    for name in value:
        if not isinstance(name, str):
            raise ClientError(BAD_FIELD, "`namespaces` must hold strings only")
        if not valid_namespace(name):
            raise ClientError(BAD_FIELD, f"{name[:70]!r} is not a valid namespace name")
    return tuple(sorted(set(value)))


class FloodGate:
    """Sliding-window limit on client frames; time is an argument so tests need no clock."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._times: deque[float] = deque()

    def allow(self, now: float) -> bool:
        """Record a frame at `now`; False once more than `limit` fell within the window."""
        times = self._times
        while times and times[0] <= now - self.window_s:
            times.popleft()
        times.append(now)
        return len(times) <= self.limit
