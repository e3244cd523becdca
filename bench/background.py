"""Benchmarks for background work and ASGI, measured side by side in one run; prints ratios.

(c) requests/s of /health/live/ served through ASGI (gunicorn + uvicorn workers) against WSGI
    (gunicorn sync workers), same worker count, same settings, load from wrk, interleaved.
(d) enqueue -> complete latency of the example task (median, p95) for each runner: Django tasks
    (database worker), Celery on Redis, Celery on RabbitMQ. The task sends a real email to a
    local SMTP server; "complete" is the moment its Notification row is visible.

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

RUNNERS = {
    "django_tasks": ["-d", "background_tasks=django_tasks"],
    "celery+redis": ["-d", "background_tasks=celery", "-d", "task_broker=redis"],
    "celery+rabbitmq": ["-d", "background_tasks=celery", "-d", "task_broker=rabbitmq"],
}
BROKERS = {
    "celery+redis": "redis://127.0.0.1:6379/14",
    "celery+rabbitmq": "amqp://guest:guest@127.0.0.1:5672//",
}
MEASURE = """
import json, statistics, sys, time, uuid
import django
django.setup()
from bench_service.notifications.models import Notification
from bench_service.notifications.tasks import enqueue_notification
latencies = []
for _ in range(int(sys.argv[1])):
    key = uuid.uuid4().hex
    started = time.perf_counter()
    enqueue_notification(idempotency_key=key, recipient="a@example.com", subject="s", body="b")
    while not Notification.objects.filter(idempotency_key=key).exists():
        time.sleep(0.002)
    latencies.append(time.perf_counter() - started)
print(json.dumps(latencies))
"""


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
    with SMTPSink() as smtp:
        for runner, answers in RUNNERS.items():
            project = workdir / runner.replace("+", "-")
            render(project, answers)
            env = base_env(
                EMAIL_HOST="127.0.0.1",
                EMAIL_PORT=str(smtp.port),
                EMAIL_USE_TLS="false",
                WORKER_HEARTBEAT_FILE=str(project / "heartbeat"),
                **({"CELERY_BROKER_URL": BROKERS[runner]} if runner in BROKERS else {}),
            )
            python = str(project / ".venv/bin/python")
            migrate = [python, "manage.py", "migrate", "-v0"]
            subprocess.run(migrate, cwd=project, env=env, check=True)
            if runner in BROKERS:
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
            latencies = [seconds * 1000 for seconds in json.loads(output.stdout)]
            median = statistics.median(latencies)
            print(
                f"(d) {runner}: enqueue -> complete median {median:.0f} ms, "
                f"p95 {percentile(latencies, 0.95):.0f} ms over {tasks} tasks"
            )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=50)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="foundry-bench-"))
    asgi_vs_wsgi(workdir, args.rounds, args.seconds)
    task_latency(workdir, args.tasks)


if __name__ == "__main__":
    main()
