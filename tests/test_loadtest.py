"""`make loadtest`, as a team runs it against a deployed service: the rendered project under
gunicorn behind its nginx over TLS, a bounded run, no failed request."""

import csv

import pytest

from .helpers import UNTHROTTLED, create_superuser, run, serve_behind_nginx
from .matrix import API_PROJECTS, SMOKE_PROJECT

USERNAME, PASSWORD = "load-tester", "a long enough test password"
# Without an API, with DRF, and with Django Ninja under ASGI.
LOADED = [SMOKE_PROJECT, *API_PROJECTS[:2]]


def stats(path):
    """Locust's CSV, by "METHOD name" (the last row is "Aggregated")."""
    with path.open(newline="") as file:
        return {f"{row['Type']} {row['Name']}".strip(): row for row in csv.DictReader(file)}


@pytest.mark.parametrize("answers", LOADED)
def test_a_bounded_load_test_through_tls_has_no_failures(
    installed_projects, answers, nginx, tmp_path
):
    project = installed_projects(answers)
    # The self-signed certificate is for localhost: the run addresses the service by that name.
    env = UNTHROTTLED | {"DJANGO_ALLOWED_HOSTS": "localhost"}
    with serve_behind_nginx(project, tmp_path, nginx, **env) as ports:
        create_superuser(project, USERNAME, PASSWORD)
        loader = project.env(
            LOADTEST_USERNAME=USERNAME,
            LOADTEST_PASSWORD=PASSWORD,
            LOADTEST_CA_BUNDLE=str(tmp_path / "certs/fullchain.pem"),
        )
        result = run(
            [
                "make",
                "loadtest",
                f"LOADTEST_HOST=https://localhost:{ports['https']}",
                "LOADTEST_USERS=10",
                "LOADTEST_RATE=10",
                # Long enough for every kind of user to act on a busy machine: a 5 s run once
                # recorded no visitor's request.
                "LOADTEST_DURATION=10s",
            ],
            project.path,
            loader,
            check=False,
        )

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    requests = stats(project.path / "loadtest-results/run_stats.csv")
    assert int(requests["Aggregated"]["Failure Count"]) == 0
    assert int(requests["GET /"]["Request Count"]) > 0
    if answers.get("api", "none") != "none":
        assert int(requests["POST /api/v1/token/"]["Request Count"]) > 0
    # The summary the target prints: one line per endpoint with its percentiles.
    assert "p50 ms" in result.stdout and "p99 ms" in result.stdout
