"""The HTTP side of simcluster: Kubernetes wire protocol over aiohttp.

Protocol-free work lives in store/listing/watch/patching; this module only
routes requests, applies auth and injected faults, and shapes responses
(Status errors, Tables, discovery) as a kube-apiserver would.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import orjson
import yaml
from aiohttp import web

from simcluster import discovery, errors, patching, scale, tables
from simcluster.faults import Faults
from simcluster.listing import Lister, parse_int, parse_selection
from simcluster.routing import Target, resolve
from simcluster.store import Obj, Store
from simcluster.watch import WatchStream, truthy

log = logging.getLogger("simcluster.server")

OPEN_PATHS = ("/version", "/healthz", "/readyz", "/livez")
CONTROL_PREFIX = "/_simcluster"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def status_response(error: errors.ApiError) -> web.Response:
    response = json_response(error.status(), error.code)
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def parse_body(raw: bytes, content_type: str = "application/json") -> Any:
    """The request body as data; 400 BadRequest when it does not parse."""
    try:
        if content_type == APPLY_PATCH:
            return yaml.safe_load(raw)
        return orjson.loads(raw)
    except (orjson.JSONDecodeError, yaml.YAMLError) as exc:
        raise errors.bad_request(f"couldn't get version/kind; json parse error: {exc}") from None


def without_type_meta(obj: Obj) -> Obj:
    """Built-in list items carry no kind/apiVersion on a real server (K8S_API §2)."""
    return {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}


class ApiServer:
    """Answers Kubernetes API requests against one store."""

    def __init__(
        self,
        store: Store,
        faults: Faults | None = None,
        *,
        token: str | None = None,
        watch_timeout_s: float | None = None,
        bookmark_interval_s: float = 5.0,
        control: Any = None,
    ) -> None:
        self.store = store
        self.faults = faults or Faults()
        self.faults.on_change = self._wake_watches
        self.token = token
        self.watch_timeout_s = watch_timeout_s
        self.bookmark_interval_s = bookmark_interval_s
        self.lister = Lister(store)
        self.watches: set[WatchStream] = set()
        # The SimCluster, for control-endpoint actions beyond faults (compaction, CRDs).
        self.control = control
        self.server_address = "127.0.0.1:0"

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    def _wake_watches(self) -> None:
        for stream in list(self.watches):
            stream.wake()

    # -- entry point -----------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.path.strip("/")
        try:
            if path.startswith(CONTROL_PREFIX):
                return await self.handle_control(request, path[len(CONTROL_PREFIX) :])
            if path in ("/healthz", "/readyz", "/livez"):
                return web.Response(text="ok", content_type="text/plain")
            if path not in OPEN_PATHS:
                self._authenticate(request)
                failure = self.faults.take_failure()
                if failure is not None:
                    raise self._injected(failure)
            discovered = self._discovery(path)
            if discovered is not None:
                return discovered
            return await self.handle_resource(request, resolve(self.store.registry, path))
        except errors.ApiError as error:
            if error.code >= 500:
                log.info(
                    "answering %s %s with %s %s",
                    request.method,
                    request.path_qs,
                    error.code,
                    error.reason,
                )
            return status_response(error)

    def _authenticate(self, request: web.Request) -> None:
        if self.token is None:
            return
        if request.headers.get("Authorization", "") != f"Bearer {self.token}":
            raise errors.unauthorized()

    def _injected(self, code: int) -> errors.ApiError:
        if code == 429:
            return errors.ApiError(
                429,
                "TooManyRequests",
                "Too many requests, please try again later.",
                {"retryAfterSeconds": 1},
                retry_after=1,
            )
        if code == 503:
            return errors.ApiError(
                503, "ServiceUnavailable", "the server is currently unable to handle the request"
            )
        return errors.ApiError(
            code,
            "InternalError",
            "Internal error occurred: injected by simcluster",
            {"causes": [{"message": "injected fault"}]},
        )

    # -- discovery -------------------------------------------------------------

    def _discovery(self, path: str) -> web.Response | None:
        registry = self.store.registry
        segments = [s for s in path.split("/") if s]
        if path == "/version":
            return json_response(discovery.SERVER_VERSION)
        if path == "/api":
            return json_response(discovery.api_versions(self.server_address))
        if path == "/apis":
            return json_response(discovery.api_group_list(registry))
        if path in ("/openapi/v2", "/swagger-2.0.0.pb-v1"):
            # kubectl apply validates against this; an empty protobuf document passes.
            return web.Response(body=b"", content_type="application/octet-stream")
        document: dict | None
        if len(segments) == 2 and segments[0] == "api":
            document = discovery.api_resource_list(registry, "", segments[1])
        elif len(segments) == 2 and segments[0] == "apis":
            document = discovery.api_group(registry, segments[1])
        elif len(segments) == 3 and segments[0] == "apis":
            document = discovery.api_resource_list(registry, segments[1], segments[2])
        else:
            return None
        if document is None:
            raise errors.path_not_found(path)
        return json_response(document)

    # -- resources -------------------------------------------------------------

    async def handle_resource(self, request: web.Request, target: Target) -> web.StreamResponse:
        rtype = target.rtype
        if self.faults.is_denied(rtype.group, rtype.plural):
            verb = self._verb(request, target)
            raise errors.forbidden(rtype, verb, target.namespace, "simcluster-user")
        method = request.method
        if target.subresource == "scale":
            return await self._scale(request, target)
        if method == "GET":
            if target.name is None:
                if truthy(request.query.get("watch")):
                    return await self._watch(request, target)
                return self._list(request, target)
            return self._object_response(
                request, target, self.store.get(rtype, target.namespace or "", target.name)
            )
        if method == "POST" and target.name is None:
            return self._create(request, target, await request.read())
        if method == "PUT" and target.name is not None:
            return self._update(request, target, await request.read())
        if method == "PATCH" and target.name is not None:
            return self._patch(request, target, await request.read())
        if method == "DELETE":
            if target.name is None:
                return self._delete_collection(request, target)
            return self._delete(request, target, await request.read())
        raise errors.ApiError(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )

    def _verb(self, request: web.Request, target: Target) -> str:
        if request.method == "GET":
            if target.name is not None:
                return "get"
            return "watch" if truthy(request.query.get("watch")) else "list"
        return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(
            request.method, "delete" if target.name else "deletecollection"
        )

    def _object_response(
        self, request: web.Request, target: Target, obj: Obj, status: int = 200
    ) -> web.Response:
        if tables.wants_table(request.headers.get("Accept", "")):
            body = tables.table(
                target.rtype,
                [obj],
                obj["metadata"].get("resourceVersion", ""),
                time.time(),
                None,
                request.query.get("includeObject", "PartialObjectMetadata"),
            )
            return json_response(body, status)
        return json_response(obj, status)

    def _list(self, request: web.Request, target: Target) -> web.Response:
        page = self.lister.page(target.rtype, target.namespace, request.query)
        rv = str(page.resource_version)
        if tables.wants_table(request.headers.get("Accept", "")):
            return json_response(
                tables.table(
                    target.rtype,
                    page.items,
                    rv,
                    time.time(),
                    page.continue_token,
                    request.query.get("includeObject", "PartialObjectMetadata"),
                )
            )
        metadata: dict[str, Any] = {"resourceVersion": rv}
        if page.continue_token:
            metadata["continue"] = page.continue_token
        if page.remaining is not None:
            metadata["remainingItemCount"] = page.remaining
        items = page.items if target.rtype.custom else [without_type_meta(o) for o in page.items]
        return json_response(
            {
                "kind": target.rtype.list_kind,
                "apiVersion": target.rtype.api_version,
                "metadata": metadata,
                "items": items,
            }
        )

    async def _watch(self, request: web.Request, target: Target) -> web.StreamResponse:
        stream = WatchStream(
            self.store,
            self.faults,
            target.rtype,
            target.namespace,
            parse_selection(target.rtype, request.query),
            request.query,
            as_table=tables.wants_table(request.headers.get("Accept", "")),
            default_timeout_s=self.watch_timeout_s,
            bookmark_interval_s=self.bookmark_interval_s,
            register=self.watches.add,
            unregister=self.watches.discard,
        )
        return await stream.serve(request)

    def _dry_run(self, query: Mapping[str, str]) -> bool:
        value = query.get("dryRun")
        if value not in (None, "", "All"):
            raise errors.bad_request(f'Unsupported value: "{value}": supported values: "All"')
        return value == "All"

    def _create(self, request: web.Request, target: Target, raw: bytes) -> web.Response:
        body = parse_body(raw)
        if not isinstance(body, dict):
            raise errors.bad_request(
                "the body of the request was in an unknown format - "
                "accepted media types include: application/json"
            )
        created = self.store.create(
            target.rtype, target.namespace, body, dry_run=self._dry_run(request.query)
        )
        return json_response(created, 201)

    def _update(self, request: web.Request, target: Target, raw: bytes) -> web.Response:
        body = parse_body(raw)
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request was in an unknown format")
        assert target.name is not None
        updated = self.store.update(
            target.rtype,
            target.namespace,
            target.name,
            body,
            subresource=target.subresource,
            dry_run=self._dry_run(request.query),
        )
        return json_response(updated)

    def _patch_type(self, request: web.Request, accepted: tuple[str, ...]) -> str:
        """The request's patch flavour; 415 naming the accepted ones if it is not among them."""
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type not in accepted:
            raise errors.ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted "
                f"media types include: {', '.join(accepted)}",
            )
        return content_type

    def _patch(self, request: web.Request, target: Target, raw: bytes) -> web.Response:
        rtype = target.rtype
        assert target.name is not None
        content_type = self._patch_type(
            request,
            (JSON_PATCH, MERGE_PATCH, APPLY_PATCH)
            if rtype.custom
            else (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH),
        )
        patch = parse_body(raw, content_type)
        dry_run = self._dry_run(request.query)
        namespace = target.namespace or ""
        with self.store.lock:
            current = self.store.find(rtype, namespace, target.name)
            if current is None:
                if content_type == APPLY_PATCH:
                    return self._apply_create(request, target, patch, dry_run)
                raise errors.not_found(rtype, target.name)
            patched = self._apply_patch(rtype, current, patch, content_type)
            meta = patched.get("metadata") if isinstance(patched, dict) else None
            if not isinstance(meta, dict):
                raise errors.invalid(
                    rtype.kind,
                    target.name,
                    [
                        {
                            "reason": "FieldValueRequired",
                            "message": "Required value",
                            "field": "metadata",
                        }
                    ],
                    rtype.group,
                )
            # A resourceVersion in the patch is a precondition; otherwise patch what is current.
            if not (
                isinstance(patch, dict) and (patch.get("metadata") or {}).get("resourceVersion")
            ):
                meta["resourceVersion"] = current["metadata"]["resourceVersion"]
            updated = self.store.update(
                rtype,
                target.namespace,
                target.name,
                patched,
                subresource=target.subresource,
                dry_run=dry_run,
            )
        return json_response(updated)

    async def _scale(self, request: web.Request, target: Target) -> web.Response:
        """GET, PUT or PATCH a Deployment's or ReplicaSet's replicas as an autoscaling/v1 Scale."""
        rtype, namespace, name = target.rtype, target.namespace or "", target.name
        assert name is not None
        if request.method == "GET":
            return json_response(scale.scale_of(self.store.get(rtype, namespace, name)))
        if request.method not in ("PUT", "PATCH"):
            raise errors.ApiError(
                405, "MethodNotAllowed", "the server does not allow this method on scale"
            )
        raw = await request.read()
        dry_run = self._dry_run(request.query)
        content_type = None
        if request.method == "PATCH":
            content_type = self._patch_type(request, (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH))
        body = parse_body(raw, content_type or "application/json")
        with self.store.lock:
            current = self.store.get(rtype, namespace, name)
            if content_type is not None:
                # Patched onto the current Scale, whose resourceVersion is current unless the
                # patch sets one: then, as for a PUT, it is a precondition.
                body = self._apply_patch(scale.SCALE, scale.scale_of(current), body, content_type)
            replicas = scale.wanted_replicas(body, name)
            wanted_rv = (body.get("metadata") or {}).get("resourceVersion")
            if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
                raise errors.conflict(rtype, name)
            updated = self.store.update(
                rtype, namespace, name, scale.with_replicas(current, replicas), dry_run=dry_run
            )
        return json_response(scale.scale_of(updated))

    def _apply_patch(self, rtype: Any, current: Obj, patch: Any, content_type: str) -> Any:
        try:
            if content_type == JSON_PATCH:
                if not isinstance(patch, list):
                    raise patching.PatchError("json patch must be a list of operations", 400)
                return patching.json_patch(current, patch)
            if not isinstance(patch, dict):
                raise patching.PatchError("patch must be a JSON object", 400)
            if content_type == MERGE_PATCH or rtype.custom:
                return patching.merge_patch(current, patch)
            return patching.strategic_merge_patch(current, patch, rtype.kind)
        except patching.PatchError as exc:
            if exc.code == 400:
                raise errors.bad_request(str(exc)) from None
            raise errors.invalid(
                rtype.kind,
                current["metadata"]["name"],
                [{"reason": "FieldValueInvalid", "message": str(exc), "field": "patch"}],
                rtype.group,
            ) from None

    def _apply_create(
        self, request: web.Request, target: Target, body: Any, dry_run: bool
    ) -> web.Response:
        if not request.query.get("fieldManager"):
            raise errors.invalid(
                "PatchOptions.meta.k8s.io",
                "",
                [
                    {
                        "reason": "FieldValueRequired",
                        "field": "fieldManager",
                        "message": "is required for apply patch",
                    }
                ],
            )
        if not isinstance(body, dict):
            raise errors.bad_request("apply patch must be an object")
        body.setdefault("metadata", {})["name"] = target.name
        created = self.store.create(target.rtype, target.namespace, body, dry_run=dry_run)
        return json_response(created, 201)

    def _delete_options(self, request: web.Request, raw: bytes) -> dict[str, Any]:
        options = parse_body(raw) if raw.strip() else {}
        if not isinstance(options, dict):
            raise errors.bad_request("DeleteOptions must be an object")
        grace = parse_int(request.query, "gracePeriodSeconds")
        if grace is not None:
            options["gracePeriodSeconds"] = grace
        if request.query.get("dryRun"):
            options["dryRun"] = [request.query["dryRun"]]
        return options

    def _delete(self, request: web.Request, target: Target, raw: bytes) -> web.Response:
        options = self._delete_options(request, raw)
        preconditions = options.get("preconditions") or {}
        assert target.name is not None
        deleted = self.store.delete(
            target.rtype,
            target.namespace,
            target.name,
            grace_period=options.get("gracePeriodSeconds"),
            uid=preconditions.get("uid"),
            resource_version=preconditions.get("resourceVersion"),
            dry_run="All" in (options.get("dryRun") or []),
        )
        return json_response(deleted)

    def _delete_collection(self, request: web.Request, target: Target) -> web.Response:
        selection = parse_selection(target.rtype, request.query)
        grace = parse_int(request.query, "gracePeriodSeconds")
        _, items = self.store.list(target.rtype, target.namespace)
        deleted = []
        for obj in items:
            if selection.matches(obj):
                meta = obj["metadata"]
                try:
                    deleted.append(
                        self.store.delete(
                            target.rtype, meta.get("namespace"), meta["name"], grace_period=grace
                        )
                    )
                except errors.ApiError as error:
                    if error.code != 404:
                        raise
        return json_response(
            {
                "kind": target.rtype.list_kind,
                "apiVersion": target.rtype.api_version,
                "metadata": {"resourceVersion": str(self.store.resource_version)},
                "items": deleted,
            }
        )

    # -- control endpoint --------------------------------------------------------

    async def handle_control(self, request: web.Request, path: str) -> web.Response:
        """`GET /_simcluster/state`, `POST /_simcluster/faults/<action>`, CRD switches, churn.

        `POST /_simcluster/churn {"rate": N}` steers a generated scenario's churn.
        """
        if request.method == "GET" and path in ("", "/state"):
            return json_response(self.describe())
        if request.method != "POST":
            raise errors.ApiError(405, "MethodNotAllowed", "use POST for control actions")
        raw = await request.read()
        args = parse_body(raw) if raw.strip() else {}
        if not isinstance(args, dict):
            raise errors.bad_request("control arguments must be a JSON object")
        actions = {
            "/faults/close_watches": lambda: self.faults.close_watches(),
            "/faults/compact": lambda: self.store.compact(),
            "/faults/fail_next": lambda: self.faults.fail_next(
                int(args.get("count", 1)), int(args.get("code", 500))
            ),
            "/faults/slow_watches": lambda: self.faults.slow_watches(float(args.get("delay_s", 1))),
            "/faults/stall_watches": lambda: self.faults.stall_watches(),
            "/faults/resume_watches": lambda: self.faults.resume_watches(),
            "/faults/deny": lambda: self.faults.deny(
                str(args["resource"]), str(args.get("group", ""))
            ),
            "/faults/allow": lambda: self.faults.allow(
                str(args["resource"]), str(args.get("group", ""))
            ),
            "/faults/reset": lambda: self.faults.reset(),
            "/churn": lambda: self.control.set_churn_rate(float(args["rate"])),
            "/gateway-api/install": lambda: self.control.install_gateway_api(),
            "/gateway-api/remove": lambda: self.control.remove_gateway_api(),
        }
        action = actions.get(path.rstrip("/"))
        if action is None:
            raise errors.path_not_found(CONTROL_PREFIX + path)
        try:
            action()
        except (KeyError, ValueError, TypeError) as exc:
            raise errors.bad_request(f"bad arguments for {path}: {exc}") from None
        log.info("control action %s %s", path, args or "")
        return json_response(self.describe())

    def describe(self) -> dict[str, Any]:
        return {
            "resourceVersion": self.store.resource_version,
            "oldestResourceVersion": self.store.oldest_resource_version,
            "openWatches": len(self.watches),
            "gatewayApi": self.store.registry.gateway_api_installed,
            "faults": self.faults.describe(),
            "churn": self.control.churn_state() if self.control is not None else None,
        }
