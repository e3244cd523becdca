"""Benchmarks for the foundation, measured side by side in one run; prints ratios.

(a) `copier copy` wall time with the default answers.
(b) requests/s of /health/live/ against a bare Django view returning the same JSON, both served
    by the same gunicorn process (2 workers, production settings), load from wrk.

Usage: uv run python bench/run.py [--rounds N] [--seconds S]
Needs wrk (Debian package), uv, and the loopback PostgreSQL and Redis the template tests use.
"""

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_ANSWERS = ["-d", "project_name=Bench Service"]

# Added to a rendered copy only: the same app and middleware, plus one bare view.
BENCH_URLS = """
from django.http import JsonResponse
from django.urls import path

from config.urls import urlpatterns as project_urlpatterns


def bare(request):
    return JsonResponse({"status": "ok"})


urlpatterns = [path("bench/bare/", bare), *project_urlpatterns]
"""
BENCH_SETTINGS = """
from .production import *  # noqa: F403

ROOT_URLCONF = "bench_urls"
"""


def copier_copy(destination):
    command = [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--quiet"]
    command += ["--vcs-ref=HEAD", *DEFAULT_ANSWERS, str(TEMPLATE_DIR), str(destination)]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def recreate_database(name):
    """An empty PostgreSQL database of that name on the loopback server."""
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-q"]
    drop, create = f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}"
    subprocess.run([*psql, "-c", drop, "-c", create], check=True, capture_output=True)


def start_gunicorn(project, env, port):
    """The project's gunicorn (its gunicorn.conf.py, 2 workers) on a loopback port."""
    command = [str(project / ".venv/bin/gunicorn"), "--workers", "2"]
    command += ["--bind", f"127.0.0.1:{port}"]
    return subprocess.Popen(
        command, cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def wrk(url, seconds, headers):
    command = ["wrk", "-t2", "-c16", f"-d{seconds}s", url]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        raise RuntimeError(f"{url} answered errors under load:\n{output}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk")

    workdir = Path(tempfile.mkdtemp(prefix="foundry-bench-"))
    copy_times = [copier_copy(workdir / f"copy{i}") for i in range(args.rounds)]
    print(
        f"(a) copier copy, default answers: median {statistics.median(copy_times):.2f}s "
        f"over {args.rounds} runs (min {min(copy_times):.2f}s, max {max(copy_times):.2f}s)"
    )

    project = workdir / "copy0"
    (project / "bench_urls.py").write_text(BENCH_URLS)
    (project / "config" / "settings" / "bench.py").write_text(BENCH_SETTINGS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "VIRTUAL_ENV"))}
    env |= {
        "UV_PYTHON_DOWNLOADS": "never",
        "DJANGO_SETTINGS_MODULE": "config.settings.bench",
        "DJANGO_SECRET_KEY": "bench-" + "k" * 60,
        "DJANGO_ALLOWED_HOSTS": "bench-service.example.com",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
        "DATABASE_SSLMODE": "disable",
        "CACHE_URL": "redis://127.0.0.1:6379/0",
        "METRICS_PORT": str(free_port()),
    }
    subprocess.run(["uv", "sync", "--quiet"], cwd=project, env=env, check=True)
    subprocess.run(
        ["uv", "run", "--frozen", "python", "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=project,
        env=env,
        check=True,
    )
    port = free_port()
    server = subprocess.Popen(
        ["uv", "run", "--frozen", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        # A browser's request through the TLS proxy, so the bare view is not redirected.
        headers = {"Host": "bench-service.example.com", "X-Forwarded-Proto": "https"}
        base = f"http://127.0.0.1:{port}"
        wrk(f"{base}/health/live/", 2, headers)  # warm up both workers
        live, bare = [], []
        for _ in range(args.rounds):  # interleaved, so drift hits both alike
            live.append(wrk(f"{base}/health/live/", args.seconds, headers))
            bare.append(wrk(f"{base}/bench/bare/", args.seconds, headers))
    finally:
        server.terminate()
        server.wait()
    ratio = statistics.median(live) / statistics.median(bare)
    print(
        f"(b) /health/live/ {statistics.median(live):.0f} req/s vs bare Django view "
        f"{statistics.median(bare):.0f} req/s (medians of {args.rounds} x {args.seconds}s, "
        f"gunicorn 2 workers, wrk -t2 -c16): ratio {ratio:.2f}x (target >= 0.9x)"
    )
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
