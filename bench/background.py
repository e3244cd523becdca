"""Benchmarks for background work and ASGI, measured side by side in one run; prints ratios.

(c) requests/s of /health/live/ served through ASGI (gunicorn + uvicorn workers) against WSGI
    (gunicorn sync workers), same worker count, same settings, load from wrk, interleaved.
(d) enqueue -> complete latency of the example task (median, p95) for each runner, each task
    enqueued to an idle worker: Django tasks on PostgreSQL (woken by NOTIFY), on MySQL and on
    SQLite (polling), Celery on Redis, Celery on RabbitMQ; and the queries per second an idle
    Django-tasks worker costs its database. The task sends a real email to a local SMTP server;
    "complete" is the moment its Notification row is visible.

Usage: uv run python bench/background.py [--rounds N] [--seconds S] [--tasks N]
Needs wrk (Debian package), uv, and the loopback PostgreSQL, Redis and RabbitMQ the template
tests use.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import TEMPLATE_DIR, free_port, recreate_database, wrk
from tests.smtp_sink import SMTPSink

TASKS = ["-d", "background_tasks=django_tasks"]
# runner: (answers, environment)
RUNNERS = {
    "django_tasks on PostgreSQL": (TASKS, {}),
    "django_tasks on MySQL": (
        [*TASKS, "-d", "database=mysql"],
        {"DATABASE_URL": "mysql://root@127.0.0.1:3306/foundry_bench"},
    ),
    "django_tasks on SQLite": ([*TASKS, "-d", "database=sqlite"], {"DATABASE_URL": "sqlite:///"}),
    "celery+redis": (
        ["-d", "background_tasks=celery", "-d", "task_broker=redis"],
        {"CELERY_BROKER_URL": "redis://127.0.0.1:6379/14"},
    ),
    "celery+rabbitmq": (
        ["-d", "background_tasks=celery", "-d", "task_broker=rabbitmq"],
        {"CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//"},
    ),
}
# Each task is enqueued after a pause, so the worker is idle (waiting or polling) when it comes.
# Then the worker is left idle for IDLE_SECONDS while the database counts its statements.
MEASURE = """
import json, random, sys, time, uuid
import django
django.setup()
from django.db import connection
from bench_service.notifications.models import Notification
from bench_service.notifications.tasks import enqueue_notification

STATEMENTS = {
    "postgresql": "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
    "mysql": "SELECT variable_value FROM information_schema.global_status"
    " WHERE variable_name = 'COM_SELECT'",
}


def statements():
    with connection.cursor() as cursor:
        cursor.execute(STATEMENTS[connection.vendor])
        return int(cursor.fetchone()[0])


latencies = []
for _ in range(int(sys.argv[1])):
    time.sleep(random.uniform(0.3, 0.8))
    key = uuid.uuid4().hex
    started = time.perf_counter()
    enqueue_notification(idempotency_key=key, recipient="a@example.com", subject="s", body="b")
    while not Notification.objects.filter(idempotency_key=key).exists():
        time.sleep(0.002)
    latencies.append(time.perf_counter() - started)
idle = None
if connection.vendor in STATEMENTS:
    time.sleep(2)  # PostgreSQL publishes its counters up to a second late
    before = statements()
    time.sleep(IDLE_SECONDS)
    idle = (statements() - before - 1) / IDLE_SECONDS
print(json.dumps({"latencies": latencies, "idle": idle}))
""".replace("IDLE_SECONDS", "10")


def render(destination, answers):
    command = [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--quiet"]
    command += ["--vcs-ref=HEAD", "-d", "project_name=Bench Service", *answers]
    command += [str(TEMPLATE_DIR), str(destination)]
    subprocess.run(command, check=True, capture_output=True)
    subprocess.run(["uv", "sync", "--quiet"], cwd=destination, env=base_env(), check=True)


def base_env(**extra):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "VIRTUAL_ENV", "CELERY_", "DATABASE_", "CACHE_"))
    }
    return (
        env
        | {
            "UV_PYTHON_DOWNLOADS": "never",
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "bench-" + "k" * 60,
            "DJANGO_ALLOWED_HOSTS": "bench-service.example.com",
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/foundry_bench",
            "DATABASE_SSLMODE": "disable",
            "CACHE_URL": "redis://127.0.0.1:6379/13",
        }
        | extra
    )


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def asgi_vs_wsgi(workdir, rounds, seconds):
    servers, rates = {}, {"asgi": [], "wsgi": []}
    headers = {"Host": "bench-service.example.com"}
    try:
        for mode in rates:
            project = workdir / mode
            render(project, ["-d", f"asgi={'true' if mode == 'asgi' else 'false'}"])
            port = free_port()
            command = ["uv", "run", "--frozen", "gunicorn", "--workers", "2"]
            command += ["--bind", f"127.0.0.1:{port}"]
            servers[mode] = (
                subprocess.Popen(
                    command,
                    cwd=project,
                    env=base_env(METRICS_PORT=str(free_port())),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                ),
                port,
            )
        time.sleep(5)
        for _, port in servers.values():
            wrk(f"http://127.0.0.1:{port}/health/live/", 2, headers)  # warm up
        for _ in range(rounds):  # interleaved, so drift hits both alike
            for mode, (_, port) in servers.items():
                rates[mode].append(wrk(f"http://127.0.0.1:{port}/health/live/", seconds, headers))
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait()
    asgi, wsgi = statistics.median(rates["asgi"]), statistics.median(rates["wsgi"])
    print(
        f"(c) /health/live/ ASGI {asgi:.0f} req/s vs WSGI {wsgi:.0f} req/s (medians of "
        f"{rounds} x {seconds}s, gunicorn 2 workers each, wrk -t2 -c16): "
        f"ratio {asgi / wsgi:.2f}x"
    )


def task_latency(workdir, tasks):
    recreate_database("foundry_bench")
    mysql = ["mysql", "-h", "127.0.0.1", "-u", "root", "-e"]
    drop_create = "DROP DATABASE IF EXISTS foundry_bench; CREATE DATABASE foundry_bench"
    subprocess.run([*mysql, drop_create], check=True)
    with SMTPSink() as smtp:
        for runner, (answers, runner_env) in RUNNERS.items():
            project = workdir / runner.replace("+", "-").replace(" ", "-")
            render(project, answers)
            if runner_env.get("DATABASE_URL") == "sqlite:///":
                runner_env = {"DATABASE_URL": f"sqlite:///{project / 'db.sqlite3'}"}
            env = base_env(
                EMAIL_HOST="127.0.0.1",
                EMAIL_PORT=str(smtp.port),
                EMAIL_USE_TLS="false",
                WORKER_HEARTBEAT_FILE=str(project / "heartbeat"),
                **runner_env,
            )
            python = str(project / ".venv/bin/python")
            migrate = [python, "manage.py", "migrate", "-v0"]
            subprocess.run(migrate, cwd=project, env=env, check=True)
            if "CELERY_BROKER_URL" in runner_env:
                command = [
                    str(project / ".venv/bin/celery"),
                    "--app=config",
                    "worker",
                    "--queues=default,critical",
                    "--without-mingle",
                    "--without-gossip",
                    "--concurrency=2",
                ]
                subprocess.run(
                    [*command[:2], "purge", "--force", "--queues=default,critical"],
                    cwd=project,
                    env=env,
                    capture_output=True,
                )
            else:
                command = [python, "manage.py", "task_worker", "--no-startup-delay"]
            worker = subprocess.Popen(
                command, cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            try:
                time.sleep(5)
                output = subprocess.run(
                    [python, "-c", MEASURE, str(tasks)],
                    cwd=project,
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                )
            finally:
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=60)
            measured = json.loads(output.stdout)
            latencies = [seconds * 1000 for seconds in measured["latencies"]]
            median = statistics.median(latencies)
            idle = "" if measured["idle"] is None else f"; idle: {measured['idle']:.1f} queries/s"
            if "CELERY_BROKER_URL" in runner_env:
                idle = ""  # the database is not what a Celery worker waits on
            print(
                f"(d) {runner}: enqueue -> complete median {median:.0f} ms, "
                f"p95 {percentile(latencies, 0.95):.0f} ms over {tasks} tasks{idle}",
                flush=True,
            )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--only", choices=["asgi", "tasks"])
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="foundry-bench-"))
    if args.only != "tasks":
        asgi_vs_wsgi(workdir, args.rounds, args.seconds)
    if args.only != "asgi":
        task_latency(workdir, args.tasks)


if __name__ == "__main__":
    main()
