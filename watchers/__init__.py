"""The watcher: the one process that lists and watches the Kubernetes API and publishes topology."""
