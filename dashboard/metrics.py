"""The web process's Prometheus metrics for `/ws/state/` (served by `/metrics`).

They answer the operator's questions about fan-out: how many browsers are connected, how
much is sent to them, and how often the consistency machinery (resyncs, gap healing) had to
step in — a rising heal rate means the channel layer is dropping messages. Registered in
prometheus_client's default REGISTRY. Label children used per message are bound here once, so
forwarding a frame costs one counter increment and no label lookup.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

CLIENTS = Gauge("constellation_web_ws_clients", "WebSocket clients connected to this process")
CONNECTIONS = Counter(
    "constellation_web_ws_connections", "WebSocket connection attempts, by outcome", ["outcome"]
)
ACCEPTED = CONNECTIONS.labels("accepted")
REFUSED = CONNECTIONS.labels("refused")

MESSAGES_SENT = Counter(
    "constellation_web_ws_messages_sent", "Frames sent to WebSocket clients, by kind", ["kind"]
)
FORWARDED = MESSAGES_SENT.labels("forwarded")
FULL_STATES = MESSAGES_SENT.labels("full_state")
HEALS = MESSAGES_SENT.labels("heal")
PINGS = MESSAGES_SENT.labels("ping")
PONGS = MESSAGES_SENT.labels("pong")
ERRORS = MESSAGES_SENT.labels("error")

STALE_DROPPED = Counter(
    "constellation_web_ws_stale_dropped",
    "Channel-layer messages dropped because the client already had them (snapshot or filter)",
)
RESYNCS = Counter("constellation_web_ws_resyncs", "FullState frames sent, by reason", ["reason"])
GAPS_HEALED = Counter(
    "constellation_web_ws_gaps_healed",
    "Namespaces re-sent from the snapshot after an ns_seq gap or a lost trailing message",
)
ERRORS_SENT = Counter(
    "constellation_web_ws_errors_sent", "Error frames sent for bad client input, by code", ["code"]
)
SEND_FAILURES = Counter(
    "constellation_web_ws_send_failures",
    "Frames the server could not send: the peer was gone (closed), or the frame was larger "
    "than a WebSocket message may be (too_large: a bug; the client got an Error instead)",
    ["reason"],
)
CLOSED = Counter(
    "constellation_web_ws_closed_by_server", "Connections the server closed, by reason", ["reason"]
)
LAYER_FAILURES = Counter(
    "constellation_web_ws_layer_failures",
    "Channel-layer or snapshot operations that failed (Redis unreachable); retried",
)

HUB_RECEIVED = Counter(
    "constellation_web_fanout_layer_messages",
    "Channel-layer messages this process received (once each, for all its clients)",
)
HUB_GROUPS = Gauge(
    "constellation_web_fanout_groups",
    "Channel-layer groups this process is in (a namespace's while a client here watches it)",
)
HUB_CHECKS = Counter(
    "constellation_web_fanout_checks",
    "Looks at the snapshot's counters (about one a second while clients are connected)",
)
HUB_LOST = Counter(
    "constellation_web_fanout_lost",
    "Namespaces whose latest message never reached this process (layer drop or outage); the "
    "clients that watch them are healed from the snapshot",
)
