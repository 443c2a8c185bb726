"""The dashboard's HTTP routes, grouped by audience: operations, the REST API, pages."""

from django.urls import path
from rest_framework.renderers import JSONOpenAPIRenderer
from rest_framework.schemas import get_schema_view

from dashboard import api, health, ops, views

app_name = "dashboard"

# Operations: probes and scrapers, no login (see dashboard/ops.py on network exposure).
operations = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics, name="metrics"),
]

# REST API: read-only, session or token authentication (dashboard/api.py).
rest_api = [
    path("api/state/", api.StateView.as_view(), name="api-state"),
    path(
        "api/summary/",
        api.StateView.as_view(
            summary_only=True, schema=api.SnapshotSchema("getSummary", api.SUMMARY_SCHEMA)
        ),
        name="api-summary",
    ),
    path("api/namespaces/<str:name>/", api.NamespaceView.as_view(), name="api-namespace"),
    path(
        "api/schema/",
        get_schema_view(
            title="Constellation API",
            description="Read-only live Kubernetes topology (DESIGN §7).",
            version="1",
            public=True,
            renderer_classes=[JSONOpenAPIRenderer],
        ),
        name="api-schema",
    ),
    # The original project's path, which its users' scripts call; kept out of the schema.
    path("state", api.StateView.as_view(schema=None), name="state"),
]

# Pages (dashboard/views.py): server-rendered from the snapshot, then kept live by static JS.
pages = [
    path("", views.overview, name="overview"),
    path("groups/", views.group_list, name="groups"),
    path("namespaces/<str:name>/", views.namespace, name="namespace"),
    # The overview's live label filter: labels never leave the server, names matching do.
    path("label-matches/", views.label_matches, name="label-matches"),
]

urlpatterns = operations + rest_api + pages
