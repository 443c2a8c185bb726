"""The server-rendered pages over a snapshot in the in-process store (embedded mode).

Trees are built by the watcher's own topology builder from raw objects, so the pages are tested
against exactly what the watcher publishes.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import orjson
import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from constellation.snapshot import SnapshotUpdate, snapshot_store
from constellation.summary import namespace_summary
from dashboard.presenters import dom_id
from watchers.topology import NamespaceObjects, TopologyConfig, build_namespace

XSS = "<img src=x onerror=alert(1)>"
READY = [{"type": "Ready", "status": "True"}]


def pod(name: str, labels: dict[str, str], ready: bool = True, **extra: object) -> dict:
    """A running pod; `rs` in extra names its ReplicaSet (owner), `restarts` its restarts."""
    meta: dict = {"name": name, "namespace": "shop", "labels": labels}
    if "rs" in extra:
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": extra["rs"], "controller": True}]
    return {
        "metadata": meta,
        "spec": {"nodeName": "node-1", "containers": [{"name": "main", "ports": []}]},
        "status": {
            "phase": "Running",
            "conditions": READY if ready else [],
            "podIP": extra.get("ip", "10.0.0.9"),
            "containerStatuses": [{"name": "main", "restartCount": extra.get("restarts", 0)}],
        },
    }


def service(name: str, selector: dict[str, str], **annotations: str) -> dict:
    return {
        "metadata": {
            "name": name,
            "namespace": "shop",
            "labels": {"tier": name},
            "annotations": {f"constellation.io/{k}": v for k, v in annotations.items()},
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "10.96.0.10",
            "selector": selector,
            "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}],
        },
    }


SHOP = NamespaceObjects(
    namespace={
        "metadata": {
            "name": "shop",
            "labels": {"team": "retail"},
            "annotations": {"constellation.io/display-name": "The Shop"},
        },
        "status": {"phase": "Active"},
    },
    pods={
        "web-7d9f-a": pod("web-7d9f-a", {"app": "web", "pod-template-hash": "7d9f"}, rs="web-7d9f"),
        "web-7d9f-b": pod(
            "web-7d9f-b", {"app": "web", "pod-template-hash": "7d9f"}, rs="web-7d9f", restarts=3
        ),
        "api-1a-x": pod("api-1a-x", {"app": "api", "pod-template-hash": "1a"}, rs="api-1a"),
        "api-2b-y": pod("api-2b-y", {"app": "api", "pod-template-hash": "2b"}, rs="api-2b"),
        "api-2b-z": pod(
            "api-2b-z", {"app": "api", "pod-template-hash": "2b"}, ready=False, rs="api-2b"
        ),
        "probe": pod("probe", {"note": XSS}, ip="10.0.0.77"),
    },
    services={
        "web": service("web", {"app": "web"}, group="checkout", **{"display-name": "Web shop"}),
        "api": service("api", {"app": "api"}),
    },
    httproutes={
        "public": {
            "metadata": {"name": "public", "namespace": "shop"},
            "spec": {
                "hostnames": ["shop.example.com"],
                "rules": [{"backendRefs": [{"name": "web", "port": 80}, {"name": "gone"}]}],
            },
        }
    },
)
QUIET = NamespaceObjects(
    namespace={"metadata": {"name": "quiet", "annotations": {"constellation.io/group": "ops"}}}
)


def tree(name: str, objects: NamespaceObjects, collapsed: frozenset[str] = frozenset()) -> dict:
    built = build_namespace(name, objects, TopologyConfig(), lambda ns, n: None, collapsed)
    assert built is not None
    return built


def publish(trees: dict[str, dict], synced: bool = True) -> None:
    """Replace the snapshot with `trees` and their summaries, as the watcher writes them."""
    update = SnapshotUpdate(
        "epoch-1",
        7,
        trees,
        ns_seq=dict.fromkeys(trees, 1),
        synced=synced,
        cluster={"synced": True},
        summaries={ns: orjson.dumps(namespace_summary(tree)) for ns, tree in trees.items()},
    )
    async_to_sync(snapshot_store(None).replace)(update)


@pytest.fixture(autouse=True)
def embedded(settings) -> None:
    """Every test reads the in-process store, with anonymous reads on unless a test says not."""
    settings.REDIS_URL = None
    settings.ALLOW_ANONYMOUS = True
    publish(
        {
            "shop": tree("shop", SHOP, frozenset({"Service/shop/api"})),
            "quiet": tree("quiet", QUIET),
        }
    )


class NodeTree(HTMLParser):
    """For each element with data-node-id: its element id and its ancestors' node ids."""

    VOID = {"meta", "link", "input", "img", "br", "hr", "rect"}

    def __init__(self, html: str) -> None:
        super().__init__()
        self.stack: list[str | None] = []
        self.ancestry: dict[str, list[str]] = {}
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        node_id = found.get("data-node-id")
        if node_id is not None:
            self.ancestry[found.get("id") or node_id] = [n for n in self.stack if n]
        if tag not in self.VOID:
            self.stack.append(node_id)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.stack:
            self.stack.pop()


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def text_of(html: str) -> str:
    """The page's words, tags removed and whitespace collapsed, for reading like a user."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_overview_lists_every_namespace_with_health_words_and_pod_counts(client: Client) -> None:
    html = page(client, "/")
    tiles = dict(
        re.findall(r'<li class="tile [^"]*" data-namespace="([^"]+)">(.*?)</li>', html, re.S)
    )
    assert sorted(tiles) == ["quiet", "shop"]
    shop = text_of(tiles["shop"])
    assert "The Shop" in shop and "Down" in shop  # the missing backend takes the route down
    assert "5 /6 pods ready" in shop
    assert "Churn High churn" in shop  # a collapsed service
    assert "Healthy" in text_of(tiles["quiet"]) and "Churn Calm" in text_of(tiles["quiet"])
    assert "Group ops" in text_of(tiles["quiet"])


def sidebar_names(html: str) -> list[str]:
    return re.findall(r'<li data-namespace="([^"]+)">', html.split('id="sidebar-list">')[1])


def test_sidebar_lists_unhealthy_namespaces_first_with_health_words(client: Client) -> None:
    sidebar = text_of(page(client, "/").split('id="sidebar-list">')[1].split("</ul>")[0])
    assert sidebar == "shop Down quiet Healthy"


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("", ["quiet", "shop"]),
        ("?name=sho", ["shop"]),
        ("?name=the+shop", ["shop"]),
        ("?label=team%3Dretail", ["shop"]),
        ("?label=app", ["shop"]),
        ("?label=app%3Dnothing", []),
        ("?kind=HTTPRoute", ["shop"]),
        ("?kind=Pod&health=Healthy", []),
        ("?health=Healthy", ["quiet"]),
        ("?health=Bogus", ["quiet", "shop"]),
    ],
)
def test_overview_filters_from_the_query_string(client: Client, query: str, shown: list) -> None:
    html = page(client, "/" + query)
    assert re.findall(r'<li class="tile [^"]*" data-namespace="([^"]+)">', html) == shown


def test_overview_keeps_the_filter_in_the_form_and_says_how_many_match(client: Client) -> None:
    html = page(client, "/?name=sho&kind=Service")
    assert 'name="name" value="sho"' in html
    assert '<option value="Service" selected>' in html
    assert "1 of 2 namespaces match" in html


def test_namespace_page_renders_routes_then_services_then_pods(client: Client) -> None:
    html = page(client, "/namespaces/shop/")
    ancestry = NodeTree(html).ancestry
    assert ancestry["node-HTTPRoute/shop/public"] == []  # top level of the namespace's tree
    assert ancestry["node-Service/shop/web"] == ["HTTPRoute/shop/public"]
    assert ancestry["node-Pod/shop/web-7d9f-a"] == ["HTTPRoute/shop/public", "Service/shop/web"]
    assert ancestry["node-ServiceRef/shop/gone"] == ["HTTPRoute/shop/public"]
    assert ancestry["node-Service/shop/api"] == []  # no route points at it
    assert ancestry["node-Pod/shop/probe"] == []  # selected by no service
    order = [html.index(f'id="node-{i}"') for i in ("HTTPRoute/shop/public", "Service/shop/api")]
    assert order == sorted(order)


def test_namespace_cards_show_the_fields_of_their_kind(client: Client) -> None:
    html = page(client, "/namespaces/shop/")
    words = text_of(html)
    assert "Hosts shop.example.com" in words
    assert "web.shop:80 ok" in words
    assert "gone.shop missing" in words and "Service not found" in words
    assert "Web shop web" in words  # display name, then the object's name
    assert "Type ClusterIP Cluster IP 10.96.0.10 Ports 80→8080 Selector app=web" in words
    assert "Pods 2/2 ready Group checkout" in words
    assert "tier=web" in words
    pod_card = text_of(html.split('id="node-Pod/shop/web-7d9f-b"')[1].split("</article>")[0])
    assert "web-7d9f-b Ready # Phase Running Ready Yes Restarts 3 Pod IP 10.0.0.9" in pod_card
    assert "Owner Deployment/web Node node-1" in pod_card


def test_collapsed_service_shows_the_rollout_split_and_a_grid_of_pod_cells(
    client: Client,
) -> None:
    html = page(client, "/namespaces/shop/")
    api = html.split('id="node-Service/shop/api"')[1].split('<div class="podgrid">')
    card, grid = api[0], api[1].split("podgrid__details")[0]
    assert "Pod/shop/api" not in html  # no pod cards, only cells
    words = text_of(card)
    assert "Summarised 2/3 ready" in words
    assert "Deployment/api 1a : 1/1 ready" in words
    assert "Deployment/api 2b : 1/2 ready" in words
    widths = re.findall(r'class="split__total seg-\d" x="([\d.]+)" y="0" width="([\d.]+)"', card)
    assert widths == [("0.000", "33.333"), ("33.333", "66.667")]
    cells = re.findall(
        r'<button type="button" class="cell cell--(\w+)" data-node-id="([^"]+)" '
        r'aria-label="([^"]+)" tabindex="(-?\d)"></button>',
        grid,
    )
    assert cells == [
        ("ready", "PodCell/shop/api-1a-x", "api-1a-x: Ready", "0"),
        ("ready", "PodCell/shop/api-2b-y", "api-2b-y: Ready", "-1"),
        ("notready", "PodCell/shop/api-2b-z", "api-2b-z: Not ready", "-1"),
    ]
    assert 'role="group" aria-label="Pods of api: 2/3 ready"' in grid
    assert text_of(grid.split('class="podgrid__legend">')[1].split("</ul>")[0]) == (
        "2 ready 1 not ready"
    )


def test_cluster_text_is_escaped_everywhere(client: Client) -> None:
    html = page(client, "/namespaces/shop/")
    assert "note=&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img src=x" not in html


def test_pages_run_no_inline_script(client: Client) -> None:
    for url in ("/", "/groups/", "/namespaces/shop/"):
        html = page(client, url)
        for attributes, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S):
            # Code only from static files; the one inline element is JSON data (json_script).
            assert 'src="/static/' in attributes or 'type="application/json"' in attributes
            assert "src=" in attributes or body.strip().startswith("{")
        assert not re.search(r"<[a-z]+[^>]*\son[a-z]+=", html)  # no inline event handlers


def test_each_page_asks_the_live_client_for_exactly_what_it_shows(client: Client) -> None:
    html = page(client, "/namespaces/shop/")
    assert '"ws_path": "/ws/state/?namespaces=shop\\u0026summary=1"' in html
    assert '"poll_url": "/api/state/?namespace=shop\\u0026summary=1"' in html
    for url in ("/", "/groups/"):
        html = page(client, url)
        assert '"ws_path": "/ws/state/?namespaces=\\u0026summary=1"' in html
        assert '"poll_url": "/api/summary/"' in html


def test_unknown_namespace_is_404(client: Client) -> None:
    assert client.get("/namespaces/nope/").status_code == 404


def test_groups_page_lists_members_by_group_annotation(client: Client) -> None:
    html = page(client, "/groups/")
    sections = dict(re.findall(r'data-group="([^"]+)">(.*?)</section>', html, re.S))
    assert sorted(sections) == ["checkout", "ops"]
    assert "Web shop shop Healthy" in text_of(sections["checkout"])
    assert 'href="/namespaces/shop/#Service/shop/web"' in sections["checkout"]
    assert "Namespace quiet quiet Healthy" in text_of(sections["ops"])


def test_pages_before_the_first_snapshot_say_the_watcher_has_not_published(
    client: Client,
) -> None:
    async_to_sync(snapshot_store(None).replace)(SnapshotUpdate("", 0, synced=False))
    html = page(client, "/")
    assert "Waiting for the watcher: no snapshot yet." in html
    assert "No namespaces to show yet." in html


def test_pages_are_not_cached(client: Client) -> None:
    assert client.get("/").headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("url", ["/", "/groups/", "/namespaces/shop/"])
def test_pages_require_login_unless_anonymous_reads_are_on(
    client: Client, settings, url: str
) -> None:
    settings.ALLOW_ANONYMOUS = False
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/accounts/login/?next=")


@pytest.mark.django_db
def test_logged_in_users_see_the_pages_and_a_logout_button(
    client: Client, settings, django_user_model
) -> None:
    settings.ALLOW_ANONYMOUS = False
    client.force_login(django_user_model.objects.create_user("ada", password="x"))
    html = page(client, "/namespaces/shop/")
    assert "Log out" in html and "ada" in html


def test_an_occurrence_under_a_second_parent_gets_its_own_element_id() -> None:
    node = {"id": "Pod/shop/p", "kind": "Pod", "relatives": ["Service/shop/a", "Service/shop/b"]}
    assert dom_id(node, "Service/shop/a") == "node-Pod/shop/p"
    assert dom_id(node, "Service/shop/b") == "node-Pod/shop/p@Service/shop/b"
    assert dom_id({"id": "Pod/shop/q", "kind": "Pod", "relatives": []}, "Namespace/shop") == (
        "node-Pod/shop/q"
    )


# -- many namespaces: the overview pages, the sidebar stays bounded ------------------------


def team(index: int) -> tuple[str, dict]:
    """A small namespace: every 3rd labelled tier=gold, every 10th Down (a service selecting
    nothing), the rest one Healthy service with one pod."""
    name = f"team-{index:03d}"
    labels = {"tier": "gold"} if index % 3 == 0 else {}
    only_pod = pod("p", {"app": "a"})
    only_pod["metadata"]["namespace"] = name
    objects = NamespaceObjects(
        namespace={"metadata": {"name": name, "labels": labels}},
        pods={"p": only_pod},
        services={"s": service("s", {"app": "none" if index % 10 == 0 else "a"})},
    )
    return name, tree(name, objects)


@pytest.fixture
def many() -> dict[str, dict]:
    trees = dict(team(i) for i in range(150))
    publish(trees)
    return trees


def tile_names(html: str) -> list[str]:
    return re.findall(r'<li class="tile [^"]*" data-namespace="([^"]+)">', html)


def test_the_overview_shows_one_page_of_tiles_and_a_pager(client: Client, many: dict) -> None:
    html = page(client, "/")
    assert tile_names(html) == [f"team-{i:03d}" for i in range(60)]
    assert "150 namespaces · 1–60 shown" in html
    assert '<dd id="stat-namespaces">150</dd>' in html  # totals count every namespace
    assert '<dd data-stat-health="Down">15</dd>' in html
    pager = html.split('id="pager"')[1].split("</nav>")[0]
    assert re.findall(r'data-page="(\d+)">(\d+)<', pager) == [("1", "1"), ("2", "2"), ("3", "3")]
    assert 'href="?page=2" rel="next"' in pager
    assert tile_names(page(client, "/?page=3")) == [f"team-{i:03d}" for i in range(120, 150)]
    assert tile_names(page(client, "/?page=99")) == tile_names(page(client, "/?page=3"))
    assert tile_names(page(client, "/?page=nonsense"))[0] == "team-000"


def test_the_overview_filters_all_namespaces_before_paging(client: Client, many: dict) -> None:
    html = page(client, "/?label=tier%3Dgold&health=Down")
    assert tile_names(html) == [f"team-{i:03d}" for i in range(0, 150, 30)]
    assert "5 of 150 namespaces match" in html
    assert 'id="pager" aria-label="Pages of namespaces" hidden' in html
    second = page(client, "/?name=team-0&page=2")
    assert tile_names(second) == [f"team-{i:03d}" for i in range(60, 100)]
    assert "100 of 150 namespaces match · 61–100 shown" in second
    # Page links keep the filter.
    assert 'href="?name=team-0" rel="prev"' in second


def test_worst_health_first_orders_across_pages(client: Client, many: dict) -> None:
    html = page(client, "/?order=health")
    down = [f"team-{i:03d}" for i in range(0, 150, 10)]
    assert tile_names(html)[:15] == down
    assert tile_names(html)[15] == "team-001"
    assert 'href="?order=health&amp;page=2"' in html


def test_the_sidebar_stays_bounded_and_says_how_many_it_left_out(
    client: Client, many: dict
) -> None:
    html = page(client, "/namespaces/team-077/")
    names = sidebar_names(html)
    down = [f"team-{i:03d}" for i in range(0, 150, 10)]
    assert names[0] == "team-077"  # the namespace being looked at first
    assert names[1:16] == down  # then the unhealthy ones
    assert names[16:] == [n for n in sorted(many) if n not in down and n != "team-077"][:34]
    assert len(names) == 50
    assert "100 more:" in html
    assert '<span class="count" id="sidebar-count">150</span>' in html


def test_label_matches_answers_the_overview_label_filter_by_name(
    client: Client, many: dict
) -> None:
    body = client.get("/label-matches/?label=tier%3Dgold").json()
    assert body == {"label": "tier=gold", "namespaces": sorted(many)[::3]}
    assert client.get("/label-matches/?label=").json()["namespaces"] == []


def test_pages_read_the_namespace_summaries_and_never_every_tree(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dashboard.views

    reads: list[tuple] = []
    real = dashboard.views.read_snapshot

    async def spy(namespaces=None, summaries=False, encoded=False):
        reads.append((None if namespaces is None else tuple(namespaces), summaries))
        return await real(namespaces, summaries, encoded)

    monkeypatch.setattr(dashboard.views, "read_snapshot", spy)
    for url in ("/", "/groups/", "/namespaces/shop/", "/label-matches/?label=app"):
        page(client, url)
    assert reads == [((), True), ((), True), (("shop",), True), ((), True)]


@pytest.mark.django_db
def test_pages_show_only_the_namespaces_the_reader_may_see(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Who sees what (DESIGN §7): tiles, totals, sidebar, groups, search and the namespace page
    all go through `visible_namespaces`; the shop namespace must not leak through any of them."""
    import dashboard.views
    from dashboard.permissions import NamespaceAccess

    monkeypatch.setattr(
        dashboard.views,
        "visible_namespaces",
        lambda user: NamespaceAccess(names=frozenset({"quiet"})),
    )
    overview = page(client, "/")
    assert tile_names(overview) == ["quiet"]
    assert sidebar_names(overview) == ["quiet"]
    assert '<dd id="stat-namespaces">1</dd>' in overview
    assert '<dd data-stat-health="Down">0</dd>' in overview
    assert "1 namespace<" in overview
    assert "shop" not in text_of(page(client, "/groups/"))
    assert client.get("/namespaces/shop/").status_code == 404
    assert client.get("/label-matches/?label=app").json()["namespaces"] == []


@pytest.mark.parametrize("path", ["/", "/namespaces/shop/", "/groups/"])
def test_while_redis_is_down_a_page_answers_503_with_the_reason(
    client, settings, redis_process, path: str
) -> None:
    from tests.redis_server import RedisProcess

    assert isinstance(redis_process, RedisProcess)
    settings.REDIS_URL = redis_process.url
    settings.ALLOW_ANONYMOUS = True
    redis_process.stop()

    response = client.get(path)

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "Redis" in response.content.decode() and "unreachable" in response.content.decode()
