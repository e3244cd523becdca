"""Each API under gunicorn with production settings, on real PostgreSQL: schemathesis finds no
5xx and no response its own OpenAPI schema does not allow; CORS and the rate limits follow the
environment. Its committed schema (openapi.json) is a contract the project's tests hold the code
to, and the TypeScript client made from it type-checks."""

import http.client
import json
import re
import secrets
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from .helpers import UNTHROTTLED, create_superuser, require_program, serve_in_production
from .matrix import API_PROJECTS, combination_id

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
SCHEMA_PATHS = {"drf": "/api/schema/", "ninja": "/api/v1/openapi.json"}
USERNAME, PASSWORD = "api-client", "a long enough test password"


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
        create_superuser(project, USERNAME, PASSWORD)
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


# limited_server serves the first API project: on the worker that installed it (its database is
# created there), never on a second worker at the same time.
with_the_limited_server = pytest.mark.xdist_group(combination_id(API_PROJECTS[0].values[0]))


def preflight(server, project, origin):
    headers = {"Origin": origin, "Access-Control-Request-Method": "GET"}
    response, _ = request(server, project, "OPTIONS", "/api/v1/me/", headers=headers)
    return response


@with_the_limited_server
def test_a_listed_origin_gets_cors_headers(limited_server):
    response = preflight(*limited_server, "https://app.example.com")
    assert response.getheader("Access-Control-Allow-Origin") == "https://app.example.com"


@with_the_limited_server
def test_an_unlisted_origin_gets_no_cors_headers(limited_server):
    response = preflight(*limited_server, "https://evil.example.net")
    assert response.getheader("Access-Control-Allow-Origin") is None


def new_client_ip():
    """A client address no earlier run has used: the cache keeps counts between runs."""
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


@with_the_limited_server
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


@with_the_limited_server
def test_admin_logins_past_the_login_rate_limit_get_429(limited_server):
    client_ip = new_client_ip()
    statuses = [admin_login(*limited_server, client_ip) for _ in range(3)]
    assert statuses == [200, 200, 429]
    # Counted per client as the proxy saw it: another client still gets the form.
    assert admin_login(*limited_server, new_client_ip()) == 200


@with_the_limited_server
def test_an_api_key_from_the_command_reads_orders_and_needs_its_scope_to_change_them(
    limited_server,
):
    """As an operator issues one in production (docs/runbook.md) and a machine client uses it."""
    server, project = limited_server
    create_superuser(project, USERNAME, PASSWORD)
    env = project.production_env(DATABASE_SSLMODE="disable")
    issued = project.manage(
        "issue_api_key", USERNAME, "--name", "reporting", "--scope", "orders:read", env=env
    )
    key = issued.stdout.strip()
    prefix, secret = key.split(".")

    def status(method, key):
        headers = {"X-API-Key": key, "X-Forwarded-For": new_client_ip()}
        return request(server, project, method, "/api/v1/orders/", headers=headers)[0].status

    assert status("GET", key) == 200
    assert status("POST", key) == 403  # no orders:write scope
    assert status("GET", f"{prefix}.{secret[::-1]}") == 401


# --- The schema as a contract, and its TypeScript client ------------------------------------------

SCHEMA_TEST = "tests/test_api_schema.py"
with_each_api = pytest.mark.parametrize("answers", API_PROJECTS[:2])


def schema_test(project, ci):
    """The project's own schema test, as a laptop (no CI variable) or CI runs it."""
    env = {name: value for name, value in project.env().items() if name != "CI"}
    return project.uv(
        "pytest", "-q", SCHEMA_TEST, env=env | ({"CI": "true"} if ci else {}), check=False
    )


@pytest.fixture
def committed_schema(installed_projects, request, tmp_path):
    """The project's openapi.json, as `make api-schema` wrote it; put back after the test."""
    project = installed_projects(request.param)
    path = project.path / "openapi.json"
    shutil.copy(path, tmp_path / "openapi.json")
    yield project, path
    shutil.copy(tmp_path / "openapi.json", path)


# The test is the same file for both frameworks but its command: one is enough.
with_a_committed_schema = pytest.mark.parametrize(
    "committed_schema", API_PROJECTS[:1], indirect=True
)


@with_a_committed_schema
def test_the_first_test_run_outside_ci_writes_the_schema_make_api_schema_writes(committed_schema):
    project, path = committed_schema
    written_by_make = json.loads(path.read_text())
    path.unlink()

    result = schema_test(project, ci=False)

    assert result.returncode == 0, result.stdout[-3000:]
    assert json.loads(path.read_text()) == written_by_make


@with_a_committed_schema
def test_ci_fails_while_the_schema_is_not_committed(committed_schema):
    project, path = committed_schema
    path.unlink()

    result = schema_test(project, ci=True)

    assert result.returncode == 1
    assert "openapi.json is missing: run `make api-schema` and commit it" in result.stdout
    assert not path.exists()


@with_a_committed_schema
def test_the_tests_fail_when_the_code_and_the_committed_schema_differ(committed_schema):
    project, path = committed_schema
    schema = json.loads(path.read_text())
    del schema["paths"]["/api/v1/me/"]
    path.write_text(json.dumps(schema))

    result = schema_test(project, ci=False)

    assert result.returncode == 1
    assert "The API no longer matches openapi.json: run `make api-schema`" in result.stdout


TYPED_USE = """\
import type { paths } from "./schema";

type Me = paths["/api/v1/me/"]["get"]["responses"][200]["content"]["application/json"];
declare const me: Me;
export const username: string = me.username;
// @ts-expect-error: the schema has no such field (fails if the client typed everything as any)
export const nothing = me.no_such_field;
// @ts-expect-error: the API has no such path
export type Nowhere = paths["/api/v1/nowhere/"];
"""


@with_each_api
def test_make_api_client_generates_typescript_that_type_checks(installed_projects, answers):
    npx = require_program("npx")
    project = installed_projects(answers)
    project.make("api-client")
    (project.path / "api-client/use.ts").write_text(TYPED_USE)

    result = subprocess.run(
        [
            npx,
            "--yes",
            "--package",
            "typescript@5.9.3",
            "tsc",
            "--noEmit",
            "--strict",
            "api-client/use.ts",
        ],
        cwd=project.path,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout + result.stderr
