"""Worker liveness. A running worker touches a heartbeat file every INTERVAL seconds;
`python config/worker_heartbeat.py` exits 0 while the file is fresh, 1 once it is stale.

The worker's container healthcheck and Kubernetes liveness probe run that command: it imports
nothing of the project, so it is cheap. The file is in /tmp (a tmpfs in compose.prod.yaml, an
emptyDir in Kubernetes), so it works on a read-only root filesystem.
"""

import os
import sys
import tempfile
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
