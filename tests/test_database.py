import pytest
from django.contrib.auth.models import User
from django.db import connection


@pytest.mark.django_db
def test_the_configured_database_is_migrated_and_stores_rows() -> None:
    User.objects.create(username="operator", email="ops@example.com")

    assert User.objects.get(username="operator").email == "ops@example.com"
    assert connection.vendor in {"sqlite", "postgresql"}
