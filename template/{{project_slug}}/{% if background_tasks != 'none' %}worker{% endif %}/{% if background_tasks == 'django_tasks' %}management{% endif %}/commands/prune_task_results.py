"""`manage.py prune_task_results`: delete finished task results older than TASK_RETENTION_DAYS,
and let every app prune its own records (signals.pruning). Kubernetes runs it daily as a
CronJob; compose.prod.yaml keeps it running with --every 86400, beating a heartbeat while it
waits (see worker/heartbeat.py)."""

import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from ... import heartbeat
from ...signals import pruning


class Command(BaseCommand):
    help = "Delete task results and app records older than TASK_RETENTION_DAYS."

    def add_arguments(self, parser):
        parser.add_argument(
            "--every", type=int, metavar="SECONDS", help="Repeat forever, this often"
        )

    def handle(self, *args, every=None, **options):
        while True:
            call_command("prune_db_task_results", min_age_days=settings.TASK_RETENTION_DAYS)
            pruning.send(sender=self.__class__)
            if every is None:
                return
            next_run = time.monotonic() + every
            while time.monotonic() < next_run:
                heartbeat.beat()
                time.sleep(min(heartbeat.INTERVAL, every))
