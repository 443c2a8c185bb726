"""The watcher settings in the admin: one row, edited in place, never added twice or deleted."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from watchers.models import WatcherSettings


@admin.register(WatcherSettings)
class WatcherSettingsAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "debounce_ms",
        "max_wait_ms",
        "churn_threshold_per_min",
        "collapse_pods_over",
        "annotation_prefix",
        "updated_at",
    )
    readonly_fields = ("updated_at",)
    fieldsets = (
        (
            "Churn and calm",
            {
                "fields": (
                    "debounce_ms",
                    "max_wait_ms",
                    "pending_grace_ms",
                    "terminating_linger_ms",
                    "churn_window_s",
                    "churn_threshold_per_min",
                    "collapse_pods_over",
                )
            },
        ),
        (
            "What is watched",
            {"fields": ("include_namespaces", "exclude_namespaces", "annotation_prefix")},
        ),
        (None, {"fields": ("updated_at",)}),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not WatcherSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        """Straight to the one row's form: a list of one is a needless click."""
        settings = WatcherSettings.load()
        return HttpResponseRedirect(
            reverse("admin:watchers_watchersettings_change", args=[settings.pk])
        )
