"""App configuration for the watcher."""

from django.apps import AppConfig


class WatchersConfig(AppConfig):
    """The Kubernetes watcher, its management command and its pure topology core."""

    name = "watchers"
    verbose_name = "Watchers"
    default_auto_field = "django.db.models.BigAutoField"
