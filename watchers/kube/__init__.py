"""The watcher's Kubernetes side: connecting, discovering, and one LIST+WATCH informer per resource.

The pure parts (resourceVersion rules, the watch driver, the failure policy, the relist diff) are
separate modules with no I/O, so every failure case in K8S_API.md §6–§7 is unit-tested without a
network; `informer` is the only module here that talks HTTP.
"""
