"""The dashboard's HTTP routes."""

from django.urls import path

from dashboard import health

app_name = "dashboard"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
]
