"""The tests' plain helpers: the machine and its services, rendered projects, and the servers,
drills, images, workers and stacks the tests drive. conftest.py hands them out as fixtures;
matrix.py holds the answer sets."""

import contextlib
import gzip
import hashlib
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.client import HTTPSConnection
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import yaml
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from packaging.version import InvalidVersion, Version

from .fault_proxy import FaultProxy

# --- The machine: the template, its services and programs -----------------------------------------


TEMPLATE_DIR = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# The programs installed with the tests' dependencies (hadolint, check-jsonschema, ...).
TOOLS = Path(sys.executable).parent

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


def tool(name, *args, cwd, check=True):
    """A program installed with the tests' dependencies, run in cwd."""
    return run([str(TOOLS / name), *map(str, args)], cwd, check=check)


def podman(*args, env, check=True, timeout=600):
    """podman, with the environment tests/images.py sets up for this machine."""
    return run(["podman", *args], Path.cwd(), env, timeout, check)


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


# --- Rendered projects ----------------------------------------------------------------------------


@dataclass
class Project:
    """A rendered project and the services it was rendered for."""

    path: Path
    answers: dict
    service_env: dict = field(default_factory=dict)

    @property
    def slug(self):
        return self.answers["project_slug"]

    @property
    def image_name(self):
        """The image's name in the deploy files (the slug with hyphens)."""
        return self.slug.replace("_", "-")

    @property
    def heartbeat_script(self):
        """What a worker's liveness probe runs."""
        return f"{self.slug}/worker/heartbeat.py"

    def env(self, **extra):
        return clean_environment(**(self.service_env | extra))

    def uv(self, *args, env=None, check=True, timeout=600):
        return run(["uv", "run", "--frozen", *args], self.path, env or self.env(), timeout, check)

    def make(self, target, env=None, check=True):
        return run(["make", target], self.path, env or self.env(), check=check)

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


def render(template_renderer, answers):
    """Render only: the project's service_env stays empty until installed_projects sets it."""
    result = template_renderer.copy(extra_answers=answers)
    if result.exception is not None:
        raise result.exception
    return Project(result.project_dir, result.answers)


def production_env(project, **extra):
    """Production settings against the loopback services, which speak no TLS."""
    return project.production_env(DATABASE_SSLMODE="disable", **extra)


# --- The services a project is rendered for -------------------------------------------------------


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


def start_pgbouncer(directory):
    """A real PgBouncer in transaction mode in front of the loopback PostgreSQL; returns the
    process and its port."""
    require_program("pgbouncer")
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
    wait_until_listening(listen_port, process, "pgbouncer")
    return process, listen_port


# --- Serving a project ----------------------------------------------------------------------------


# What a kubelet sends its probes to: the pod's IP, not the domain.
POD_IP_HOST = "10.1.2.3:8000"


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


def serve_in_production(project, directory, **env):
    """The project migrated, its static files collected, and served by gunicorn."""
    env = project.production_env(DATABASE_SSLMODE="disable", **env)
    project.manage("migrate", "--noinput", env=env)
    project.manage("collectstatic", "--noinput", env=env)
    return Server(project, env, directory / "gunicorn.log")


# Rate limits far above what a test sends, so every response it sees is the service's own.
UNTHROTTLED = {
    "API_THROTTLE_ANON": "100000/min",
    "API_THROTTLE_USER": "100000/min",
    "LOGIN_RATE_LIMIT": "100000/min",
}


def create_superuser(project, username, password):
    """An account on the project's production database (kept if it exists already)."""
    env = project.production_env(DATABASE_SSLMODE="disable", DJANGO_SUPERUSER_PASSWORD=password)
    email = f"{username}@example.com"
    project.manage(
        "createsuperuser",
        "--noinput",
        "--username",
        username,
        "--email",
        email,
        env=env,
        check=False,
    )


@contextlib.contextmanager
def serve_behind_nginx(project, directory, nginx, **env):
    """The project under gunicorn (serve_in_production) behind the rendered nginx, on loopback
    ports (the HTTPS one is not 443, as on a laptop or behind a port mapping); its self-signed
    certificate is for localhost, in directory/certs/fullchain.pem."""
    app = serve_in_production(project, directory, **env)
    try:
        http_port, https_port = free_port(), free_port()
        upstream = f"127.0.0.1:{app.port}"
        config = nginx_config(project, directory, upstream, http_port, https_port)
        proxy = subprocess.Popen([nginx, "-p", directory, "-c", config, "-g", "daemon off;"])
        try:
            wait_until_listening(https_port, proxy, "nginx")
            yield {"http": http_port, "https": https_port, "app": app}
        finally:
            proxy.terminate()
            proxy.wait(timeout=30)
    finally:
        app.stop()


def http_get(port, path, host, headers=None):
    """(status, body) of a GET to a server on a loopback port."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host} | (headers or {}))
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def nginx_config(project, directory, upstream, http_port, https_port):
    """The rendered nginx template as the nginx image would fill it in, on loopback ports."""
    certificates = directory / "certs"
    run(["sh", "scripts/self_signed_certificate.sh", certificates, "localhost"], project.path)
    template = (project.path / "deploy/nginx/templates/default.conf.template").read_text()
    server = template.replace("${APP_UPSTREAM}", upstream)
    server = server.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    server = server.replace("listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl")
    server = server.replace("/etc/nginx/certs", str(certificates))
    (directory / "default.conf").write_text(server)
    (directory / "logs").mkdir(exist_ok=True)
    main = directory / "nginx.conf"
    main.write_text(
        f"pid {directory}/nginx.pid;\nerror_log {directory}/logs/error.log;\n"
        "events {}\n"
        f"http {{\n  access_log {directory}/logs/access.log;\n"
        f"  client_body_temp_path {directory}/client; proxy_temp_path {directory}/proxy;\n"
        f"  include {directory}/default.conf;\n}}\n"
    )
    return main


# --- Deploy files ---------------------------------------------------------------------------------


PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def load_manifest(path):
    """A cloud manifest with its ${...} filled in, as scripts/deploy.sh's envsubst does."""
    text = PLACEHOLDER.sub(lambda match: f"example-{match.group(1).lower()}", path.read_text())
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def backs_up_then_migrates(command):
    """Whether a migrate step's command takes a backup (scripts/backup.py) before it migrates."""
    script = " ".join(command)
    return script.startswith("sh -c python scripts/backup.py backup ") and script.endswith(
        "&& exec python manage.py migrate --noinput"
    )


def cloud_containers(project):
    """Each container of the cloud manifests, by target (manifest:role)."""
    deploy = project.path / "deploy"
    containers = {}
    if (deploy / "aws").is_dir():
        for role, task in load_manifest(deploy / "aws/task-definitions.json").items():
            containers[f"aws/task-definitions.json:{role}"] = task["containerDefinitions"][0]
    if (deploy / "gcp").is_dir():
        service = load_manifest(deploy / "gcp/service.yaml")["spec"]["template"]["spec"]
        containers["gcp/service.yaml:web"] = service["containers"][0]
        for role in ("migrate", "backup"):
            job = load_manifest(deploy / f"gcp/{role}-job.yaml")["spec"]["template"]["spec"]
            containers[f"gcp/{role}-job.yaml:{role}"] = job["template"]["spec"]["containers"][0]
        pools = deploy / "gcp/worker-pools.yaml"
        for role, pool in (load_manifest(pools) if pools.is_file() else {}).items():
            pod = pool["spec"]["template"]["spec"]
            containers[f"gcp/worker-pools.yaml:{role}"] = pod["containers"][0]
    if (deploy / "azure").is_dir():
        for role, app in load_manifest(deploy / "azure/container-apps.yaml").items():
            app_containers = app["properties"]["template"]["containers"]
            containers[f"azure/container-apps.yaml:{role}"] = app_containers[0]
    return containers


# A line of config/ that names an example app: `"<package>.orders",` in INSTALLED_APPS, the
# notifications task's route, the orders router and its import in config/api.py.
EXAMPLE_APP = re.compile(r"\.(orders|api_keys|notifications)\b|\borders_router\b|\bOrderViewSet\b")


def resolved_views(project, paths):
    """The views the project's health middleware answers the paths with, as app:view names."""
    code = "import django; django.setup()\n"
    code += f"from {project.slug}.health.middleware import PROBES\n"
    code += "".join(f"print('health:' + PROBES[{path!r}].__name__)\n" for path in paths)
    result = project.uv(
        "python", "-c", code, env=project.env(DJANGO_SETTINGS_MODULE="config.settings.test")
    )
    return result.stdout.split()


def monitoring(project):
    """The monitoring stack's files: Prometheus, alert rules, Grafana, the collector."""
    return project.path / "deploy" / "monitoring"


# --- Promotion (smoke tests and rollbacks) --------------------------------------------------------


class PublicSite(http.server.ThreadingHTTPServer):
    """A stand-in for a deployed environment's public URL: each path answers the status in
    `statuses` (200 by default)."""

    daemon_threads = True

    def __init__(self, statuses=None):
        self.statuses = statuses or {}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(handler):  # `self` is the server here
                status = self.statuses.get(handler.path, 200)
                handler.send_response(status)
                handler.send_header("Content-Length", "0")
                handler.end_headers()

            def log_message(handler, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info):
        self.shutdown()
        self.server_close()


def fake_commands(directory, *names):
    """Programs that log each call (a JSON list: the program, then its arguments) to
    <directory>/calls and succeed,
    first on PATH: kubectl, aws and docker where no cluster or cloud can be reached. A program's
    answers to particular calls come from <directory>/<name>.answers, lines of
    `<part of the arguments>\t<output>`; the longest part found in the call wins. An output of
    several answers separated by " || " gives them in turn, the last one from then on."""
    directory.mkdir(exist_ok=True)
    for name in names:
        program = directory / name
        program.write_text(FAKE_COMMAND.format(name=name, directory=directory))
        program.chmod(0o755)
    return {"PATH": f"{directory}:{os.environ['PATH']}"}


FAKE_COMMAND = """#!/usr/bin/env python3
import json
import sys
from pathlib import Path

arguments = " ".join(sys.argv[1:])
with open("{directory}/calls", "a") as calls:
    calls.write(json.dumps(["{name}", *sys.argv[1:]]) + "\\n")
answers = Path("{directory}/{name}.answers")
lines = answers.read_text().splitlines() if answers.exists() else []
matches = [line.split("\\t", 1) for line in lines if line.split("\\t", 1)[0] in arguments]
if matches:
    key, output = max(matches, key=lambda match: len(match[0]))
    turns = Path("{directory}/{name}.turns")
    taken = json.loads(turns.read_text()) if turns.exists() else {{}}
    answers_in_turn = output.split(" || ")
    output = answers_in_turn[min(taken.get(key, 0), len(answers_in_turn) - 1)]
    taken[key] = taken.get(key, 0) + 1
    turns.write_text(json.dumps(taken))
    if output.startswith("exit "):
        sys.exit(int(output.split()[1]))
    print(output)
"""


def recorded_calls(directory):
    """The calls fake_commands recorded, each a list: the program, then its arguments."""
    path = directory / "calls"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# --- Fault drills (test_faults.py) ----------------------------------------------------------------


WORKERS = 3
# More clients needing the database than workers: as in production, where the load balancer
# keeps sending requests during an outage. Without a bound every worker would end up waiting.
DATABASE_CLIENTS = 2 * WORKERS
FAULT_SECONDS = 10


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


@contextlib.contextmanager
def ahead_of_the_machines_other_work(niceness=-10):
    """This thread, and the threads and processes it starts meanwhile, run before the machine's
    other work: a drill measures how the service answers during a fault, not how busy the other
    tests keep the CPU. Raising a priority takes root (CI's); without it they run as they are.
    With the kernel's autogroups a niceness ranks tasks of one session only: the other xdist
    workers and what they start, not processes in sessions of their own (containers)."""
    thread = threading.get_native_id()  # Linux's priority is per thread, inherited on start
    before = os.getpriority(os.PRIO_PROCESS, thread)
    try:
        os.setpriority(os.PRIO_PROCESS, thread, niceness)
    except PermissionError:
        yield
        return
    try:
        yield
    finally:
        os.setpriority(os.PRIO_PROCESS, thread, before)


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

    def before(self, answers):
        """Asked and answered before the fault began."""
        return [a for a in answers if a.started + a.elapsed < self.started]

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
    before = outage.before(outage.database_pages)
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
        f"5xx after: {sum((a.status or 500) >= 500 for a in outage.after)}/20; "
        f"database pages before: max {max((a.elapsed for a in before), default=0):.2f}s"
    )
    for answer in outage.live + outage.ready:
        if answer.elapsed >= 1 or answer.status not in {200, 503}:
            print(
                f"  {answer.started - outage.started:+.2f}s {answer.elapsed:.2f}s {answer.status}"
            )


# The readiness check that reports each dependency a drill cuts.
DEGRADING = {"CACHE_URL": "cache", "CELERY_BROKER_URL": "broker"}


# --- Runtime images (test_image.py) ---------------------------------------------------------------


# Set by the tests for processes on this machine, meaningless inside a container.
HOST_ONLY = {"WORKER_HEARTBEAT_FILE", "PROMETHEUS_MULTIPROC_DIR", "VIRTUAL_ENV", "PYTEST_ADDOPTS"}


class Image:
    """A project's runtime image, built by its own `make image-smoke`."""

    def __init__(self, project, engine):
        self.project = project
        self.engine = engine
        self.name = f"localhost/foundry-test/{project.answers['project_slug']}:latest"
        self.containers = []

    def make_env(self, **extra):
        return self.project.production_env(DATABASE_SSLMODE="disable", **extra) | self.engine["env"]

    def podman(self, *args, check=True):
        return podman(*args, env=self.make_env(), check=check)

    def container_env(self, **extra):
        """The production environment the tests give the project, as container options."""
        env = self.project.production_env(DATABASE_SSLMODE="disable", **extra)
        broker = env.get("CELERY_BROKER_URL", "")
        if broker.startswith("redis://"):
            # Not the queue the project's own worker tests use (they run at the same time): the
            # image's worker would take their tasks.
            base, index = broker.rsplit("/", 1)
            env["CELERY_BROKER_URL"] = f"{base}/{int(index) % 15 + 1}"
        options = []
        for name, value in env.items():
            if (name.startswith(PROJECT_VARIABLES) or name in extra) and name not in HOST_ONLY:
                options += ["--env", f"{name}={value}"]
        return options

    def start(self, *command, options=(), **env):
        """A container of the image as compose.prod.yaml runs it: read-only root, tmpfs /tmp."""
        name = f"foundry-test-{uuid.uuid4().hex[:12]}"
        arguments = ["run", "--detach", "--name", name, "--network", "host", "--read-only"]
        arguments += ["--tmpfs", "/tmp", *options, *self.container_env(**env), self.name]
        self.podman(*arguments, *command)
        self.containers.append(name)
        return name

    def logs(self, container):
        result = self.podman("logs", container, check=False)
        return result.stdout + result.stderr

    def wait_for_log(self, container, message, timeout=30, **fields):
        """The first JSON log line of the container that starts with message and has fields."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if records := log_records(self.logs(container), message, **fields):
                return records[0]
            time.sleep(0.5)
        pytest.fail(f"no log line {message!r} {fields} from {container}:\n{self.logs(container)}")

    def remove(self):
        for container in self.containers:
            self.podman("rm", "--force", "--time", "10", container, check=False)
        self.podman("rmi", "--force", self.name, check=False)


# --- Workers (test_workers.py) --------------------------------------------------------------------


class Worker:
    """The project's worker process, started with the command compose.prod.yaml runs for the
    role: by default the critical queue's worker, which sends the example notifications."""

    def __init__(self, project, env, log_path, role="critical-worker", extra_args=()):
        command = yaml.safe_load((project.path / "compose.prod.yaml").read_text())["services"][
            role
        ]["command"]
        # The virtualenv's own executable, so signals reach the worker, not a `uv run` wrapper.
        command = [str(project.path / ".venv" / "bin" / command[0]), *command[1:], *extra_args]
        if command[0].endswith("celery") and "worker" in command:
            # Each deployed worker has a host of its own; here every test's share this one.
            command.append(f"--hostname={role}-{uuid.uuid4().hex[:8]}@%h")
        self.log_path = log_path
        self.metrics_port = env["METRICS_PORT"]
        self.log = log_path.open("w")
        self.process = subprocess.Popen(
            command, cwd=project.path, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )

    def records(self):
        records = []
        for line in self.log_path.read_text().splitlines():
            if line.startswith("{"):
                records.append(json.loads(line))
        return records

    def wait_for_log(self, message, timeout=60, **fields):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for record in self.records():
                if record["message"].startswith(message) and all(
                    record.get(name) == value for name, value in fields.items()
                ):
                    return record
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        pytest.fail(f"no log line {message!r} {fields}:\n{self.log_path.read_text()[-5000:]}")

    def stop(self, timeout=60):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        returncode = self.process.wait(timeout=timeout)
        self.log.close()
        return returncode


def worker_env(project, smtp, tmp_path, **extra):
    return production_env(
        project,
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp.port),
        EMAIL_USE_TLS="false",
        WORKER_HEARTBEAT_FILE=str(tmp_path / "heartbeat"),
        **extra,
    )


# --- Observability (test_observability.py) --------------------------------------------------------


class Prometheus:
    """A real Prometheus scraping a served project's metrics port, with its alert rules."""

    def __init__(self, directory, rendered, metrics_port):
        self.port = free_port()
        config = yaml.safe_load((rendered / "prometheus.yml").read_text())
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        # The rendered app job, pointed at the test's gunicorn; the others need containers.
        [app] = [job for job in config["scrape_configs"] if job["job_name"] == "app"]
        app["static_configs"] = [{"targets": [f"127.0.0.1:{metrics_port}"]}]
        config["scrape_configs"] = [app]
        del config["alerting"]
        (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
        shutil.copy(rendered / "alerts.yml", directory / "alerts.yml")
        command = [
            require_program("prometheus"),
            f"--config.file={directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]
        self.log = (directory / "prometheus.log").open("w")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        wait_until_listening(self.port, self.process, "prometheus")
        # It listens before its storage is open, and answers 503 until then.
        deadline = time.monotonic() + 60
        while http_get(self.port, "/-/ready", "127.0.0.1")[0] != 200:
            assert time.monotonic() < deadline, "prometheus never became ready"
            time.sleep(0.2)

    def api(self, path, **params):
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return body["data"]

    def value(self, query):
        result = self.api("query", query=query)["result"]
        return float(result[0]["value"][1]) if result else None

    def wait_for(self, query, expected, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (value := self.value(query)) == expected:
                return
            time.sleep(0.5)
        pytest.fail(f"{query} = {value}, expected {expected}")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


class OTLPReceiver(http.server.ThreadingHTTPServer):
    """Keeps every OTLP/HTTP export it receives, by path (/v1/traces, /v1/metrics)."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), OTLPHandler)
        self.port = self.server_address[1]
        self.exports = {}

    def spans(self):
        spans = []
        for body in self.exports.get("/v1/traces", []):
            request = ExportTraceServiceRequest.FromString(body)
            for resource_spans in request.resource_spans:
                resource = {
                    a.key: a.value.string_value or a.value.int_value
                    for a in resource_spans.resource.attributes
                }
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        spans.append((resource, span))
        return spans


class OTLPHandler(http.server.BaseHTTPRequestHandler):
    server: OTLPReceiver

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.exports.setdefault(self.path, []).append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


# --- The production stack (test_production_stack.py) ----------------------------------------------


SMTP_SINK = Path(__file__).with_name("smtp_sink.py")
# A mail server for the worker, on the stack's internal network (the test's own override file).
MAIL_OVERRIDE = {
    "services": {
        "mail": {
            "image": "{image}",
            "command": ["python", "/sink/smtp_sink.py", "1025"],
            "volumes": ["./smtp-sink:/sink:ro"],
            "read_only": True,
            "networks": ["backend"],
        }
    }
}


class Stack:
    """compose.prod.yaml (and the mail override) of a project's copy, run by podman-compose."""

    def __init__(self, directory, env):
        self.directory = directory
        self.env = env
        files = ["compose.prod.yaml", "compose.mail.yaml"]
        compose = [yaml.safe_load((directory / name).read_text()) for name in files]
        self.services = compose[0]["services"] | compose[1]["services"]
        # A project name of its own: tearing down never touches the volumes of a real
        # `make prod-up` of this project on the same machine.
        self.name = f"foundry-test-{uuid.uuid4().hex[:8]}"
        self.compose = [str(Path(sys.executable).with_name("podman-compose")), "-p", self.name]
        for name in files:
            self.compose += ["-f", name]

    def podman_compose(self, *args, check=True):
        return run([*self.compose, *args], self.directory, self.env, timeout=600, check=check)

    def podman(self, *args, check=True):
        return podman(*args, env=self.env, check=check)

    def container(self, service):
        listing = self.podman(
            "ps",
            "--all",
            "--format",
            "{{.Names}}",
            "--filter",
            f"label=io.podman.compose.project={self.name}",
            "--filter",
            f"label=com.docker.compose.service={service}",
        )
        names = listing.stdout.split()
        assert len(names) == 1, (service, names)
        return names[0]

    def up(self):
        """Every service, each after the conditions its depends_on sets are met."""
        started = set()

        def start(name):
            if name in started:
                return
            for dependency, spec in self.services[name].get("depends_on", {}).items():
                start(dependency)
                if spec["condition"] == "service_healthy":
                    self.wait_healthy(dependency)
                elif spec["condition"] == "service_completed_successfully":
                    self.wait_completed(dependency)
            self.podman_compose("up", "--detach", "--no-deps", name)
            started.add(name)

        # Services that depend on nothing first (the mail server too, which the worker needs).
        for name in sorted(self.services, key=lambda name: "depends_on" in self.services[name]):
            start(name)

    def wait_ready(self, timeout=120):
        """Until every readiness check passes through nginx: the containers' first connections
        (names, pools) can take a while on a loaded machine (ready, but degraded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                response, body = https_get(self, "/health/ready/")
                if every_check_passes(response.status, body):
                    return
            except OSError as error:
                body = str(error)
            time.sleep(1)
        pytest.fail(f"readiness through nginx never reported every check ok: {body}")

    def wait_completed(self, service):
        exit_code = self.podman("wait", self.container(service), check=False).stdout.strip()
        assert exit_code == "0", self.logs(service)

    def wait_healthy(self, service, timeout=120):
        """Run the service's healthcheck until it passes, as podman's timer would."""
        container = self.container(service)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.podman("healthcheck", "run", container, check=False).returncode == 0:
                return
            time.sleep(1)
        pytest.fail(f"{service} never turned healthy:\n{self.logs(service)}")

    def logs(self, service):
        result = self.podman("logs", self.container(service), check=False)
        return result.stdout + result.stderr

    def running(self):
        project = f"label=io.podman.compose.project={self.name}"
        listing = self.podman("ps", "--format", "{{.Names}}", "--filter", project)
        return listing.stdout.split()


def ports_are_free(*ports):
    for port in ports:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                missing(f"port {port} is taken: compose.prod.yaml publishes nginx on 80 and 443")


def https_get(stack, path, headers=None):
    certificate = stack.directory / "deploy/nginx/certs/fullchain.pem"
    context = ssl.create_default_context(cafile=certificate)
    context.check_hostname = False  # the certificate is for localhost; the Host is the domain
    connection = HTTPSConnection("127.0.0.1", 443, context=context, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": stack.domain} | (headers or {}))
        response = connection.getresponse()
        return response, response.read().decode()
    finally:
        connection.close()


# --- Template releases (test_updates.py) ----------------------------------------------------------


# Until a release is tagged, the last commit of 0.1.0 stands in for it.
SYNTHETIC_RELEASES = {"0.1.0": "9125d64"}


def releases():
    """PEP 440 tags of the template repository, oldest first (or the synthetic one)."""
    tags = {}
    for tag in git("tag", "--list", cwd=TEMPLATE_DIR).stdout.split():
        try:
            tags[tag] = Version(tag)
        except InvalidVersion:
            continue
    if not tags:
        return SYNTHETIC_RELEASES
    return {tag: tag for tag in sorted(tags, key=tags.get)}


def clear_tree(repository):
    for path in repository.iterdir():
        if path.name != ".git":
            shutil.rmtree(path) if path.is_dir() else path.unlink()


# The runtime command of the release next_release publishes.
NEXT_RELEASE_CMD = 'CMD ["gunicorn", "--preload"]'


# --- Bad production settings (test_answers.py) ----------------------------------------------------


# Imports the default project's production settings afresh with each bad value, in one
# interpreter (what `django.setup()` does first), and prints the error each one gives.
IMPORT_WITH_EACH_VALUE = """
import importlib, json, os, sys
from django.core.exceptions import ImproperlyConfigured
complete = dict(os.environ)
errors = {}
for name, value in json.loads(os.environ["BAD_VALUES"]):
    os.environ.clear()
    os.environ.update(complete | {name: value})
    for module in [module for module in sys.modules if module.startswith("config.settings")]:
        del sys.modules[module]
    try:
        importlib.import_module("config.settings.production")
        errors[f"{name}={value}"] = "started"
    except Exception as error:
        errors[f"{name}={value}"] = f"{type(error).__name__}: {error}"
print(json.dumps(errors))
"""
