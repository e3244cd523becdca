"""Each API under gunicorn with production settings, on real PostgreSQL: schemathesis finds no
5xx and no response its own OpenAPI schema does not allow; CORS and the rate limits follow the
environment."""

import http.client
import json
import re
import secrets
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from .helpers import serve_in_production
from .matrix import API_PROJECTS

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
SCHEMA_PATHS = {"drf": "/api/schema/", "ninja": "/api/v1/openapi.json"}
USERNAME, PASSWORD = "api-client", "a long enough test password"
# Rate limits far above what schemathesis sends, so every response it sees is the API's own.
UNTHROTTLED = {
    "API_THROTTLE_ANON": "100000/min",
    "API_THROTTLE_USER": "100000/min",
    "LOGIN_RATE_LIMIT": "100000/min",
}


def request(server, project, method, path, body=None, headers=None):
    """A client's request as the TLS-terminating proxy forwards it."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    headers = {
        "Host": project.answers["domain_name"],
        "X-Forwarded-Proto": "https",
        "Content-Type": "application/json",
    } | (headers or {})
    connection.request(method, path, json.dumps(body) if body is not None else None, headers)
    response = connection.getresponse()
    content = response.read()
    connection.close()
    return response, content


def access_token(server, project):
    credentials = {"username": USERNAME, "password": PASSWORD}
    response, content = request(server, project, "POST", "/api/v1/token/", credentials)
    assert response.status == 200, content
    return json.loads(content)["access"]


@pytest.mark.parametrize("answers", API_PROJECTS)
def test_schemathesis_finds_no_server_error_and_no_response_outside_the_schema(
    installed_projects, answers, tmp_path
):
    project = installed_projects(answers)
    server = serve_in_production(project, tmp_path, **UNTHROTTLED)
    try:
        env = project.production_env(DATABASE_SSLMODE="disable", DJANGO_SUPERUSER_PASSWORD=PASSWORD)
        project.manage(
            "createsuperuser",
            "--noinput",
            "--username",
            USERNAME,
            "--email",
            "a@example.com",
            env=env,
            check=False,
        )
        token = access_token(server, project)
        result = subprocess.run(
            [
                SCHEMATHESIS,
                "run",
                f"http://127.0.0.1:{server.port}{SCHEMA_PATHS[answers['api']]}",
                "--header",
                f"Host: {project.answers['domain_name']}",
                "--header",
                "X-Forwarded-Proto: https",
                "--header",
                f"Authorization: Bearer {token}",
                "--checks",
                "not_a_server_error,response_schema_conformance",
                "--max-examples",
                "25",
                "--generation-deterministic",
                "--request-timeout",
                "10",
                "--no-color",
            ],
            cwd=tmp_path,  # where it keeps its own files
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        server.stop()
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    # It reached and tested every operation of the schema, with the stateful phase included.
    selected, tested = re.search(r"Selected: (\d+)/\d+\s+Tested: (\d+)", result.stdout).groups()
    assert int(selected) >= 6
    assert tested == selected
    assert "✅ Stateful" in result.stdout


def preflight(server, project, origin):
    headers = {"Origin": origin, "Access-Control-Request-Method": "GET"}
    response, _ = request(server, project, "OPTIONS", "/api/v1/me/", headers=headers)
    return response


def test_a_listed_origin_gets_cors_headers(limited_server):
    response = preflight(*limited_server, "https://app.example.com")
    assert response.getheader("Access-Control-Allow-Origin") == "https://app.example.com"


def test_an_unlisted_origin_gets_no_cors_headers(limited_server):
    response = preflight(*limited_server, "https://evil.example.net")
    assert response.getheader("Access-Control-Allow-Origin") is None


def new_client_ip():
    """A client address no earlier run has used: the cache keeps counts between runs."""
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


def test_anonymous_requests_past_the_rate_from_the_environment_get_429(limited_server):
    server, project = limited_server
    forwarded = {"X-Forwarded-For": new_client_ip()}
    statuses = [
        request(server, project, "POST", "/api/v1/token/refresh/", {"refresh": "x"}, forwarded)[
            0
        ].status
        for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]


def admin_login(server, project, client_ip):
    """A login attempt as a browser makes it: the form's CSRF token, then the POST."""
    forwarded = {"X-Forwarded-For": client_ip}
    response, content = request(server, project, "GET", "/admin/login/", headers=forwarded)
    cookie = response.getheader("Set-Cookie").split(";")[0]
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', content)[1].decode()
    body = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "username": USERNAME, "password": "wrong"}
    )
    headers = forwarded | {
        "Cookie": cookie,
        "Origin": f"https://{project.answers['domain_name']}",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    headers |= {"Host": project.answers["domain_name"], "X-Forwarded-Proto": "https"}
    connection.request("POST", "/admin/login/", body, headers)
    status = connection.getresponse().status
    connection.close()
    return status


def test_admin_logins_past_the_login_rate_limit_get_429(limited_server):
    client_ip = new_client_ip()
    statuses = [admin_login(*limited_server, client_ip) for _ in range(3)]
    assert statuses == [200, 200, 429]
    # Counted per client as the proxy saw it: another client still gets the form.
    assert admin_login(*limited_server, new_client_ip()) == 200
