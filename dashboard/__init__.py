"""The web side: pages, the live-state WebSocket, the API and health endpoints."""
