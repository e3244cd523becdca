"""Shared machinery: render projects once per session, install them, and reach real services."""

import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pytest_copie.plugin import Copie

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Where each service listens on CI's machine (and a developer's, if they run one).
SERVICES = {
    "postgresql": ("127.0.0.1", 5432),
    "mysql": ("127.0.0.1", 3306),
    "redis": ("127.0.0.1", 6379),
    "memcached": ("127.0.0.1", 11211),
    "rabbitmq": ("127.0.0.1", 5672),
}
# Variables of the machine that must not leak into a rendered project's processes.
PROJECT_VARIABLES = (
    "DJANGO_",
    "DATABASE_",
    "CACHE_",
    "CELERY_",
    "EMAIL_",
    "TASK_",
    "WORKER_",
    "METRICS_",
    "PROMETHEUS_",
    "SENTRY_",
    "OTEL_",
    "API_",
    "CORS_",
    "LOGIN_RATE_LIMIT",
    "NUM_PROXIES",
    "AWS_",
    "GS_",
    "GOOGLE_",
    "AZURE_",
    "STORAGE_EMULATOR_HOST",
    "MEDIA_",
    "BACKUP_",
    "VIRTUAL_ENV",
    "PYTEST_",
)


def missing(message):
    """Skip on a laptop without something a test needs; under CI that is a failure."""
    if IN_CI:
        pytest.fail(f"CI must provide it: {message}")
    pytest.skip(message)


def require_service(name):
    host, port = SERVICES[name]
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as error:
        missing(f"{name} is not reachable on {host}:{port} ({error})")


def require_program(name):
    """The path of a program from the machine's packages (see .ci/run)."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not installed")
    return path


def free_port():
    """A loopback port nothing listens on (yet)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_listening(port, process, name, timeout=60):
    """Wait for a server we started to accept connections; fail at once if it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{name} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"{name} did not listen on {port} within {timeout}s")


def every_check_passes(status, body):
    """Whether a /health/ready/ answer reports every check ok: a degraded service answers 200
    too, so a test that wants every dependency connected waits for this, as for a load
    balancer's first probe on a loaded machine."""
    return status == 200 and json.loads(body)["status"] == "ok"


def log_records(text, message, **fields):
    """The JSON log lines of a service's output whose message starts with message and that carry
    these fields (other lines are skipped)."""
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return [
        record
        for record in records
        if str(record.get("message", "")).startswith(message)
        and all(record.get(name) == value for name, value in fields.items())
    ]


def run(command, cwd, env=None, timeout=600, check=True):
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, command))} exited {result.returncode} in {cwd}\n"
            f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
        )
    return result


def copier(*args, cwd=TEMPLATE_DIR):
    """Copier's command line, as a team runs it; fails the test if it fails."""
    return run([sys.executable, "-m", "copier", *map(str, args)], cwd, clean_environment())


def clean_environment(**extra):
    env = {
        name: value for name, value in os.environ.items() if not name.startswith(PROJECT_VARIABLES)
    }
    return env | {"UV_PYTHON_DOWNLOADS": "never"} | extra


@dataclass
class Project:
    """A rendered project and the services it was rendered for."""

    path: Path
    answers: dict
    service_env: dict = field(default_factory=dict)

    @property
    def slug(self):
        return self.answers["project_slug"]

    def env(self, **extra):
        return clean_environment(**(self.service_env | extra))

    def uv(self, *args, env=None, check=True, timeout=600):
        return run(["uv", "run", "--frozen", *args], self.path, env or self.env(), timeout, check)

    def make(self, target, env=None):
        return run(["make", target], self.path, env or self.env())

    def manage(self, *args, env=None, check=True):
        return self.uv("python", "manage.py", *args, env=env, check=check)

    def readme_commands(self, heading):
        """The lines of the first shell block under a heading of the project's README."""
        text = (self.path / "README.md").read_text().split(f"\n## {heading}\n", 1)[1]
        return re.search(r"```sh\n(.*?)```", text, flags=re.DOTALL).group(1).splitlines()

    def production_env(self, **extra):
        defaults = {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "production-" + "k" * 60,
            "DJANGO_ALLOWED_HOSTS": self.answers["domain_name"],
            # Servers of several tests run at once: each gets a metrics port of its own.
            "METRICS_PORT": str(free_port()),
        }
        return self.env(**(defaults | extra))


class Server:
    """`uv run gunicorn` in a project, as its README serves it, logging to a file."""

    def __init__(self, project, env, log_path):
        self.port = free_port()
        self.log_path = log_path
        self.log = log_path.open("w")
        # The README's command; gunicorn.conf.py binds PORT.
        env = {"GUNICORN_WORKERS": "2"} | env | {"PORT": str(self.port)}
        self.process = subprocess.Popen(
            ["uv", "run", "gunicorn"],
            cwd=project.path,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_until_listening(self.port, self.process, f"gunicorn (log: {log_path})")

    def get(self, path, host, headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection.request("GET", path, headers={"Host": host} | (headers or {}))
        response = connection.getresponse()
        body = response.read().decode()
        connection.close()
        return response, body

    def page(self, path, project, headers=None):
        """A browser's request, as the TLS-terminating proxy forwards it."""
        https = {"X-Forwarded-Proto": "https"} | (headers or {})
        return self.get(path, project.answers["domain_name"], https)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()

    def access_log(self):
        records = [json.loads(line) for line in self.log_path.read_text().splitlines()]
        return [record for record in records if record["logger"] == "gunicorn.access"]

    def wait_for_access(self, **expected):
        """gunicorn writes the access line just after the response: wait for a line with these
        fields."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for record in self.access_log():
                if all(record[name] == value for name, value in expected.items()):
                    return record
            time.sleep(0.1)
        pytest.fail(f"no access log line with {expected}: {self.log_path.read_text()}")


def database_name(answers):
    """One database per rendered combination, so parallel workers never share one."""
    digest = hashlib.sha256(json.dumps(answers, sort_keys=True).encode()).hexdigest()
    return f"foundry_{digest[:12]}"


def service_environment(answers, path, pgbouncer, emulator):
    """DATABASE_URL / CACHE_URL pointing the rendered project at the real service it chose
    (through a real PgBouncer when it chose one: `pgbouncer()` gives its port), and its cloud's
    variables at a local emulator (`emulator(cloud)` gives its port)."""
    name = database_name(answers)
    env = {"DATABASE_URL": f"sqlite:///{path / 'foundry.sqlite3'}"}
    if answers.get("pgbouncer"):
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:{pgbouncer()}/{name}"
        env["DATABASE_SSLMODE"] = "prefer"
        # PgBouncer keeps its pooled server connection to the test database, so Django could
        # not drop that database at the end of the run: keep it for the next run.
        env["PYTEST_ADDOPTS"] = "--reuse-db"
    elif answers["database"] == "postgresql":
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{name}"
        env["DATABASE_SSLMODE"] = "prefer"
    elif answers["database"] == "mysql":
        env["DATABASE_URL"] = f"mysql://root@127.0.0.1:3306/{name}"
    if answers["cache"] == "redis":
        env["CACHE_URL"] = "redis://127.0.0.1:6379/0"
    elif answers["cache"] == "memcached":
        env["CACHE_URL"] = "pymemcache://127.0.0.1:11211"
    if answers.get("background_tasks") == "celery":
        env["CELERY_BROKER_URL"] = broker_url(answers, answers.get("task_broker", "redis"))
    # Where the worker beats: a project-specific file, as workers of several projects run at once.
    env["WORKER_HEARTBEAT_FILE"] = str(path / "worker-heartbeat")
    cloud = answers.get("cloud", "none")
    if cloud != "none":
        env |= cloud_environment(cloud, emulator(cloud), name.replace("_", "-"))
    return env


# Azurite's documented development account: the same for every Azurite, not a secret.
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def cloud_environment(cloud, port, buckets):
    """A project's media and backup buckets (named after its database) in its cloud's emulator;
    nothing that would reach the real cloud or a metadata server."""
    endpoint = f"http://127.0.0.1:{port}"
    if cloud == "aws":
        return {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_S3_ENDPOINT_URL": endpoint,
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoint,
            "AWS_STORAGE_BUCKET_NAME": f"{buckets}-media",
            "BACKUP_BUCKET": f"{buckets}-backups",
        }
    if cloud == "gcp":
        return {
            "STORAGE_EMULATOR_HOST": endpoint,
            "GS_PROJECT_ID": "foundry-tests",
            "GS_IAM_SIGN_BLOB": "false",
            "NO_GCE_CHECK": "True",
            "GS_BUCKET_NAME": f"{buckets}-media",
            "BACKUP_BUCKET": f"{buckets}-backups",
        }
    return {
        "AZURE_ACCOUNT_NAME": "devstoreaccount1",
        "AZURE_CONNECTION_STRING": (
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
            f"AccountKey={AZURITE_KEY};BlobEndpoint={endpoint}/devstoreaccount1;"
        ),
        "AZURE_CONTAINER": f"{buckets}-media",
        "BACKUP_BUCKET": f"{buckets}-backups",
    }


EMULATOR_COMMANDS = {
    # moto serves S3 and Secrets Manager on one port.
    "aws": ["{tools}/moto_server", "-H", "127.0.0.1", "-p", "{port}"],
    "gcp": ["{tools}/gcp-storage-emulator", "start", "-H", "127.0.0.1", "--port", "{port}", "-M"],
    "azure": [
        "azurite-blob",
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        "{port}",
        "--inMemoryPersistence",
        "--skipApiVersionCheck",
        "--disableTelemetry",
    ],
}


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
    from .images import engine_setup  # here, not at the top: images.py imports this module

    directory = tmp_path_factory.mktemp("engine")
    env, build_flags = engine_setup(directory)
    if shutil.which("podman"):
        # The tests' own store keeps the stand-ins between runs; earlier runs' layers go.
        run(["podman", "image", "prune", "--force"], directory, os.environ | env, check=False)
    return {"env": env, "build_flags": build_flags, "workdir": directory}


def broker_url(answers, broker, port=None):
    """The loopback broker for a project: its own Redis database, so projects never share a
    queue."""
    if broker == "rabbitmq":
        return f"amqp://guest:guest@127.0.0.1:{port or 5672}//"
    index = 1 + int(database_name(answers)[-4:], 16) % 15
    return f"redis://127.0.0.1:{port or 6379}/{index}"


CREATE_DATABASE = {
    "postgresql": """
import psycopg
with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as db:
    db.execute("DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    db.execute("CREATE DATABASE {name}")
""",
    "mysql": """
import MySQLdb
db = MySQLdb.connect(host="127.0.0.1", port=3306, user="root")
db.cursor().execute("DROP DATABASE IF EXISTS {name}")
db.cursor().execute("CREATE DATABASE {name} CHARACTER SET utf8mb4")
""",
}


def git(*args, cwd):
    author = ["-c", "user.name=django-foundry tests", "-c", "user.email=tests@example.com"]
    return subprocess.run(
        ["git", *author, *args], cwd=cwd, check=True, capture_output=True, text=True
    )


def copy_working_tree(destination):
    """Copy the template's files as they stand (committed or not, minus what git ignores)."""
    listing = git("ls-files", "--cached", "--others", "--exclude-standard", cwd=TEMPLATE_DIR)
    for name in listing.stdout.splitlines():
        if (TEMPLATE_DIR / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(TEMPLATE_DIR / name, destination / name)


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


def render(template_renderer, answers):
    """Render only: the project's service_env stays empty until installed_projects sets it."""
    result = template_renderer.copy(extra_answers=answers)
    if result.exception is not None:
        raise result.exception
    return Project(result.project_dir, result.answers)


PGBOUNCER_INI = """[databases]
* = host=127.0.0.1 port=5432

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {directory}/userlist.txt
pool_mode = transaction
ignore_startup_parameters = extra_float_digits
"""


@pytest.fixture(scope="session")
def pgbouncer(tmp_path_factory):
    """A real PgBouncer in transaction mode in front of the loopback PostgreSQL, started on
    first use: projects rendered with pgbouncer=true run their tests through it."""
    processes = []

    def port():
        if processes:
            return processes[0][1]
        require_program("pgbouncer")
        directory = tmp_path_factory.mktemp("pgbouncer")
        directory.chmod(0o755)  # it drops root for the postgres user, who must read these
        listen_port = free_port()
        (directory / "pgbouncer.ini").write_text(
            PGBOUNCER_INI.format(port=listen_port, directory=directory)
        )
        (directory / "userlist.txt").write_text('"postgres" ""\n')
        for name in ("pgbouncer.ini", "userlist.txt"):
            (directory / name).chmod(0o644)
        command = ["pgbouncer", str(directory / "pgbouncer.ini")]
        if os.geteuid() == 0:
            command[1:1] = ["-u", "postgres"]  # it refuses to run as root
        process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        processes.append((process, listen_port))
        wait_until_listening(listen_port, process, "pgbouncer")
        return listen_port

    yield port
    for process, _ in processes:
        process.terminate()
        process.wait(timeout=30)


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
            if project.answers.get("cloud", "none") != "none":
                project.uv("python", "scripts/create_buckets.py")
            cache[key] = project
        return cache[key]

    return get
