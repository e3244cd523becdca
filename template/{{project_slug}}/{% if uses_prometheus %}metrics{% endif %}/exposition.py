"""Serve the metrics on a port of their own, never on the public site.

gunicorn's master serves the sum of its workers' samples (gunicorn.conf.py); a task worker
serves its own. This module imports nothing of Django: the gunicorn master never loads the app.
"""

import os

from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server


def metrics_registry(*collectors):
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    for collector in collectors:
        registry.register(collector)
    return registry


def serve_metrics(port, *collectors):
    """/metrics (any path, in fact) on 0.0.0.0:port, from a thread of this process."""
    start_http_server(port, registry=metrics_registry(*collectors))


def forget_process(pid):
    """A worker process ended: drop its live gauges (its counters keep counting in the sum)."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        multiprocess.mark_process_dead(pid)
