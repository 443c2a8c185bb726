"""Daphne as Constellation runs it, for `manage.py web` (production) and `manage.py serve`.

Two things the `daphne` command line cannot set:

- A client frame over Daphne's 1 MiB message limit makes autobahn fail the connection, and by
  default it fails by dropping TCP: the client sees 1006 and no reason. With `failByDrop` off
  it sends the close frame first (1009, message too big).
- On shutdown Daphne cancels its applications without closing their WebSockets, so browsers
  wait for a dead TCP connection to time out; `close_websockets` sends each a going-away close
  frame first, so they reconnect (to another replica) at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("constellation.serve")

GOING_AWAY = 1001
"""The close code a server sends as it shuts down (RFC 6455 §7.4.1)."""
PART_STOP_TIMEOUT_S = 5.0
"""How long shutdown waits for clients to answer a close frame (and `serve` for the watcher)."""


def build_server(
    application: Any, host: str, port: int, ready: Callable[[], None] | None = None
) -> Any:
    """A Daphne server on host:port with the protocol options and shutdown above."""
    # Daphne's server module installs Twisted's asyncio reactor on import.
    from daphne.server import Server
    from twisted.internet import reactor

    server = Server(
        application, endpoints=[f"tcp:port={port}:interface={host}"], ready_callable=ready
    )
    # Daphne builds its WebSocket factory in run(); this runs once the reactor does.
    reactor.callWhenRunning(lambda: server.ws_factory.setProtocolOptions(failByDrop=False))
    # Registered before Daphne's own trigger, which cancels every application instance.
    reactor.addSystemEventTrigger("before", "shutdown", close_websockets, server)
    return server


def close_websockets(server: Any) -> Any:
    """Send every open WebSocket a going-away close frame; fires once all have closed.

    autobahn's public `sendClose` accepts only the codes an application may use (1000,
    3000-4999), so the frame is sent one level down; a client that never answers is dropped
    by autobahn's close-handshake timeout, and waiting is bounded here as well.
    """
    from daphne.ws_protocol import WebSocketProtocol
    from twisted.internet import defer, reactor

    open_sockets = [
        protocol
        for protocol in server.connections
        if isinstance(protocol, WebSocketProtocol) and protocol.state == protocol.STATE_OPEN
    ]
    log.info("stopping part=web websockets=%d close_code=%d", len(open_sockets), GOING_AWAY)
    for protocol in open_sockets:
        protocol.sendCloseFrame(code=GOING_AWAY, reasonUtf8=b"server shutting down")
    closed = defer.DeferredList([protocol.is_closed for protocol in open_sockets])
    return closed.addTimeout(PART_STOP_TIMEOUT_S, reactor).addErrback(
        lambda _: log.warning(
            "websockets still open after %g s; dropping them", PART_STOP_TIMEOUT_S
        )
    )
