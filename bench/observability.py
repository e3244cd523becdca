"""Throughput cost of each observability choice, measured side by side in one run; prints ratios.

(e) requests/s of two pages — the home page (a small template: the worst case, where the
    instrumentation is most of the work) and the admin login page (a form, CSRF, a larger
    template) — for the same project rendered
    with observability [] (none), [prometheus] and [opentelemetry]: the same answers otherwise,
    each under the same gunicorn config (2 sync workers, production settings), load from wrk,
    rounds interleaved. OpenTelemetry runs twice: with its default sampler (1 request in 10) and
    tracing every request; then beside Prometheus ([prometheus, opentelemetry], its cost measured
    against [prometheus]). It exports over OTLP/HTTP to a receiver in this process, which only
    keeps what arrives.

Then the same projects again in one process each, the WSGI handler called in a loop for `/`: the
application's own cost per request, free of the noise of five servers and wrk sharing two cores.

Usage: uv run python bench/observability.py [--rounds N] [--seconds S]
Needs wrk (Debian package) and uv; no other service.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.background import base_env, render
from bench.run import free_port, start_gunicorn, wrk
from tests.helpers import OTLPReceiver

# name: (observability answer, extra environment)
CHOICES = {
    "none": ("[]", {}),
    "prometheus": ("[prometheus]", {}),
    "opentelemetry": ("[opentelemetry]", {}),  # the default sampler: 1 request in 10
    "opentelemetry, every request": ("[opentelemetry]", {"OTEL_TRACES_SAMPLER": "always_on"}),
    "prometheus + opentelemetry": ("[prometheus, opentelemetry]", {}),
}
# name: (baseline, target cost against the baseline)
TARGETS = {
    "prometheus": ("none", 0.15),
    "opentelemetry": ("none", 0.25),
    "opentelemetry, every request": ("none", 0.25),
    # OpenTelemetry added to Prometheus: traces only, the requests are measured once.
    "prometheus + opentelemetry": ("prometheus", 0.15),
}
ANSWERS = ["-d", "database=sqlite", "-d", "cache=none", "-d", "background_tasks=none"]
HEADERS = {"Host": "bench-service.example.com", "X-Forwarded-Proto": "https"}
PAGES = ["/", "/admin/login/"]


# The WSGI handler called in a loop: the application's own cost per request, without the
# server, the network or wrk sharing the two cores.
HANDLER_LOOP = """
import io, sys, time
from config.wsgi import application

path, count = sys.argv[1], int(sys.argv[2])
environ = {
    "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SCRIPT_NAME": "",
    "SERVER_NAME": "bench-service.example.com", "SERVER_PORT": "443",
    "HTTP_HOST": "bench-service.example.com", "HTTP_X_FORWARDED_PROTO": "https",
    "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
}


def call():
    status = []
    body = application(environ | {"wsgi.input": io.BytesIO()}, lambda s, h: status.append(s))
    b"".join(body)
    assert status[0].startswith("200"), status


for _ in range(300):
    call()
started = time.perf_counter()
for _ in range(count):
    call()
print((time.perf_counter() - started) / count * 1e6)
"""


def handler_costs(projects, rounds, count=3000):
    """Microseconds per request of `/` for each (name: (project, env)), rounds interleaved."""
    costs = {name: [] for name in projects}
    for _ in range(rounds):
        for name, (project, env) in projects.items():
            command = [str(project / ".venv/bin/python"), "-c", HANDLER_LOOP, "/", str(count)]
            output = subprocess.run(
                command, cwd=project, env=env, check=True, capture_output=True, text=True
            ).stdout
            costs[name].append(float(output.split()[-1]))
    return {name: statistics.median(values) for name, values in costs.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="foundry-bench-observability-"))
    receiver = OTLPReceiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    servers, projects = {}, {}
    rates = {(name, page): [] for name in CHOICES for page in PAGES}
    try:
        for name, (observability, extra) in CHOICES.items():
            project = workdir / name.replace(", ", "-").replace(" ", "-")
            render(project, [*ANSWERS, "-d", f"observability={observability}"])
            env = base_env(
                DATABASE_URL=f"sqlite:///{project / 'db.sqlite3'}",
                METRICS_PORT=str(free_port()),
                OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{receiver.port}",
                **extra,
            )
            env.pop("CACHE_URL")
            python = str(project / ".venv/bin/python")
            manage = [python, "manage.py"]
            subprocess.run(
                [*manage, "collectstatic", "--noinput", "-v0"], cwd=project, env=env, check=True
            )
            port = free_port()
            servers[name] = (start_gunicorn(project, env, port), port)
            projects[name] = (project, env | {"PYTHONPATH": str(project)})
        time.sleep(5)
        for _, port in servers.values():
            for page in PAGES:
                wrk(f"http://127.0.0.1:{port}{page}", 2, HEADERS)  # warm up
        for _ in range(args.rounds):  # interleaved, so drift hits all alike
            for name, page in rates:
                url = f"http://127.0.0.1:{servers[name][1]}{page}"
                rates[name, page].append(wrk(url, args.seconds, HEADERS))
        costs = handler_costs(projects, args.rounds)
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait()
        receiver.shutdown()
    spans = len(receiver.spans())
    print(f"(e) medians of {args.rounds} x {args.seconds}s, gunicorn 2 workers each, wrk -t2 -c16")
    for page in PAGES:
        print(f"  {page}: none {statistics.median(rates['none', page]):.0f} req/s")
        for name, (baseline, target) in TARGETS.items():
            rate, base = (
                statistics.median(rates[name, page]),
                statistics.median(rates[baseline, page]),
            )
            print(
                f"    {name}: {rate:.0f} req/s, ratio to {baseline} {rate / base:.2f}x, cost "
                f"{1 - rate / base:.0%} (target <= {target:.0%})"
            )
    print(f"    ({spans} spans reached the OTLP receiver)")
    print(f"(e) in one process, WSGI handler called 3000 times for /, medians of {args.rounds}")
    for name, (baseline, target) in TARGETS.items():
        added = costs[name] / costs[baseline] - 1
        print(
            f"    {name}: {costs[name]:.0f} us vs {baseline} {costs[baseline]:.0f} us, "
            f"throughput cost {1 - costs[baseline] / costs[name]:.0%} (+{added:.0%} time; "
            f"target <= {target:.0%})"
        )


if __name__ == "__main__":
    main()
