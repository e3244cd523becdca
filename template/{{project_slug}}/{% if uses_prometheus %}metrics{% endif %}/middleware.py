"""Count and time the requests Django answers; the health probes are answered before this."""

import time

from ..core.middleware import AroundViewMiddleware
from .instruments import HTTP_REQUEST_DURATION, HTTP_REQUESTS

# Any other method is counted as "other": a client must not be able to mint new series.
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


class RequestMetricsMiddleware(AroundViewMiddleware):
    def before(self, request):
        return time.perf_counter()

    def after(self, request, response, started):
        # The URL pattern's name, not the path: one series per view, however many objects.
        match = request.resolver_match
        view = match.view_name if match else "unmatched"
        method = request.method if request.method in METHODS else "other"
        HTTP_REQUESTS.labels(method, view, response.status_code).inc()
        HTTP_REQUEST_DURATION.labels(method, view).observe(time.perf_counter() - started)
