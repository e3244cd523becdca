"""Throughput of the orders list endpoint (50 orders with their items) for DRF and Django Ninja,
each as a ratio to a bare JsonResponse view in the same project, under the same server, measured
side by side in one run; prints ratios.

(f) Three projects on PostgreSQL and Redis, each under gunicorn with 2 workers and production
    settings: api=drf (WSGI, sync views), api=ninja (WSGI: sync reads) and api=ninja with asgi
    (uvicorn workers: async reads). Each also serves a bare view that returns the same 50 orders
    with their items and the count as a JsonResponse from the same queryset, with the same session
    authentication. Load from wrk, with the session cookie of the orders' customer; rounds
    interleaved so drift hits every server alike.

Usage: uv run python bench/api.py [--rounds N] [--seconds S]
Needs wrk (Debian package), uv, and the loopback PostgreSQL and Redis the template tests use.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.background import base_env, render
from bench.run import free_port, recreate_database, wrk

PROJECTS = {
    "drf": ["-d", "api=drf"],
    "ninja": ["-d", "api=ninja"],
    "ninja, async (ASGI)": ["-d", "api=ninja", "-d", "asgi=true"],
}
ANSWERS = ["-d", "background_tasks=none", "-d", "observability=[]"]
HEADERS = {"Host": "bench-service.example.com", "X-Forwarded-Proto": "https"}
BENCH_SETTINGS = """\
from .production import *  # noqa: F403

ROOT_URLCONF = "bench_urls"
"""
BENCH_URLS = """\
from django.http import JsonResponse
from django.urls import include, path

from bench_service.orders.models import Order


def bare(request):
    if not request.user.is_authenticated:
        return JsonResponse({"detail": "Authentication required."}, status=401)
    orders = Order.objects.for_customer(request.user).with_items()
    page = [
        {
            "id": order.pk,
            "status": order.status,
            "total": str(order.total),
            "created_at": order.created_at.isoformat(),
            "items": [
                {
                    "id": item.pk,
                    "product": item.product,
                    "quantity": item.quantity,
                    "unit_price": str(item.unit_price),
                }
                for item in order.items.all()
            ],
        }
        for order in orders[:50]
    ]
    return JsonResponse({"count": orders.count(), "results": page})


urlpatterns = [path("bare/", bare), path("", include("config.urls"))]
"""
# 50 orders of 2 items each for one customer; prints a session key that signs them in.
SEED = """
from importlib import import_module
from decimal import Decimal
import django
django.setup()
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from bench_service.orders import services
customer = get_user_model().objects.create_user("bench", "bench@example.com", "bench-password")
for _ in range(50):
    order = services.create_order(customer=customer)
    for product in ("Tea", "Cake"):
        services.add_item(order_id=order.pk, customer=customer, product=product, quantity=2,
                          unit_price=Decimal("3.50"))
session = import_module(settings.SESSION_ENGINE).SessionStore()
session[SESSION_KEY] = str(customer.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = customer.get_session_auth_hash()
session.save()
print(settings.SESSION_COOKIE_NAME + "=" + session.session_key)
"""


def start(name, project, answers):
    render(project, [*ANSWERS, *answers])
    (project / "bench_urls.py").write_text(BENCH_URLS)
    (project / "config" / "settings" / "bench.py").write_text(BENCH_SETTINGS)
    database = "foundry_bench_api_" + "".join(c for c in name.lower() if c.isalnum())
    recreate_database(database)
    env = base_env(
        DJANGO_SETTINGS_MODULE="config.settings.bench",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{database}",
        API_THROTTLE_USER="1000000000/min",
    )
    python = str(project / ".venv/bin/python")
    for command in (["migrate", "--noinput", "-v0"], ["collectstatic", "--noinput", "-v0"]):
        subprocess.run([python, "manage.py", *command], cwd=project, env=env, check=True)
    cookie = subprocess.run(
        [python, "-c", SEED], cwd=project, env=env, check=True, capture_output=True, text=True
    ).stdout.split()[-1]
    port = free_port()
    command = [str(project / ".venv/bin/gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}"]
    process = subprocess.Popen(
        command, cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return process, port, HEADERS | {"Cookie": cookie}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="foundry-bench-api-"))
    servers = {}
    urls = {"bare JsonResponse": "/bare/", "framework": "/api/v1/orders/"}
    rates = {(name, url): [] for name in PROJECTS for url in urls}
    try:
        for name, answers in PROJECTS.items():
            servers[name] = start(name, workdir / f"project{len(servers)}", answers)
        time.sleep(5)
        for _, port, headers in servers.values():
            for path in urls.values():
                wrk(f"http://127.0.0.1:{port}{path}", 2, headers)  # warm up, and check it is 200
        for _ in range(args.rounds):  # interleaved, so drift hits all alike
            for name, url in rates:
                _, port, headers = servers[name]
                rates[name, url].append(
                    wrk(f"http://127.0.0.1:{port}{urls[url]}", args.seconds, headers)
                )
    finally:
        for process, _, _ in servers.values():
            process.terminate()
            process.wait()
    print(
        f"(f) /api/v1/orders/ (50 orders, 2 items each) against a bare JsonResponse view of the "
        f"same rows; medians of {args.rounds} x {args.seconds}s, gunicorn 2 workers, wrk -t2 -c16"
    )
    for name in PROJECTS:
        bare = statistics.median(rates[name, "bare JsonResponse"])
        framework = statistics.median(rates[name, "framework"])
        print(
            f"  {name}: {framework:.0f} req/s vs bare {bare:.0f} req/s, "
            f"ratio {framework / bare:.2f}x"
        )


if __name__ == "__main__":
    main()
