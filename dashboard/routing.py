"""WebSocket routes, mounted by `constellation.asgi` behind origin and auth checks.

Empty until the dashboard issue adds the live-state consumer at `/ws/state/`; the ASGI
stack is wired now so that adding it is one line here.
"""

websocket_urlpatterns: list = []
