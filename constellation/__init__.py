"""The Django project: settings, the ASGI entry point and the root URLconf."""
