"""Sending a notification exactly once, whatever the task runner does.

Task runners deliver at least once: a retry, a redelivery after a worker died or a caller
enqueueing twice all run the task again. The idempotency key turns those runs into no-ops.
"""

import logging
import smtplib
import socket
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import Notification

logger = logging.getLogger(__name__)

# Worth retrying: the mail server is down, unreachable or busy, or its name does not resolve
# for now (DNS timing out: common in container networks and Kubernetes). Anything else (a
# refused recipient, a bug) fails at once: running it again would fail the same way.
TRANSIENT_ERRORS = (
    ConnectionError,
    TimeoutError,
    socket.gaierror,
    smtplib.SMTPConnectError,
    smtplib.SMTPServerDisconnected,
)


def send_once(*, idempotency_key, recipient, subject, body, task_id):
    """Send the email unless a notification with this key was sent already.

    The row is inserted before the email is sent, in the same transaction: a concurrent run with
    the same key blocks on the unique index until this one commits, then finds the key taken.
    If sending fails the transaction rolls back, and a retry can claim the key again.
    """
    log = {"task_id": task_id, "idempotency_key": idempotency_key}
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                idempotency_key=idempotency_key,
                recipient=recipient,
                subject=subject,
                task_id=task_id,
            )
            send_mail(subject, body, None, [recipient])
    except IntegrityError:
        logger.info("Notification already sent; nothing to do", extra=log)
        return {"status": "duplicate"}
    logger.info("Notification sent", extra=log)
    return {"status": "sent", "notification_id": notification.pk}


def prune_notifications(**signal_arguments):
    """Forget notifications older than TASK_RETENTION_DAYS: their keys can be reused after.

    Run daily with the worker's pruning (worker/signals.py)."""
    cutoff = timezone.now() - timedelta(days=settings.TASK_RETENTION_DAYS)
    deleted, _ = Notification.objects.filter(sent_at__lt=cutoff).delete()
    logger.info("Pruned %d notification(s) sent before %s", deleted, cutoff.isoformat())
    return deleted
