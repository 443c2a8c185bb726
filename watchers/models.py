"""Watcher configuration edited in the Django admin (one row), applied without a restart."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

# A DNS-1123 subdomain followed by "/", as Kubernetes annotation prefixes are spelled.
PREFIX_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/$")
PATTERN_RE = re.compile(r"^[a-z0-9*?\[\]!-]{1,63}$")


def split_patterns(text: str) -> list[str]:
    """Namespace glob patterns from a comma- or newline-separated field."""
    return [p.strip() for p in re.split(r"[,\n]", text or "") if p.strip()]


def validate_patterns(text: str) -> None:
    bad = [p for p in split_patterns(text) if not PATTERN_RE.match(p)]
    if bad:
        raise ValidationError(
            "Not a namespace name or glob pattern (lowercase letters, digits, '-', '*', '?', "
            "'[...]'): %(bad)s",
            params={"bad": ", ".join(bad)},
        )


def validate_prefix(text: str) -> None:
    if len(text) > 254 or not PREFIX_RE.match(text):
        raise ValidationError(
            "An annotation prefix is a DNS subdomain followed by '/', e.g. 'constellation.io/'."
        )


def bounded(low: int, high: int) -> list:
    return [MinValueValidator(low), MaxValueValidator(high)]


class WatcherSettings(models.Model):
    """The tunables of DESIGN §5 and the namespace filter; the watcher polls for changes."""

    debounce_ms = models.PositiveIntegerField(
        default=500,
        validators=bounded(0, 60_000),
        help_text="Changes to a namespace are coalesced this long before they are sent.",
    )
    max_wait_ms = models.PositiveIntegerField(
        default=2000,
        validators=bounded(0, 120_000),
        help_text="A busy namespace is flushed at least this often, however continuous its churn.",
    )
    pending_grace_ms = models.PositiveIntegerField(
        default=1000,
        validators=bounded(0, 60_000),
        help_text="A Pending pod younger than this is not shown yet (most become Running sooner).",
    )
    terminating_linger_ms = models.PositiveIntegerField(
        default=2000,
        validators=bounded(0, 60_000),
        help_text="A deleted pod stays visible as Terminating at least this long.",
    )
    churn_window_s = models.PositiveIntegerField(
        default=60,
        validators=bounded(5, 3600),
        help_text="Sliding window over which pod add/delete rates are measured.",
    )
    churn_threshold_per_min = models.PositiveIntegerField(
        default=60,
        validators=bounded(1, 100_000),
        help_text="Above this many pod adds/deletes per minute a service shows a summary "
        "instead of pods and a high-churn warning is sent.",
    )
    collapse_pods_over = models.PositiveIntegerField(
        default=50,
        validators=bounded(1, 100_000),
        help_text="A service with more pods than this shows a summary bar instead of pods.",
    )
    include_namespaces = models.TextField(
        blank=True,
        default="",
        validators=[validate_patterns],
        help_text="Only these namespaces (comma- or newline-separated globs); empty means all.",
    )
    exclude_namespaces = models.TextField(
        blank=True,
        default="",
        validators=[validate_patterns],
        help_text="Never these namespaces (globs), e.g. kube-*. Applied after the include list.",
    )
    annotation_prefix = models.CharField(
        max_length=254,
        default="constellation.io/",
        validators=[validate_prefix],
        help_text="Prefix of the group, display-name and ignore annotations.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "watcher settings"
        verbose_name_plural = "watcher settings"

    def __str__(self) -> str:
        return "Watcher settings"

    def clean(self) -> None:
        if self.max_wait_ms < self.debounce_ms:
            raise ValidationError(
                {
                    "max_wait_ms": "Must be at least the debounce time, or busy "
                    "namespaces would flush before going quiet."
                }
            )

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.pk = 1  # a singleton: every save edits the one row
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> WatcherSettings:
        """The settings row, created with defaults on first use."""
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj
