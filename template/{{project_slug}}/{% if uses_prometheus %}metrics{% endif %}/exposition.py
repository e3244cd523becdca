"""Serve the metrics on a port of their own, never on the public site.

gunicorn's master serves the sum of its workers' samples (gunicorn.conf.py); a task worker
serves its own. This module imports nothing of Django: the gunicorn master never loads the app.
"""

import glob
import os

from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server


class MultiProcessCollector(multiprocess.MultiProcessCollector):
    """prometheus_client's, leaving out the files processes are still creating: each is created
    empty and sized a moment later, and reading one in between failed the whole scrape with a
    500 (prometheus/client_python#1199), e.g. while gunicorn started or replaced a worker."""

    def __init__(self, registry, directory):
        super().__init__(registry, directory)
        self.directory = directory

    def collect(self):
        files = glob.glob(os.path.join(self.directory, "*.db"))
        return self.merge([path for path in files if has_content(path)], accumulate=True)


def has_content(path):
    try:
        return os.path.getsize(path) > 0
    except OSError:  # removed meanwhile (mark_process_dead)
        return False


def metrics_registry(*collectors):
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, os.environ["PROMETHEUS_MULTIPROC_DIR"])
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
