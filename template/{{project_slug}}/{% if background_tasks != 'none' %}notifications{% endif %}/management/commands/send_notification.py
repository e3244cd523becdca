"""`manage.py send_notification you@example.com`: queue an email through the task runner.

Proves the whole path in a deployed service: enqueue here, the worker sends it.
"""

import uuid

from django.core.management.base import BaseCommand

from ...tasks import enqueue_notification


class Command(BaseCommand):
    help = "Queue a notification email and print the task's id."

    def add_arguments(self, parser):
        parser.add_argument("recipient")
        parser.add_argument("--subject", default="Test notification")
        parser.add_argument("--body", default="Sent by the background worker.")
        parser.add_argument(
            "--idempotency-key",
            help="Queuing twice with the same key sends one email (default: a new key)",
        )
        parser.add_argument(
            "--bulk",
            action="store_true",
            help="Queue it as bulk mail, on the default queue (default: the critical queue)",
        )

    def handle(self, *args, **options):
        task_id = enqueue_notification(
            idempotency_key=options["idempotency_key"] or uuid.uuid4().hex,
            recipient=options["recipient"],
            subject=options["subject"],
            body=options["body"],
            bulk=options["bulk"],
        )
        self.stdout.write(task_id)
