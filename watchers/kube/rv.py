"""resourceVersion comparison: equality always, ordering only when the server promises it.

Kubernetes documents resourceVersions as opaque strings. From 1.35 kube-apiserver promises they are
decimal integers ordered per resource type, but older and aggregated servers promise equality only
(K8S_API §6). Everything that wants "is this newer?" asks here and must cope with "unknown".
"""

from __future__ import annotations


def rv_orderable(rv: str) -> bool:
    """True when `rv` is a plain decimal integer without a leading zero ("0" itself is fine)."""
    return rv.isascii() and rv.isdigit() and (rv[0] != "0" or len(rv) == 1)


def rv_newer(a: str, b: str) -> bool | None:
    """Whether `a` is newer than `b`: False when equal, None when they cannot be ordered."""
    if a == b:
        return False
    if rv_orderable(a) and rv_orderable(b):
        return int(a) > int(b)
    return None
