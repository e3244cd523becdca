"""compose.prod.yaml brought up on one host with podman-compose, from the project's files: nginx
terminating TLS in front of web, the worker and the prune job, PostgreSQL and Redis, every value
from the project's .env. The service images are local stand-ins built from Debian's packages
(tests/stand_ins/): no registry can be reached here.

podman 4.3 (Debian 12) runs no healthcheck timers without systemd, and podman-compose ignores
`service_healthy` before podman 4.6: the test starts the services one by one in the order their
`depends_on` gives, and meets each condition itself (running the healthcheck until it passes, as
the timer would; waiting for a one-shot service to exit 0) before it starts the dependents.
"""

import shutil
import socket
import ssl
import sys
import time
import uuid
from http.client import HTTPSConnection
from pathlib import Path

import pytest
import yaml

from .conftest import every_check_passes, log_records, missing, run
from .images import base_images, ensure_base_images, podman
from .test_projects import SMOKE_ANSWERS, combination_id

# The default project's tests share one xdist worker: it alone creates the project's database.
pytestmark = pytest.mark.xdist_group(combination_id(SMOKE_ANSWERS))
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

    try:
        stack.up()
        for service in ("nginx", "worker", "prune"):
            stack.wait_healthy(service)
        stack.domain = domain
        stack.wait_ready()
        yield stack
        # Checked on the way out, after every test used the stack: down leaves nothing running.
        stack.podman_compose("down", "--timeout", "10")
        assert stack.running() == [], "compose down left containers running"
    finally:
        stack.podman_compose("down", "--volumes", "--timeout", "10", check=False)
        stack.podman("rmi", "--force", app_image, check=False)


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


def test_migrate_ran_once_and_succeeded(stack):
    migrate = stack.container("migrate")
    state = stack.podman("inspect", "--format", "{{.State.ExitCode}}", migrate).stdout.strip()

    assert state == "0", stack.logs("migrate")
    assert "Applying" in stack.logs("migrate")


def test_the_page_through_nginx_over_https_carries_the_security_headers(stack):
    response, body = https_get(stack, "/")

    assert response.status == 200, body
    assert response.getheader("Strict-Transport-Security").startswith("max-age=31536000")
    assert "default-src 'none'" in response.getheader("Content-Security-Policy")
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert "/static/core/site." in body


def test_readiness_through_nginx_reports_every_dependency(stack):
    response, body = https_get(stack, "/health/ready/")

    assert response.status == 200, body
    assert '"database": {"status": "ok"' in body and '"cache": {"status": "ok"' in body


def test_the_worker_sends_a_queued_notification(stack):
    key = uuid.uuid4().hex
    command = ["python", "manage.py", "send_notification", "ada@example.com"]
    stack.podman("exec", stack.container("web"), *command, "--idempotency-key", key)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if "Subject: Test notification" in stack.logs("mail") and key in stack.logs("worker"):
            break
        time.sleep(1)

    sent = log_records(stack.logs("worker"), "Notification sent")
    assert [record["idempotency_key"] for record in sent] == [key], stack.logs("worker")
    assert "Subject: Test notification" in stack.logs("mail"), stack.logs("mail")


def test_every_long_running_service_is_up(stack):
    long_running = [name for name, service in stack.services.items() if name != "migrate"]

    running = stack.running()

    assert sorted(name for name in long_running if stack.container(name) in running) == sorted(
        long_running
    )
