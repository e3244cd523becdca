"""Answer the health probes before any other middleware runs.

A kubelet probes the pod IP over plain HTTP: these requests must skip host validation
(ALLOWED_HOSTS) and the HTTPS redirect, and should cost as little as possible.
"""

from . import views

PROBES = {"/health/live/": views.live, "/health/ready/": views.ready}


class HealthCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = PROBES.get(request.path_info)
        if probe is not None:
            return probe(request)
        return self.get_response(request)
