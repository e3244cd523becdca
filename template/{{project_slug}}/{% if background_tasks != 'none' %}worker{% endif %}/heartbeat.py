"""Worker liveness. A running worker touches a heartbeat file every INTERVAL seconds; this file,
run as a script, exits 0 while the heartbeat is fresh, 1 once it is stale.

The worker's container healthcheck and Kubernetes liveness probe run it: it imports nothing of
the project, so it is cheap. The file is in /tmp (a tmpfs in compose.prod.yaml, an
emptyDir in Kubernetes), so it works on a read-only root filesystem.
"""

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

HEARTBEAT_FILE = Path(
    os.environ.get("WORKER_HEARTBEAT_FILE", Path(tempfile.gettempdir()) / "worker-heartbeat")
)
INTERVAL = 10
STALE_AFTER = 3 * INTERVAL


def beat():
    HEARTBEAT_FILE.touch()


def stop():
    HEARTBEAT_FILE.unlink(missing_ok=True)


class TaskHeartbeat(threading.Thread):
    """Beats for `manage.py task_worker` while no task has been running for longer than
    time_limit seconds."""

    def __init__(self, time_limit):
        # Here, not at the top: the probe runs this file and must not pay for importing Django.
        from django.tasks.signals import task_finished, task_started

        super().__init__(name="heartbeat", daemon=True)
        self.time_limit = time_limit
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
            if started is None or time.monotonic() - started < self.time_limit:
                beat()
            time.sleep(INTERVAL)


def main() -> int:
    try:
        age = time.time() - HEARTBEAT_FILE.stat().st_mtime
    except FileNotFoundError:
        print(f"No heartbeat at {HEARTBEAT_FILE}: the worker is not running.", file=sys.stderr)
        return 1
    if age > STALE_AFTER:
        print(f"The worker's last heartbeat was {age:.0f}s ago.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
