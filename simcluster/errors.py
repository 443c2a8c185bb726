"""Kubernetes `Status` errors, shaped like the apiserver's (k8s.io/apimachinery errors.go)."""

from __future__ import annotations

from typing import Any

from simcluster.resources import ResourceType


class ApiError(Exception):
    """An API failure that the server answers with a `Status` body and `code`."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.retry_after = retry_after

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _details(rtype: ResourceType, name: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": rtype.plural}
    if rtype.group:
        details["group"] = rtype.group
    return details


def not_found(rtype: ResourceType, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{rtype.qualified} "{name}" not found', _details(rtype, name))


def already_exists(rtype: ResourceType, name: str) -> ApiError:
    return ApiError(
        409, "AlreadyExists", f'{rtype.qualified} "{name}" already exists', _details(rtype, name)
    )


def conflict(rtype: ResourceType, name: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {rtype.qualified} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again",
        _details(rtype, name),
    )


def invalid(kind: str, name: str, causes: list[dict[str, str]], group: str = "") -> ApiError:
    """422 Invalid; `causes` are {reason, message, field} like the apiserver's."""
    summary = ", ".join(f"{c['field']}: {c['message']}" for c in causes)
    details: dict[str, Any] = {"name": name, "kind": kind, "causes": causes}
    if group:
        details["group"] = group
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {summary}', details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def forbidden(
    rtype: ResourceType, verb: str, namespace: str | None, user: str = "system:anonymous"
) -> ApiError:
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    group = f'in API group "{rtype.group}"'
    return ApiError(
        403,
        "Forbidden",
        f'{rtype.plural} is forbidden: User "{user}" cannot {verb} resource "{rtype.plural}" '
        f"{group}{where}",
        {"kind": rtype.plural, **({"group": rtype.group} if rtype.group else {})},
    )


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def path_not_found(path: str) -> ApiError:
    return ApiError(
        404, "NotFound", f"the server could not find the requested resource ({path})", {}
    )
