"""Request IDs: taken from X-Request-ID (or generated), echoed back, added to every log record."""

import logging
import re
import uuid
from contextlib import contextmanager
from contextvars import ContextVar

from django.core.signals import request_finished
from django.dispatch import receiver

from .middleware import AroundViewMiddleware

HEADER = "X-Request-ID"
# Accept a caller's ID only if it is short and safe to put in logs and headers.
ACCEPTED_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")

current_request_id: ContextVar[str] = ContextVar("request_id", default="-")


class RequestIDMiddleware(AroundViewMiddleware):
    def before(self, request):
        incoming = request.headers.get(HEADER, "")
        request_id = incoming if ACCEPTED_ID.fullmatch(incoming) else uuid.uuid4().hex
        # Kept until the response is finished: Django logs error responses after the
        # middleware has returned.
        current_request_id.set(request_id)
        return request_id

    def after(self, request, response, request_id):
        response[HEADER] = request_id


@receiver(request_finished)
def forget_request_id(**kwargs):
    current_request_id.set("-")


class RequestIDFilter(logging.Filter):
    def filter(self, record):
        record.request_id = current_request_id.get()
        return True


@contextmanager
def request_id_context(request_id):
    """Log records written inside carry this request ID: a background task keeps the ID of the
    request that enqueued it."""
    token = current_request_id.set(request_id)
    try:
        yield
    finally:
        current_request_id.reset(token)
