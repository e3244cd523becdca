"""The tests' fixtures: projects rendered and installed once per session, the services and
machinery they run against, and what each test module serves, drills or builds from them. Plain
helpers are in helpers.py; the answer sets in matrix.py."""

import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from pytest_copie.plugin import Copie

from .helpers import (
    CREATE_DATABASE,
    DATABASE_CLIENTS,
    DEGRADING,
    EMULATOR_COMMANDS,
    EXAMPLE_APP,
    FAULT_SECONDS,
    IMPORT_WITH_EACH_VALUE,
    MAIL_OVERRIDE,
    NEXT_RELEASE_CMD,
    POD_IP_HOST,
    SERVICES,
    SMTP_SINK,
    TEMPLATE_DIR,
    Drill,
    Image,
    OTLPReceiver,
    Prometheus,
    Server,
    Stack,
    Worker,
    ahead_of_the_machines_other_work,
    clean_environment,
    clear_tree,
    copy_working_tree,
    database_name,
    every_check_passes,
    free_port,
    git,
    http_get,
    monitoring,
    ports_are_free,
    production_env,
    releases,
    render,
    report,
    require_program,
    require_service,
    run,
    run_outage,
    serve_behind_nginx,
    serve_in_production,
    service_environment,
    start_pgbouncer,
    wait_until_listening,
    worker_env,
)
from .images import base_images, engine_setup, ensure_base_images, machine_lock
from .matrix import API_PROJECTS, SMOKE_ANSWERS
from .smtp_sink import SMTPSink

# --- The session ----------------------------------------------------------------------------------


def pytest_xdist_auto_num_workers(config):
    """`-n auto` (pyproject.toml): one worker more than the machine has cores. Much of the suite
    waits on servers, builds and the network rather than computing: two workers kept 1.6 of 2
    cores busy, and a third cut the run from 22.4 to 17.0 minutes (docs/benchmarks.md)."""
    return (os.cpu_count() or 1) + 1


# --- Rendered and installed projects --------------------------------------------------------------


@pytest.fixture(scope="session")
def template_snapshot(tmp_path_factory):
    """The template as it stands in the working tree, committed in a repository of its own.

    Renders then record a real commit (a dirty tree gives Copier a throwaway one), so
    `copier update` works, and the tests never depend on the tree being committed.
    """
    snapshot = tmp_path_factory.mktemp("template")
    copy_working_tree(snapshot)
    git("init", "-q", cwd=snapshot)
    git("add", "-A", cwd=snapshot)
    git("commit", "-qm", "snapshot", cwd=snapshot)
    return snapshot


@pytest.fixture(scope="session")
def template_renderer(template_snapshot, tmp_path_factory, _copier_config_file):
    """pytest-copie, pointed at the template by absolute path (a relative _src_path breaks
    later updates)."""
    return Copie(template_snapshot, tmp_path_factory.mktemp("renders"), _copier_config_file)


@pytest.fixture(scope="session")
def installed_projects(template_renderer, pgbouncer, emulator):
    """Render, install and prepare each combination once per session (per xdist worker)."""
    cache = {}

    def get(answers):
        key = json.dumps(answers, sort_keys=True)
        if key not in cache:
            needed = {answers["database"], answers["cache"]}
            if answers.get("background_tasks") == "celery":
                needed.add(answers.get("task_broker", "redis"))
            for service in needed & SERVICES.keys():
                require_service(service)
            project = render(template_renderer, answers)
            project.service_env = service_environment(
                project.answers, project.path, pgbouncer, emulator
            )
            run(["uv", "sync"], project.path, clean_environment(), timeout=900)
            if project.answers["database"] in CREATE_DATABASE:
                code = CREATE_DATABASE[project.answers["database"]].format(
                    name=database_name(project.answers)
                )
                project.uv("python", "-c", code)
            if project.answers["api"] != "none":
                # What a team commits after its first test run (see test_api.py). Generating it
                # asks MariaDB its version: after the database exists.
                project.make("api-schema")
            if project.answers.get("cloud", "none") != "none":
                project.uv("python", "scripts/create_buckets.py")
            cache[key] = project
        return cache[key]

    return get


@pytest.fixture(scope="module")
def project(request, installed_projects):
    """The installed project of the answers a test module parametrizes `project` with, as in
    `pytest.mark.parametrize("project", PROJECTS, indirect=True)`. Module-scoped, so that a
    module's served project or drill is set up once per project."""
    return installed_projects(request.param)


@pytest.fixture
def default_project(installed_projects):
    """The project of the default answers (SMOKE_ANSWERS)."""
    return installed_projects(SMOKE_ANSWERS)


# --- The services and machinery projects run against ----------------------------------------------


@pytest.fixture(scope="session")
def pgbouncer(tmp_path_factory):
    """A real PgBouncer in transaction mode in front of the loopback PostgreSQL, started on
    first use: projects rendered with pgbouncer=true run their tests through it."""
    processes = []

    def port():
        if not processes:
            processes.append(start_pgbouncer(tmp_path_factory.mktemp("pgbouncer")))
        return processes[0][1]

    yield port
    for process, _ in processes:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="session")
def emulator():
    """Each cloud's emulator, started on first use (moto and gcp-storage-emulator from PyPI,
    Azurite from npm); `emulator(cloud)` gives its port."""
    started = {}

    def port(cloud):
        if cloud not in started:
            listen_port = free_port()
            tools = Path(sys.executable).parent
            command = [
                part.format(tools=tools, port=listen_port) for part in EMULATOR_COMMANDS[cloud]
            ]
            if not Path(command[0]).is_absolute():
                command[0] = require_program(command[0])
            process = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            started[cloud] = (process, listen_port)
            wait_until_listening(listen_port, process, command[0])
        return started[cloud][1]

    yield port
    for process, _ in started.values():
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="session")
def engine(tmp_path_factory):
    """podman and buildah set up for this machine (tests/images.py): its environment, the flags
    `make image` needs here, and a work directory for the stand-in images."""
    directory = tmp_path_factory.mktemp("engine")
    env, build_flags = engine_setup(directory)
    if shutil.which("podman"):
        # The tests' own store keeps the stand-ins between runs; earlier runs' layers go.
        run(["podman", "image", "prune", "--force"], directory, os.environ | env, check=False)
    return {"env": env, "build_flags": build_flags, "workdir": directory}


# --- test_answers.py ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def startup_errors(installed_projects):
    """`startup_errors(values)`: {"NAME=value": the error the default project's production
    settings stop with} for every (name, value), all found in one interpreter, once."""
    found = {}

    def errors(values):
        key = json.dumps(values)
        if key not in found:
            project = installed_projects(SMOKE_ANSWERS)
            env = project.production_env(BAD_VALUES=key)
            found[key] = json.loads(
                project.uv("python", "-c", IMPORT_WITH_EACH_VALUE, env=env).stdout
            )
        return found[key]

    return errors


# --- test_api.py ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited_server(installed_projects, tmp_path_factory):
    """The first API project, allowing one CORS origin, with low rate limits: (server, project)."""
    project = installed_projects(API_PROJECTS[0].values[0])
    server = serve_in_production(
        project,
        tmp_path_factory.mktemp("limited"),
        CORS_ALLOWED_ORIGINS="https://app.example.com",
        API_THROTTLE_ANON="3/min",
        LOGIN_RATE_LIMIT="2/min",
    )
    yield server, project
    server.stop()


# --- test_delivery.py -----------------------------------------------------------------------------


@pytest.fixture
def nginx():
    require_program("curl")
    return require_program("nginx")


@pytest.fixture
def behind_nginx(default_project, nginx, tmp_path):
    """The default project under gunicorn behind the rendered nginx, on loopback ports (the
    HTTPS one is not 443, as on a laptop or behind a port mapping)."""
    with serve_behind_nginx(default_project, tmp_path, nginx) as ports:
        yield {"domain": default_project.answers["domain_name"]} | ports


# --- test_docs.py ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The documentation site, built with `mkdocs build --strict` (warnings are errors)."""
    directory = tmp_path_factory.mktemp("site")
    env = os.environ | {"DISABLE_MKDOCS_2_WARNING": "true"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(directory)]
    result = subprocess.run(command, cwd=TEMPLATE_DIR, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return directory


# --- test_faults.py -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def drill_project(project):
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


# The fault drills and the production stack measure how fast a served project answers while
# something fails: on a 2-core machine two of them at once starve each other's servers past the
# bounds they measure. They take turns (other tests still run beside them).
MEASURES_TIMING = "foundry-measures-timing"


@pytest.fixture(scope="module")
def drill(drill_project, tmp_path_factory):
    with machine_lock(MEASURES_TIMING), ahead_of_the_machines_other_work():
        drill = Drill(drill_project, tmp_path_factory.mktemp("drill"))
        drill.client.sign_in("drill", "drill-pw")
        yield drill
        drill.stop()


@pytest.fixture(scope="module")
def database_hang(drill, project):
    outage = run_outage(drill, "DATABASE_URL", "blackhole", FAULT_SECONDS, DATABASE_CLIENTS)
    report("database blackholed", project, outage)
    return outage


@pytest.fixture(scope="module")
def dependency_outages(drill, project):
    """Each dependency readiness does not require, cut for 4 s in turn: {check: Outage}."""
    outages = {}
    for variable, check in DEGRADING.items():
        if variable in drill.proxies:
            outages[check] = run_outage(drill, variable, "cut", 4)
            report(f"{check} cut", project, outages[check])
    return outages


# --- test_image.py --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def image(request, installed_projects, engine):
    """The runtime image of the project test_image.py parametrizes `image` with (indirectly)."""
    image = smoked_image(installed_projects(request.param), engine)
    try:
        yield image
    finally:
        image.remove()


def smoked_image(project, engine):
    """The project's image, built and probed by its own `make image-smoke` (image.smoke)."""
    ensure_base_images(base_images(project.path / "Dockerfile"), engine["workdir"], engine["env"])
    image = Image(project, engine)
    build_flags = " ".join(engine["build_flags"])
    command = ["make", "image-smoke", "CONTAINER=podman", f"IMAGE={image.name}"]
    try:
        image.smoke = run([*command, f"BUILD_FLAGS={build_flags}"], project.path, image.make_env())
    except BaseException:
        image.remove()
        raise
    return image


@pytest.fixture(scope="module")
def served(image):
    """The image's own command (gunicorn), serving on a free port of the host network."""
    migrate = ["run", "--rm", "--network", "host", *image.container_env(), image.name]
    image.podman(*migrate, "python", "manage.py", "migrate", "--noinput")
    port, metrics_port = free_port(), free_port()
    container = image.start(PORT=str(port), METRICS_PORT=str(metrics_port))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            status, body = http_get(port, "/health/ready/", POD_IP_HOST)
            if every_check_passes(status, body):
                break
        except OSError:
            pass
        time.sleep(0.5)
    else:
        pytest.fail(f"the image did not get ready:\n{image.logs(container)}")
    return {"container": container, "port": port, "metrics_port": metrics_port}


# --- test_observability.py ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scraped(request, installed_projects, tmp_path_factory):
    """The project test_observability.py parametrizes `scraped` with (indirectly), under gunicorn
    (2 workers, production settings), and a real Prometheus scraping its metrics port every
    second."""
    project = installed_projects(request.param)
    directory = tmp_path_factory.mktemp("scrape")
    env = project.production_env(
        DATABASE_SSLMODE="disable", PROMETHEUS_MULTIPROC_DIR=str(directory / "multiproc")
    )
    project.manage("migrate", "--noinput", env=env)
    project.manage("collectstatic", "--noinput", env=env)
    server = Server(project, env, directory / "gunicorn.log")
    prometheus = Prometheus(directory, monitoring(project), int(env["METRICS_PORT"]))
    yield project, server, prometheus, env
    prometheus.stop()
    server.stop()


@pytest.fixture(scope="module")
def traffic(scraped):
    """How many page views were sent: 60, 8 at a time, so both workers serve some."""
    requests = 60
    project, server, _, _ = scraped
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: server.page("/", project)[0].status, range(requests)))
    assert statuses == [200] * requests
    return requests


@pytest.fixture
def receiver():
    with OTLPReceiver() as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield server
        server.shutdown()


# --- test_production_stack.py ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(installed_projects, engine, tmp_path_factory):
    """The default project's production stack, in a copy of the project (its .env is edited)."""
    ports_are_free(80, 443)
    project = installed_projects(SMOKE_ANSWERS)
    directory = tmp_path_factory.mktemp("stack") / project.path.name
    shutil.copytree(
        project.path, directory, ignore=shutil.ignore_patterns(".venv", "*cache", "*.sqlite3")
    )
    env = project.env() | engine["env"]

    services = yaml.safe_load((directory / "compose.prod.yaml").read_text())["services"]
    images = base_images(directory / "Dockerfile")
    images |= {service["image"] for service in services.values() if "build" not in service}
    ensure_base_images(images, engine["workdir"], env)
    # The image compose.prod.yaml names, built as `make image` builds it.
    app_image = services["web"]["image"]
    build_flags = f"BUILD_FLAGS={' '.join(engine['build_flags'])}"
    run(["make", "image", "CONTAINER=podman", f"IMAGE={app_image}", build_flags], directory, env)
    run(["make", "certificate"], directory, env)

    # What a team puts in .env for production (the passwords are already there).
    domain = project.answers["domain_name"]
    with (directory / ".env").open("a") as dotenv:
        dotenv.write(f"DJANGO_ALLOWED_HOSTS={domain}\n")
        dotenv.write("EMAIL_HOST=mail\nEMAIL_PORT=1025\nEMAIL_USE_TLS=false\n")
    (directory / "smtp-sink").mkdir()
    shutil.copy(SMTP_SINK, directory / "smtp-sink")
    override = yaml.safe_dump(MAIL_OVERRIDE).replace("{image}", app_image)
    (directory / "compose.mail.yaml").write_text(override)
    stack = Stack(directory, env)

    with machine_lock(MEASURES_TIMING):
        try:
            stack.up()
            for service in ("nginx", "backup", "critical-worker", "worker", "prune"):
                stack.wait_healthy(service)
            stack.domain = domain
            stack.wait_ready()
            yield stack
            # Checked on the way out, after every test used the stack: down leaves nothing
            # running.
            stack.podman_compose("down", "--timeout", "10")
            assert stack.running() == [], "compose down left containers running"
        finally:
            stack.podman_compose("down", "--volumes", "--timeout", "10", check=False)
            stack.podman("rmi", "--force", app_image, check=False)


# --- test_newcomers.py ----------------------------------------------------------------------------


@pytest.fixture
def newcomer_database(project):
    """The SQLite file the development fallback creates in the project: gone afterwards."""
    yield project.path / "db.sqlite3"
    (project.path / "db.sqlite3").unlink(missing_ok=True)


# --- test_smoke.py --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def production_project(project):
    """The project prepared as its README's Production section says: every line before
    `uv run gunicorn`."""
    *preparation, serve = project.readme_commands("Production")
    assert serve == "uv run gunicorn"
    env = project.production_env(DATABASE_SSLMODE="disable")
    run(["bash", "-ec", "\n".join(preparation)], project.path, env)
    return project


@pytest.fixture(scope="module")
def server(production_project, tmp_path_factory):
    env = production_project.production_env(DATABASE_SSLMODE="disable")
    server = Server(production_project, env, tmp_path_factory.mktemp("gunicorn") / "healthy.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server_without_cache(production_project, tmp_path_factory):
    env = production_project.production_env(
        DATABASE_SSLMODE="disable", CACHE_URL=f"redis://127.0.0.1:{free_port()}/0"
    )
    server = Server(production_project, env, tmp_path_factory.mktemp("gunicorn") / "no-cache.log")
    yield server
    server.stop()


# --- test_updates.py ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def release_history(tmp_path_factory):
    """A template repository holding each release (tagged) and, last, the working tree."""
    repository = tmp_path_factory.mktemp("releases")
    git("init", "-q", cwd=repository)
    for tag, commit in releases().items():
        archive = subprocess.run(
            ["git", "archive", commit], cwd=TEMPLATE_DIR, check=True, capture_output=True
        )
        clear_tree(repository)
        subprocess.run(["tar", "-x"], input=archive.stdout, cwd=repository, check=True)
        git("add", "-A", cwd=repository)
        git("commit", "-qm", f"release {tag}", cwd=repository)
        git("tag", tag, cwd=repository)
    clear_tree(repository)
    copy_working_tree(repository)
    git("add", "-A", cwd=repository)
    # Empty when the working tree is the newest release: the update still moves past its tag.
    git("commit", "-qm", "working tree", "--allow-empty", cwd=repository)
    return repository


@pytest.fixture
def next_release(release_history, tmp_path):
    """A copy of the release history, and a function that adds a newer release to it."""
    repository = tmp_path / "template"
    shutil.copytree(release_history, repository)

    def publish(version):
        dockerfile = repository / "template" / "Dockerfile.jinja"
        command = [line for line in dockerfile.read_text().splitlines() if line.startswith("CMD ")]
        dockerfile.write_text(dockerfile.read_text().replace(command[-1], NEXT_RELEASE_CMD))
        git("commit", "-qam", f"release {version}", cwd=repository)
        git("tag", version, cwd=repository)

    return repository, publish


# --- test_workers.py ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def migrated_projects(installed_projects):
    """Each project migrated, and its queues emptied, once per session: every test's tasks are
    done when it ends."""
    migrated = {}

    def get(answers):
        project = installed_projects(answers)
        if project.path not in migrated:
            project.manage("migrate", "--noinput", env=production_env(project))
            if project.answers["background_tasks"] == "celery":
                # Messages left by an earlier run would be delivered to this run's worker.
                queues = "--queues=default,critical"
                project.uv(
                    "celery",
                    "--app=config",
                    "purge",
                    "--force",
                    queues,
                    env=production_env(project),
                )
            migrated[project.path] = project
        return project

    return get


@pytest.fixture
def worker_project(migrated_projects, answers):
    """The migrated project of the answers the test is parametrized with."""
    return migrated_projects(answers)


@pytest.fixture
def smtp():
    with SMTPSink() as sink:
        yield sink


@pytest.fixture
def worker(worker_project, smtp, tmp_path):
    worker = Worker(worker_project, worker_env(worker_project, smtp, tmp_path), tmp_path / "w.log")
    yield worker
    worker.stop()


# --- test_example_apps.py -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trimmed_project(request, installed_projects):
    """A project of its own, its example apps deleted exactly as its README says: the README's
    commands, then every line of config/ that names an example app, then `make format` and
    `make api-schema`."""
    project = installed_projects(request.param)
    run(["bash", "-c", "\n".join(project.readme_commands("Where code goes"))], project.path)
    for path in [project.path / "config/settings/base.py", project.path / "config/api.py"]:
        if path.exists():
            lines = path.read_text().splitlines(keepends=True)
            path.write_text("".join(line for line in lines if not EXAMPLE_APP.search(line)))
    project.make("format")
    project.make("api-schema")
    return project


@pytest.fixture(scope="module")
def trimmed_image(trimmed_project, engine):
    image = smoked_image(trimmed_project, engine)
    try:
        yield image
    finally:
        image.remove()
