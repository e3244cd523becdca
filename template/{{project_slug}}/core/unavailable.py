"""A request the database cannot serve right now gets a 503 with Retry-After, not a 500.

The database's errors here mean it is down, unreachable, overloaded or did not answer within
DATABASE_TIMEOUT: a client, or the load balancer, should retry shortly, and nothing is wrong
with the request or the code. The outage is logged once per interval (outages.py).
"""

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.utils.deprecation import MiddlewareMixin

from . import outages

RETRY_AFTER_SECONDS = 5
MESSAGE = "The service is briefly unavailable. Please try again in a few seconds."


class DatabaseUnavailableMiddleware(MiddlewareMixin):
    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        outages.failed("database", exception)
        response: HttpResponse
        if request.path_info.startswith("/api/"):
            response = JsonResponse({"detail": MESSAGE}, status=503)
        else:
            response = HttpResponse(MESSAGE, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
