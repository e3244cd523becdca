"""`manage.py task_worker`: django-tasks-db's db_worker, plus a heartbeat for liveness probes.

The database backend has no time limits: the heartbeat stops while one task has been running
for longer than TASK_TIME_LIMIT, so the orchestrator restarts a worker stuck in a task.
SIGTERM lets the running task finish, then the worker exits 0.
"""

import threading
import time

from django.conf import settings
from django.tasks.signals import task_finished, task_started
from django_tasks_db.management.commands import db_worker

from config import worker_heartbeat


class Heartbeat(threading.Thread):
    def __init__(self):
        super().__init__(name="heartbeat", daemon=True)
        self.task_started_at = None
        task_started.connect(self.on_task_started, weak=False)
        task_finished.connect(self.on_task_finished, weak=False)

    def on_task_started(self, **kwargs):
        self.task_started_at = time.monotonic()

    def on_task_finished(self, **kwargs):
        self.task_started_at = None

    def run(self):
        while True:
            started = self.task_started_at
            if started is None or time.monotonic() - started < settings.TASK_TIME_LIMIT:
                worker_heartbeat.beat()
            time.sleep(worker_heartbeat.INTERVAL)


class Command(db_worker.Command):
    help = "Run the database task worker, with a heartbeat file for liveness probes."

    def handle(self, *args, **options):
        Heartbeat().start()
        super().handle(*args, **options)
