
import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from watchers.config import watcher_config
from watchers.models import WatcherSettings


@pytest.mark.django_db
def test_defaults_need_no_editing_and_match_the_pipeline_defaults():
    row = WatcherSettings.load()
    row.full_clean()
    config = watcher_config(row)
    assert config.churn.debounce_ms == 500 and config.churn.max_wait_ms == 2000
    assert config.topology.annotation_prefix == "constellation.io/"
    assert WatcherSettings.load().pk == row.pk == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "field, value",
    [
        ("annotation_prefix", "Not A Prefix"),
        ("annotation_prefix", "constellation.io"),
        ("include_namespaces", "good, BAD_ONE"),
        ("exclude_namespaces", "a b"),
        ("debounce_ms", 70_000),
        ("churn_window_s", 1),
    ],
)
def test_bad_values_are_rejected_with_a_message(field, value):
    row = WatcherSettings.load()
    setattr(row, field, value)
    with pytest.raises(ValidationError) as caught:
        row.full_clean()
    assert field in caught.value.message_dict


@pytest.mark.django_db
def test_max_wait_below_debounce_is_rejected():
    row = WatcherSettings(debounce_ms=1000, max_wait_ms=500)
    with pytest.raises(ValidationError) as caught:
        row.full_clean()
    assert "max_wait_ms" in caught.value.message_dict


@pytest.mark.django_db
def test_admin_edits_the_one_row_and_shows_errors_for_bad_values(client):
    User.objects.create_superuser("admin", "a@example.com", "pw")
    client.login(username="admin", password="pw")
    listing = client.get("/admin/watchers/watchersettings/")
    assert listing.status_code == 302 and listing["Location"].endswith("/1/change/")
    form = {
        f.name: getattr(WatcherSettings.load(), f.name)
        for f in WatcherSettings._meta.fields
        if f.name not in ("id", "updated_at")
    }
    bad = client.post(
        "/admin/watchers/watchersettings/1/change/", {**form, "annotation_prefix": "no slash"}
    )
    assert bad.status_code == 200
    assert "An annotation prefix is a DNS subdomain" in bad.content.decode()
    assert WatcherSettings.load().annotation_prefix == "constellation.io/"
    good = client.post(
        "/admin/watchers/watchersettings/1/change/", {**form, "exclude_namespaces": "kube-*"}
    )
    assert good.status_code == 302
    assert WatcherSettings.load().exclude_namespaces == "kube-*"
    assert client.get("/admin/watchers/watchersettings/add/").status_code == 403
