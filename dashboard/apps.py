"""App configuration for the dashboard."""

from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The web app that serves what the watcher publishes."""

    name = "dashboard"
    verbose_name = "Dashboard"
    default_auto_field = "django.db.models.BigAutoField"
