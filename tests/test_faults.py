"""Fault drills: served projects put through what production does to them.

The default project (sync workers, PostgreSQL, Redis), a sync project on MariaDB and an ASGI
project (MariaDB, Memcached, Celery on Redis) run under `uv run gunicorn` with production
settings. Each service they use is
reached through a FaultProxy (fault_proxy.py) that the drill cuts, blackholes or restores; the
machine's shared services are never touched.

Each drill runs once per project (module-scoped fixtures in conftest.py) and records what clients
saw; the tests below read that record, one behaviour each. The figures are printed for the
closing note and docs/runbook.md: `pytest tests/test_faults.py -s`.
"""

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from .helpers import WORKERS, Drill, log_records
from .matrix import SMOKE_PROJECT, projects_where

# PostgreSQL's pool under sync workers with a Redis cache; MySQL under sync workers (no pool: a
# retry connects afresh) with Redis; MySQL under ASGI workers with Memcached and a Redis broker.
DRILL_PROJECTS = [
    SMOKE_PROJECT,
    projects_where(asgi=False, database="mysql")[0],
    projects_where(asgi=True, database="mysql")[0],
]
pytestmark = pytest.mark.parametrize("project", DRILL_PROJECTS, indirect=True)
# The bound docs/runbook.md states: DATABASE_TIMEOUT (4) + half a second.
DATABASE_BOUND = 4.5
CHECK_TIMEOUT = 2.0  # HEALTH_CHECK_TIMEOUT's default
LIVENESS_TIMEOUT = 2.0  # the liveness probe's timeoutSeconds in deploy/k8s/deployment.yaml


# --- The database stops answering (connections open, no bytes) --------------------------------
# A request caught mid-query when the database hung waits for it until DATABASE_BOUND. A sync
# worker serves one request at a time: while every worker holds such a request, a probe waits
# for one of them. After that each worker fails fast, and tries again in the background (the
# hang lasts long enough for those tries).


def test_live_answers_every_probe_during_a_database_hang(database_hang):
    answers = database_hang.during(database_hang.live)

    assert answers
    assert {a.status for a in answers} == {200}


def test_live_waits_for_a_worker_at_most_as_long_as_requests_caught_mid_query(
    database_hang, project
):
    # An ASGI worker's event loop answers a probe while its requests wait for the database.
    bound = 1.0 if project.answers["asgi"] else DATABASE_BOUND + 0.5
    slowest = max(a.elapsed for a in database_hang.during(database_hang.live))

    assert slowest <= bound


def test_live_answers_within_the_probes_timeout_once_requests_caught_mid_query_gave_up(
    database_hang,
):
    later = database_hang.started + DATABASE_BOUND
    answers = [a for a in database_hang.during(database_hang.live) if a.started >= later]

    assert answers
    assert [a for a in answers if a.elapsed >= LIVENESS_TIMEOUT] == []


def test_requests_needing_the_database_get_503_with_retry_after_during_a_hang(database_hang):
    # A request asked just before the database came back may be answered by it.
    answers = database_hang.within(database_hang.database_pages)

    assert answers
    assert {a.status for a in answers} == {503}
    assert all(a.headers.get("retry-after") == "5" for a in answers)


def test_requests_needing_the_database_fail_within_the_bound_during_a_hang(database_hang):
    # A request in flight when the database hung waits from that moment on.
    started = database_hang.started
    slowest = max(
        min(a.elapsed, a.started + a.elapsed - started) for a in database_hang.database_pages
    )

    assert slowest <= DATABASE_BOUND + 0.5  # the request's own work, on a loaded machine


def test_pages_needing_no_database_keep_serving_during_a_hang(database_hang):
    answers = database_hang.during(database_hang.pages)

    assert answers
    assert {a.status for a in answers} == {200}


def test_readiness_turns_503_during_a_hang(database_hang):
    first = next(a for a in database_hang.ready if a.started >= database_hang.started)

    assert first.status == 503


def test_readiness_gives_up_on_the_database_within_its_check_timeout_during_a_hang(
    database_hang,
):
    # The access log's duration: from the moment a worker took the probe (waiting for a free
    # worker is the liveness tests' concern).
    probes = log_records(database_hang.log, "GET /health/ready/ 503", logger="gunicorn.access")

    assert probes
    assert max(probe["duration_ms"] for probe in probes) <= (CHECK_TIMEOUT + 0.5) * 1000


def test_readiness_is_back_within_5_seconds_of_the_database(database_hang):
    back = database_hang.first_ready_after(database_hang.ended, 200)

    assert back.started + back.elapsed - database_hang.ended <= 5


def test_no_5xx_once_the_database_answers_again(database_hang):
    assert [a.status for a in database_hang.after] == [200] * 20


def test_no_worker_is_killed_during_a_database_hang(database_hang, drill):
    assert "WORKER TIMEOUT" not in drill.log()


def test_a_database_hang_is_logged_once_per_worker_without_tracebacks(database_hang):
    down = log_records(database_hang.log, "database is unavailable")
    back = log_records(database_hang.log, "database is available again")

    assert 1 <= len(down) <= WORKERS
    assert back
    assert "Traceback" not in database_hang.log


def test_failing_readiness_probes_are_in_the_access_log(database_hang):
    probes = log_records(database_hang.log, "GET /health/ready/ 503", logger="gunicorn.access")

    assert probes


# --- A blip: the link drops for 0.7 s, the database itself stays healthy ----------------------


def test_no_5xx_after_a_database_blip(drill):
    assert drill.client.request("/admin/").status == 200  # connections pooled and open

    drill.proxy("DATABASE_URL").cut()
    time.sleep(0.7)
    drill.proxy("DATABASE_URL").restore()
    answers = [drill.client.request("/admin/") for _ in range(20)]

    assert [a.status for a in answers] == [200] * 20


# --- The cache and the broker: the service degrades, it stays in the load balancer -----------


def test_readiness_stays_200_and_says_degraded_while_a_dependency_is_down(dependency_outages):
    for check, outage in dependency_outages.items():
        # The first may predate the cut; checks of one asked at its end may run after it.
        answers = outage.within(outage.ready)[2:]

        assert answers, check
        assert {a.status for a in answers} == {200}, check
        assert all('"status": "degraded"' in a.body for a in answers), check
        assert all(f'"{check}": {{"status": "error"' in a.body for a in answers), check


def test_pages_keep_serving_while_a_dependency_is_down(dependency_outages):
    for check, outage in dependency_outages.items():
        assert {a.status for a in outage.during(outage.pages)} == {200}, check


def test_a_dependency_outage_is_logged_once_per_worker_and_its_end_once(dependency_outages):
    for check, outage in dependency_outages.items():
        down = log_records(outage.log, f"{check} is unavailable")
        back = log_records(outage.log, f"{check} is available again")

        assert 1 <= len(down) <= WORKERS, check
        assert 1 <= len(back) <= WORKERS, check
        assert "Traceback" not in outage.log, check


# --- Workers recycled under load (max_requests) ------------------------------------------------


def test_new_processes_serve_over_a_slow_path_to_the_database(drill_project, tmp_path):
    """Every gunicorn worker connects afresh; over a slow path (DNS, a TLS handshake with a
    distant server) that takes longer than a request waits for a pooled connection."""
    drill = Drill(drill_project, tmp_path)
    try:
        drill.proxy("DATABASE_URL").slow(1.0)
        drill.client.sign_in("drill", "drill-pw")
        answers = [drill.client.request("/admin/") for _ in range(WORKERS * 3)]
    finally:
        drill.stop()

    assert [a.status for a in answers] == [200] * len(answers)


def test_recycling_workers_under_load_fails_no_request(drill_project, tmp_path):
    drill = Drill(drill_project, tmp_path, GUNICORN_MAX_REQUESTS="20")
    try:
        drill.client.sign_in("drill", "drill-pw")
        paths = ["/", "/admin/", "/health/live/"] * 60

        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda path: drill.client.request(path), paths))
        # gunicorn's sync workers say the first, uvicorn's the second.
        recycled = len(re.findall("Autorestarting worker|Maximum request limit", drill.log()))
    finally:
        drill.stop()

    print(
        f"\n[recycling] {drill_project.slug}: {len(answers)} requests, {recycled} workers recycled"
    )
    assert recycled >= 3
    assert [a.status for a in answers if a.status != 200] == []
