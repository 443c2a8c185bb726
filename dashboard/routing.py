"""WebSocket routes, mounted by `constellation.asgi` behind origin and auth checks."""

from django.urls import path

from dashboard.consumers import StateConsumer

websocket_urlpatterns = [
    path("ws/state/", StateConsumer.as_asgi(), name="ws-state"),
]
