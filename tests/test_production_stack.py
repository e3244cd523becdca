"""compose.prod.yaml brought up on one host with podman-compose, from the project's files: nginx
terminating TLS in front of web, the worker and the prune job, PostgreSQL and Redis, every value
from the project's .env. The service images are local stand-ins built from Debian's packages
(tests/stand_ins/): no registry can be reached here.

podman 4.3 (Debian 12) runs no healthcheck timers without systemd, and podman-compose ignores
`service_healthy` before podman 4.6: the test starts the services one by one in the order their
`depends_on` gives, and meets each condition itself (running the healthcheck until it passes, as
the timer would; waiting for a one-shot service to exit 0) before it starts the dependents.
"""

import time
import uuid

import pytest

from .helpers import https_get, log_records
from .matrix import SMOKE_ANSWERS, combination_id

# The default project's tests share one xdist worker: it alone creates the project's database.
pytestmark = pytest.mark.xdist_group(combination_id(SMOKE_ANSWERS))


def test_migrate_ran_once_and_succeeded(stack):
    migrate = stack.container("migrate")
    state = stack.podman("inspect", "--format", "{{.State.ExitCode}}", migrate).stdout.strip()

    assert state == "0", stack.logs("migrate")
    assert "Applying" in stack.logs("migrate")


def test_migrate_backed_up_the_database_first_and_the_backup_service_keeps_backing_up(stack):
    backup = stack.container("backup")
    dumps = stack.podman("exec", backup, "ls", "/backups").stdout.split()
    fresh = ["python", "scripts/backup.py", "is-fresh", "/backups", "3600"]

    assert dumps and all(dump.endswith(".sql.gz") for dump in dumps), stack.logs("backup")
    assert stack.logs("migrate").index("/backups/") < stack.logs("migrate").index("Applying")
    assert stack.podman("exec", backup, *fresh, check=False).returncode == 0


def test_the_page_through_nginx_over_https_carries_the_security_headers(stack):
    response, body = https_get(stack, "/")

    assert response.status == 200, body
    assert response.getheader("Strict-Transport-Security").startswith("max-age=31536000")
    assert "default-src 'none'" in response.getheader("Content-Security-Policy")
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert "/static/core/site." in body


def test_readiness_through_nginx_reports_every_dependency(stack):
    response, body = https_get(stack, "/health/ready/")

    assert response.status == 200, body
    assert '"database": {"status": "ok"' in body and '"cache": {"status": "ok"' in body


def test_the_worker_sends_a_queued_notification(stack):
    key = uuid.uuid4().hex
    command = ["python", "manage.py", "send_notification", "ada@example.com"]
    stack.podman("exec", stack.container("web"), *command, "--idempotency-key", key)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if "Subject: Test notification" in stack.logs("mail") and key in stack.logs(
            "critical-worker"
        ):
            break
        time.sleep(1)

    sent = log_records(stack.logs("critical-worker"), "Notification sent")
    assert [record["idempotency_key"] for record in sent] == [key], stack.logs("critical-worker")
    assert "Subject: Test notification" in stack.logs("mail"), stack.logs("mail")


def test_every_long_running_service_is_up(stack):
    long_running = [name for name, service in stack.services.items() if name != "migrate"]

    running = stack.running()

    assert sorted(name for name in long_running if stack.container(name) in running) == sorted(
        long_running
    )
