"""Background work for real: each project's worker runs as its own process, with the command its
deployment files run, against real databases and brokers, and sends real mail to a local SMTP
server. Tasks are queued through the project's own code (`manage.py send_notification`)."""

import os
import re
import subprocess
import time
import urllib.request
import uuid

import pytest

from .helpers import (
    Worker,
    broker_url,
    free_port,
    production_env,
    require_program,
    wait_until_listening,
    worker_env,
)
from .matrix import DEFAULTS, projects_where


def answers_of(param):
    return DEFAULTS | param.values[0]


def one_per_backend(params):
    """A project of each database (behind PgBouncer or not) and broker: the worker's code is
    the same for the others. The least instrumented one, whose processes start fastest."""
    chosen = {}
    for param in sorted(params, key=lambda param: len(answers_of(param)["observability"])):
        answers = answers_of(param)
        backend = (answers["database"], answers["pgbouncer"], answers.get("task_broker"))
        chosen.setdefault(backend, param)
    return list(chosen.values())


# Django tasks on each database (the worker polls it, so each one's locking matters), and Celery
# on each broker and database.
with_worker_projects = pytest.mark.parametrize(
    "answers",
    one_per_backend(projects_where(background_tasks="django_tasks", cache="redis"))
    + one_per_backend(projects_where(background_tasks="celery")),
)


def send_notification(project, key, env=None, recipient="ada@example.com", bulk=False):
    """Queue the example task through the project's own command (on the critical queue, or the
    default one when bulk); returns the task's id."""
    result = project.manage(
        "send_notification",
        recipient,
        "--idempotency-key",
        key,
        *(["--bulk"] if bulk else []),
        env=env or production_env(project),
    )
    return result.stdout.strip()


@with_worker_projects
def test_a_queued_notification_is_sent_by_the_worker(worker_project, worker, smtp):
    key = uuid.uuid4().hex
    task_id = send_notification(worker_project, key)

    sent = worker.wait_for_log("Notification sent", idempotency_key=key)

    assert sent["task_id"] == task_id
    assert len(smtp.messages) == 1
    assert "Subject: Test notification" in smtp.messages[0]


@pytest.mark.parametrize(
    "answers",
    [
        param
        for param in with_worker_projects.args[1]
        if "prometheus" in (DEFAULTS | param.values[0])["observability"]
    ],
)
def test_the_worker_serves_its_task_metrics_on_its_own_port(worker_project, worker, smtp):
    key = uuid.uuid4().hex
    send_notification(worker_project, key)
    worker.wait_for_log("Notification sent", idempotency_key=key)
    succeeded = r'^django_tasks_finished_total\{[^}]*outcome="succeeded"[^}]*\} 1\.0$'
    finished = re.compile(succeeded, re.MULTILINE)

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        url = f"http://127.0.0.1:{worker.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            metrics = response.read().decode()
        if finished.search(metrics):
            break
        time.sleep(0.5)

    assert finished.search(metrics), metrics
    assert re.search(r'^django_tasks_queued\{queue="default"\} 0\.0$', metrics, re.M), metrics


@with_worker_projects
def test_a_duplicate_with_the_same_key_is_not_sent_twice(worker_project, worker, smtp):
    key = uuid.uuid4().hex
    send_notification(worker_project, key)
    send_notification(worker_project, key)

    worker.wait_for_log("Notification already sent", idempotency_key=key)

    assert len(smtp.messages) == 1


@with_worker_projects
def test_a_transient_failure_is_retried_and_succeeds(worker_project, worker, smtp):
    smtp.busy = True
    key = uuid.uuid4().hex
    send_notification(worker_project, key)
    smtp.wait_for(lambda sink: sink.sessions >= 1, "the first attempt")

    smtp.busy = False
    worker.wait_for_log("Notification sent", idempotency_key=key)

    assert smtp.sessions >= 2
    assert len(smtp.messages) == 1


@with_worker_projects
def test_sigterm_lets_the_running_task_finish_and_the_worker_exit_0(worker_project, worker, smtp):
    smtp.accept_delay = 3
    key = uuid.uuid4().hex
    send_notification(worker_project, key)
    smtp.wait_for(lambda sink: sink.sessions >= 1, "the task to start")

    returncode = worker.stop()

    assert returncode == 0, worker.log_path.read_text()[-3000:]
    assert len(smtp.messages) == 1
    worker.wait_for_log("Notification sent", idempotency_key=key)


def one_per_task_runner(params):
    """A project of each task runner and broker: which queue a task goes to, and which worker
    takes it, does not depend on the database."""
    chosen = {}
    for param in params:
        answers = answers_of(param)
        chosen.setdefault((answers["background_tasks"], answers.get("task_broker")), param)
    return list(chosen.values())


# SQLite has one writer at a time: a task holding its transaction (the example sends its email
# in one) blocks the other queue's worker too. docs/background-work.md says so.
@pytest.mark.parametrize(
    "answers",
    one_per_task_runner(
        param for param in with_worker_projects.args[1] if answers_of(param)["database"] != "sqlite"
    ),
)
def test_a_critical_task_completes_while_the_default_queues_worker_is_saturated(
    worker_project, worker, smtp, tmp_path
):
    """Each queue has a worker of its own (compose.prod.yaml's, as every deploy target runs
    them): bulk mail stuck behind a slow mail server never delays a critical email."""
    smtp.held_recipients.add("list@example.com")
    (tmp_path / "default").mkdir()
    default_worker = Worker(
        worker_project,
        worker_env(
            worker_project,
            smtp,
            tmp_path / "default",
            METRICS_PORT=str(free_port()),
            CELERY_WORKER_CONCURRENCY="1",
        ),
        tmp_path / "default.log",
        role="worker",
    )
    try:
        for _ in range(2):
            send_notification(
                worker_project, uuid.uuid4().hex, recipient="list@example.com", bulk=True
            )
        smtp.wait_for(lambda sink: sink.sessions >= 1, "the default worker to take bulk mail")
        key = uuid.uuid4().hex
        send_notification(worker_project, key)

        # The bulk mail is still held: had the critical email shared its queue or its worker, it
        # would be waiting behind it.
        worker.wait_for_log("Notification sent", idempotency_key=key)
        smtp.release()
        default_worker.wait_for_log("Notification sent", timeout=120)
    finally:
        smtp.release()
        default_worker.stop()
    sent_by_critical_worker = [
        record["idempotency_key"]
        for record in worker.records()
        if record["message"].startswith("Notification sent")
    ]
    assert sent_by_critical_worker == [key]


@with_worker_projects
def test_the_liveness_command_tells_a_running_worker_from_a_stopped_one(
    worker_project, worker, tmp_path
):
    env = worker_project.env(WORKER_HEARTBEAT_FILE=str(tmp_path / "heartbeat"))
    probe = [str(worker_project.path / ".venv/bin/python"), worker_project.heartbeat_script]
    deadline = time.monotonic() + 60
    while not (tmp_path / "heartbeat").exists() and time.monotonic() < deadline:
        time.sleep(0.2)

    running = subprocess.run(probe, cwd=worker_project.path, env=env, capture_output=True)
    worker.stop()
    if (tmp_path / "heartbeat").exists():  # a process that died cannot clean up after itself
        stale = time.time() - 60
        os.utime(tmp_path / "heartbeat", (stale, stale))
    stopped = subprocess.run(probe, cwd=worker_project.path, env=env, capture_output=True)

    assert running.returncode == 0, running.stderr
    assert stopped.returncode == 1


@pytest.mark.parametrize("answers", projects_where(background_tasks="celery", task_broker="redis"))
def test_a_task_queued_before_a_broker_outage_still_runs(worker_project, smtp, tmp_path):
    """Redis (with its append-only file, as compose runs it) goes down with a task queued and the
    worker not yet connected; once Redis is back, the worker takes the task: nothing is lost."""
    redis_server = require_program("redis-server")
    port = free_port()
    command = [redis_server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path)]
    command += ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
    broker = {"CELERY_BROKER_URL": broker_url(worker_project.answers, "redis", port)}

    redis = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    wait_until_listening(port, redis, "redis-server")
    key = uuid.uuid4().hex
    send_notification(worker_project, key, env=production_env(worker_project, **broker))
    redis.terminate()
    redis.wait(timeout=30)

    worker = Worker(
        worker_project, worker_env(worker_project, smtp, tmp_path, **broker), tmp_path / "w.log"
    )
    try:
        worker.wait_for_log("consumer: Cannot connect")
        redis = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        wait_until_listening(port, redis, "redis-server")

        worker.wait_for_log("Notification sent", idempotency_key=key)
    finally:
        worker.stop()
        redis.terminate()
        redis.wait(timeout=30)

    assert len(smtp.messages) == 1


# Django tasks straight on PostgreSQL (no PgBouncer): enqueuing wakes the idle worker.
woken_worker_projects = pytest.mark.parametrize(
    "answers",
    one_per_backend(
        projects_where(background_tasks="django_tasks", database="postgresql", pgbouncer=False)
    ),
)


@woken_worker_projects
def test_an_idle_worker_is_woken_by_the_enqueue_not_its_polling_interval(
    worker_project, smtp, tmp_path
):
    """With a 10-minute polling interval, only PostgreSQL's notification can start the task
    before the test gives up."""
    env = worker_env(worker_project, smtp, tmp_path)
    worker = Worker(worker_project, env, tmp_path / "w.log", extra_args=["--interval", "600"])
    try:
        worker.wait_for_log("Starting worker")
        first, second = uuid.uuid4().hex, uuid.uuid4().hex
        send_notification(worker_project, first)
        worker.wait_for_log("Notification sent", timeout=60, idempotency_key=first)
        # The worker looked once more after the first task, found nothing, and waits.
        send_notification(worker_project, second)

        worker.wait_for_log("Notification sent", timeout=60, idempotency_key=second)
    finally:
        worker.stop()


def listening_backends(project):
    """The process IDs of the PostgreSQL connections LISTENing for the project's tasks."""
    database = project.production_env()["DATABASE_URL"].rsplit("/", 1)[1]
    query = (
        f"SELECT pid FROM pg_stat_activity WHERE datname = '{database}' AND query LIKE 'LISTEN%'"
    )
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-At", "-c", query]
    return set(subprocess.run(psql, check=True, capture_output=True, text=True).stdout.split())


@woken_worker_projects
def test_a_worker_whose_listening_connection_is_cut_polls_and_listens_again(
    worker_project, worker, smtp
):
    worker.wait_for_log("Starting worker")  # logged once it listens
    [cut] = listening_backends(worker_project)
    terminate = f"SELECT pg_terminate_backend({cut})"
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", terminate], check=True)
    worker.wait_for_log("Not woken by PostgreSQL")
    key = uuid.uuid4().hex
    send_notification(worker_project, key)
    worker.wait_for_log("Notification sent", idempotency_key=key)

    deadline = time.monotonic() + 30
    while not listening_backends(worker_project) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert listening_backends(worker_project) - {cut}
    assert worker.process.poll() is None
