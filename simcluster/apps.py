"""App configuration for simcluster, so `manage.py simulate_cluster` is found."""

from django.apps import AppConfig


class SimclusterConfig(AppConfig):
    """The simulated Kubernetes API server used by the demo, tests and benchmarks."""

    name = "simcluster"
    label = "simcluster"
    verbose_name = "Simulated cluster"
    default_auto_field = "django.db.models.BigAutoField"
