"""The default project under gunicorn with production settings, on real PostgreSQL and Redis; and
the same checks for a project served through ASGI (uvicorn workers). test_faults.py puts them
through outages."""

import json

import pytest

from .helpers import POD_IP_HOST
from .matrix import PROJECTS, SMOKE_ANSWERS, projects_where

WSGI_AND_ASGI = [
    next(param for param in PROJECTS if param.values[0] is SMOKE_ANSWERS),
    projects_where(asgi=True, database="postgresql", cache="redis")[0],
]
# Each project prepared as its README's Production section says, then served (conftest.py).
pytestmark = pytest.mark.parametrize("project", WSGI_AND_ASGI, indirect=True)


def test_live_answers_a_kubelet_probing_the_pod_ip(server):
    response, body = server.get("/health/live/", POD_IP_HOST)

    assert response.status == 200
    assert json.loads(body) == {"status": "ok"}


def test_ready_answers_200_when_every_service_answers(server, project):
    response, body = server.get("/health/ready/", POD_IP_HOST)

    assert response.status == 200, body
    checks = json.loads(body)["checks"]
    expected = ["database", "static", "cache"]
    if project.answers["background_tasks"] == "celery":
        expected.append("broker")
    if project.answers.get("cloud", "none") != "none":
        expected.append("storage")  # the cloud's emulator
    assert {name: check["status"] for name, check in checks.items()} == dict.fromkeys(
        expected, "ok"
    )


def test_pages_render_with_hashed_static_files(server, project):
    response, body = server.page("/", project)

    assert response.status == 200
    assert "/static/core/site." in body
    assert response.getheader("Strict-Transport-Security").startswith("max-age=31536000")


def test_plain_http_pages_redirect_to_https(server, project):
    response, _ = server.get("/", project.answers["domain_name"])

    assert response.status == 301
    assert response.getheader("Location") == f"https://{project.answers['domain_name']}/"


def test_access_log_is_json_with_request_ids_and_no_healthy_probes(server, project):
    server.get("/health/live/", POD_IP_HOST)
    response, _ = server.page("/", project, {"X-Request-ID": "smoke-42"})
    assert response.getheader("X-Request-ID") == "smoke-42"

    page = server.wait_for_access(path="/", request_id="smoke-42")

    assert page["status"] == 200
    assert all(not record["path"].startswith("/health/") for record in server.access_log())


def test_ready_stays_200_and_reports_degraded_while_the_cache_is_down(server_without_cache):
    response, body = server_without_cache.get("/health/ready/", POD_IP_HOST)

    assert response.status == 200
    assert json.loads(body)["status"] == "degraded"
    checks = json.loads(body)["checks"]
    assert checks["cache"]["status"] == "error"
    assert checks["database"]["status"] == "ok"


def test_live_stays_200_while_the_cache_is_down(server_without_cache):
    response, _ = server_without_cache.get("/health/live/", POD_IP_HOST)

    assert response.status == 200


def test_pages_still_render_while_the_cache_is_down(server_without_cache, project):
    response, _ = server_without_cache.page("/", project)

    assert response.status == 200
