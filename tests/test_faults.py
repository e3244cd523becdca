"""Fault drills: served projects put through what production does to them.

The default project (sync workers, PostgreSQL, Redis) and an ASGI project (MariaDB, Memcached,
Celery on Redis) run under `uv run gunicorn` with production settings. Each service they use is
reached through a FaultProxy (fault_proxy.py) that the drill cuts, blackholes or restores; the
machine's shared services are never touched.

Each drill runs once per project (module-scoped fixtures) and records what clients saw; the
tests below read that record, one behaviour each. The figures are printed for the closing note
and docs/runbook.md: `pytest tests/test_faults.py -s`.
"""

import http.client
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import pytest

from .conftest import SERVICES, Server, log_records, require_service, run
from .fault_proxy import FaultProxy
from .test_projects import PROJECTS, SMOKE_ANSWERS, projects_where

# PostgreSQL's pool under sync workers with a Redis cache; MySQL under ASGI workers with
# Memcached and a Redis broker.
DRILL_PROJECTS = [
    next(param for param in PROJECTS if param.values[0] is SMOKE_ANSWERS),
    projects_where(asgi=True, database="mysql")[0],
]
POD_IP_HOST = "10.1.2.3:8000"
WORKERS = 3
# More clients needing the database than workers: as in production, where the load balancer
# keeps sending requests during an outage. Without a bound every worker would end up waiting.
DATABASE_CLIENTS = 2 * WORKERS
FAULT_SECONDS = 6
# The bound docs/runbook.md states: DATABASE_TIMEOUT (4) + half a second.
DATABASE_BOUND = 4.5
CHECK_TIMEOUT = 2.0  # HEALTH_CHECK_TIMEOUT's default
RETRY_SECONDS = 2.0  # config/database/: how long a process fails fast after a failure


@dataclass
class Answer:
    started: float
    elapsed: float
    status: int | None  # None: no answer within the client's timeout, or the connection failed
    headers: dict = field(default_factory=dict)  # names lowercased
    body: str = ""


class Client:
    """Requests to a served project as its proxy and its probes send them."""

    def __init__(self, server, project):
        self.port = server.port
        self.host = project.answers["domain_name"]
        self.cookies = {}

    def request(self, path, method="GET", timeout=30, probe=False, body=None, headers=None):
        headers = {
            "Host": POD_IP_HOST if probe else self.host,
            **({} if probe else {"X-Forwarded-Proto": "https"}),
            **({"Cookie": self.cookie_header()} if self.cookies and not probe else {}),
            **(headers or {}),
        }
        started = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode(errors="replace")
        except OSError:
            return Answer(started, time.monotonic() - started, None)
        finally:
            connection.close()
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        headers = {name.lower(): value for name, value in response.headers.items()}
        return Answer(started, time.monotonic() - started, response.status, headers, text)

    def cookie_header(self):
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def sign_in(self, username, password, admin_url="/admin/"):
        """Sign in to the admin as a browser does: its pages then need the database."""
        form = self.request(f"{admin_url}login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.body).group(1)
        body = f"username={username}&password={password}&csrfmiddlewaretoken={token}"
        answer = self.request(
            f"{admin_url}login/",
            method="POST",
            body=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Referer": f"https://{self.host}{admin_url}login/",
            },
        )
        assert answer.status == 302, answer.body[-2000:]


def through(url, proxy):
    """The URL with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{proxy.port}" if credentials else f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def service_of(url):
    return next(name for name, address in SERVICES.items() if address[1] == urlsplit(url).port)


class Drill:
    """A served project whose database, cache and broker each sit behind a FaultProxy."""

    def __init__(self, project, directory, **env):
        self.project = project
        self.proxies = {}
        proxied = {}
        for variable in ("DATABASE_URL", "CACHE_URL", "CELERY_BROKER_URL"):
            url = project.service_env.get(variable)
            if url and not url.startswith("sqlite"):
                require_service(service_of(url))
                proxy = FaultProxy(urlsplit(url).port)
                self.proxies[variable] = proxy
                proxied[variable] = through(url, proxy)
        env = project.production_env(DATABASE_SSLMODE="disable", **proxied, **env)
        self.server = Server(project, env | {"GUNICORN_WORKERS": str(WORKERS)}, directory / "log")
        self.client = Client(self.server, project)

    def proxy(self, variable):
        return self.proxies[variable]

    def log(self):
        return self.server.log_path.read_text()

    def stop(self):
        self.server.stop()
        for proxy in self.proxies.values():
            proxy.close()


def prepared(project):
    """Migrated, static files collected, and an admin to sign in as."""
    env = project.production_env(DATABASE_SSLMODE="disable", DJANGO_SUPERUSER_PASSWORD="drill-pw")
    run(["bash", "-ec", "\n".join(project.readme_commands("Production")[:-1])], project.path, env)
    project.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        "get_user_model().objects.filter(username='drill').delete()",
        env=env,
    )
    project.manage(
        "createsuperuser",
        "--noinput",
        "--username",
        "drill",
        "--email",
        "drill@example.com",
        env=env,
    )
    return project


@pytest.fixture(scope="module", params=DRILL_PROJECTS)
def project(request, installed_projects):
    return prepared(installed_projects(request.param))


@pytest.fixture(scope="module")
def drill(project, tmp_path_factory):
    drill = Drill(project, tmp_path_factory.mktemp("drill"))
    drill.client.sign_in("drill", "drill-pw")
    yield drill
    drill.stop()


def keep_asking(stop, answers, ask, every):
    while not stop.is_set():
        answers.append(ask())
        stop.wait(every)


@dataclass
class Outage:
    """What clients saw before, during and after one fault."""

    started: float = 0.0
    ended: float = 0.0
    live: list = field(default_factory=list)
    pages: list = field(default_factory=list)
    database_pages: list = field(default_factory=list)
    ready: list = field(default_factory=list)
    after: list = field(default_factory=list)
    log: str = ""  # what the server logged from the fault on

    def during(self, answers):
        """Asked while the fault lasted (some answered after it ended)."""
        return [a for a in answers if self.started <= a.started and a.started < self.ended]

    def within(self, answers):
        """Asked and answered while the fault lasted."""
        return [a for a in self.during(answers) if a.started + a.elapsed < self.ended]

    def first_ready_after(self, moment, status):
        return next(a for a in self.ready if a.started >= moment and a.status == status)


def run_outage(drill, variable, fault, seconds, database_clients=0):
    """Probes, a page without the database and (optionally) clients of pages that need it, all
    running while the fault lasts and until readiness is back; then 20 requests needing the
    database."""
    client = drill.client
    outage = Outage()
    stop = threading.Event()
    askers = [
        (outage.live, lambda: client.request("/health/live/", timeout=5, probe=True), 0.2),
        (outage.ready, lambda: client.request("/health/ready/", timeout=10, probe=True), 0.25),
        (outage.pages, lambda: client.request("/", timeout=10), 0.3),
    ] + [(outage.database_pages, lambda: client.request("/admin/", timeout=30), 0.05)] * (
        database_clients
    )
    with ThreadPoolExecutor(len(askers)) as pool:
        for answers, ask, every in askers:
            pool.submit(keep_asking, stop, answers, ask, every)
        time.sleep(1)
        log_offset = len(drill.log())
        outage.started = time.monotonic()
        getattr(drill.proxy(variable), fault)()
        time.sleep(seconds)
        drill.proxy(variable).restore()
        outage.ended = time.monotonic()
        deadline = outage.ended + 30
        while time.monotonic() < deadline:
            if any(a.status == 200 and a.started >= outage.ended for a in outage.ready):
                break
            time.sleep(0.1)
        # A worker whose connections broke when the fault ended fails fast for RETRY_SECONDS
        # (config/database/) before it tries again: give every worker that long.
        time.sleep(max(0.5, outage.ended + RETRY_SECONDS - time.monotonic()))
        stop.set()
    outage.after = [client.request("/admin/") for _ in range(20)]
    outage.log = drill.log()[log_offset:]
    return outage


def report(name, project, outage):
    """One line of figures per drill (pytest -s shows them)."""
    during = outage.during
    live = during(outage.live)
    database = during(outage.database_pages)
    back = outage.first_ready_after(outage.ended, 200)
    first = next(a for a in outage.ready if a.started >= outage.started)
    print(
        f"\n[{name}] {project.slug}: live {sum(a.status == 200 for a in live)}/{len(live)} 200, "
        f"max {max((a.elapsed for a in live), default=0):.2f}s; "
        f"database pages {len(database)}: "
        f"{sorted({a.status for a in database}, key=str)}, "
        f"max {max((a.elapsed for a in database), default=0):.2f}s; "
        f"first readiness answer {first.status} in {first.elapsed:.2f}s, "
        f"ready again {back.started + back.elapsed - outage.ended:.2f}s after; "
        f"5xx after: {sum((a.status or 500) >= 500 for a in outage.after)}/20"
    )
    for answer in outage.live + outage.ready:
        if answer.elapsed >= 1 or answer.status not in {200, 503}:
            print(
                f"  {answer.started - outage.started:+.2f}s {answer.elapsed:.2f}s {answer.status}"
            )


# --- The database stops answering (connections open, no bytes) --------------------------------


@pytest.fixture(scope="module")
def database_hang(drill, project):
    outage = run_outage(drill, "DATABASE_URL", "blackhole", FAULT_SECONDS, DATABASE_CLIENTS)
    report("database blackholed", project, outage)
    return outage


def test_live_answers_within_a_second_throughout_a_database_hang(database_hang):
    answers = database_hang.during(database_hang.live)

    assert answers
    assert [a for a in answers if a.status != 200 or a.elapsed >= 1.0] == []


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


def test_readiness_turns_503_within_its_check_timeout_during_a_hang(database_hang):
    first = next(a for a in database_hang.ready if a.started >= database_hang.started)

    assert first.status == 503
    assert first.elapsed <= CHECK_TIMEOUT + 0.5


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

# The readiness check that reports each dependency a drill cuts.
DEGRADING = {"CACHE_URL": "cache", "CELERY_BROKER_URL": "broker"}


@pytest.fixture(scope="module")
def dependency_outages(drill, project):
    """Each dependency readiness does not require, cut for 4 s in turn: {check: Outage}."""
    outages = {}
    for variable, check in DEGRADING.items():
        if variable in drill.proxies:
            outages[check] = run_outage(drill, variable, "cut", 4)
            report(f"{check} cut", project, outages[check])
    return outages


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


def test_recycling_workers_under_load_fails_no_request(project, tmp_path):
    drill = Drill(project, tmp_path, GUNICORN_MAX_REQUESTS="20")
    try:
        drill.client.sign_in("drill", "drill-pw")
        paths = ["/", "/admin/", "/health/live/"] * 60

        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda path: drill.client.request(path), paths))
        # gunicorn's sync workers say the first, uvicorn's the second.
        recycled = len(re.findall("Autorestarting worker|Maximum request limit", drill.log()))
    finally:
        drill.stop()

    print(f"\n[recycling] {project.slug}: {len(answers)} requests, {recycled} workers recycled")
    assert recycled >= 3
    assert [a.status for a in answers if a.status != 200] == []
