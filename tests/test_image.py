"""The runtime image, built and run as production runs it: buildah builds it (through the project's
own `make image-smoke`, with podman), podman serves it on the host network against the loopback
services, read-only, as a non-root user; its worker completes a task.

The base images are local stand-ins (tests/images.py): no registry can be reached here.
"""

import http.client
import json
import time
import uuid

import pytest
import yaml

from .conftest import PROJECT_VARIABLES, every_check_passes, free_port, log_records, run
from .images import base_images, ensure_base_images, podman
from .smtp_sink import SMTPSink
from .test_projects import DEFAULTS, PROJECTS, SMOKE_ANSWERS, projects_where

# The default answers; ASGI with Celery and DRF on MySQL (its builder compiles mysqlclient); and
# Python 3.12 beside the default 3.13 (ASGI, Celery, Ninja, Azure storage against Azurite).
IMAGE_PROJECTS = [
    next(param for param in PROJECTS if param.values[0] is SMOKE_ANSWERS),
    projects_where(asgi=True, background_tasks="celery", api="drf", database="mysql")[0],
    projects_where(python_version="3.12")[0],
]


def images_where(condition):
    """Only the image projects whose answers (with Copier's defaults) meet the condition."""
    chosen = [param for param in IMAGE_PROJECTS if condition(DEFAULTS | param.values[0])]
    return pytest.mark.parametrize("image", chosen, indirect=True)


POD_IP_HOST = "10.1.2.3:8000"
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


@pytest.fixture(scope="module", params=IMAGE_PROJECTS)
def image(request, installed_projects, engine):
    project = installed_projects(request.param)
    ensure_base_images(base_images(project.path / "Dockerfile"), engine["workdir"], engine["env"])
    image = Image(project, engine)
    build_flags = " ".join(engine["build_flags"])
    command = ["make", "image-smoke", "CONTAINER=podman", f"IMAGE={image.name}"]
    try:
        image.smoke = run([*command, f"BUILD_FLAGS={build_flags}"], project.path, image.make_env())
        yield image
    finally:
        image.remove()


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
            status, body = get(port, "/health/ready/", POD_IP_HOST)
            if every_check_passes(status, body):
                break
        except OSError:
            pass
        time.sleep(0.5)
    else:
        pytest.fail(f"the image did not get ready:\n{image.logs(container)}")
    return {"container": container, "port": port, "metrics_port": metrics_port}


def get(port, path, host, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host} | (headers or {}))
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def test_make_image_smoke_passes_against_real_services(image):
    """The target a team runs: build, migrate, ready, a page, HEALTHCHECK, uid, clean log."""
    assert "HEALTHCHECK passed, uid 10001" in image.smoke.stdout


def test_the_served_image_answers_probes_of_the_pod_ip(image, served):
    live, _ = get(served["port"], "/health/live/", POD_IP_HOST)
    ready, body = get(served["port"], "/health/ready/", POD_IP_HOST)

    assert (live, ready) == (200, 200), body
    assert all(check["status"] == "ok" for check in json.loads(body)["checks"].values())


def test_the_served_image_renders_pages_behind_a_tls_proxy(image, served):
    domain = image.project.answers["domain_name"]

    status, body = get(served["port"], "/", domain, {"X-Forwarded-Proto": "https"})

    assert status == 200
    assert "/static/core/site." in body


@images_where(lambda answers: "prometheus" in answers["observability"])
def test_the_served_image_serves_metrics_on_its_own_port(image, served):
    status, body = get(served["metrics_port"], "/metrics", "127.0.0.1")

    assert status == 200
    assert 'django_health_check_up{check="database"}' in body


def test_the_served_image_passes_its_own_healthcheck(image, served):
    result = image.podman("healthcheck", "run", served["container"], check=False)

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_served_image_runs_as_non_root_on_a_read_only_root(image, served):
    code = "import os, pathlib\nprint(os.getuid())\npathlib.Path('/app/written').touch()"

    result = image.podman("exec", served["container"], "python", "-c", code, check=False)

    assert result.stdout.strip() == "10001"
    assert "Read-only file system" in result.stderr


def test_the_served_image_logs_no_error_at_start(image, served):
    lines = [line for line in image.logs(served["container"]).splitlines() if line]
    records = [json.loads(line) for line in lines if line.startswith("{")]

    assert records, lines
    assert [r for r in records if r["level"] in {"ERROR", "CRITICAL"}] == []
    assert all(line.startswith("{") for line in lines), lines  # nothing but JSON lines


def test_the_runtime_image_holds_no_compiler_headers_uv_or_dotenv(image):
    """What the builder stage needed stays there (pip comes with the python base image)."""
    code = (
        "import pathlib, shutil\n"
        "tools = [t for t in ('gcc', 'cc', 'c++', 'make', 'uv', 'uvx') if shutil.which(t)]\n"
        "headers = [str(p) for p in pathlib.Path('/usr/include').rglob('*.h')]\n"
        "dotenv = [str(p) for p in pathlib.Path('/app').rglob('.env')]\n"
        "print(tools, headers[:5], dotenv)"
    )

    result = image.podman("run", "--rm", "--network", "none", image.name, "python", "-c", code)

    assert result.stdout.strip() == "[] [] []"


@images_where(lambda answers: answers["background_tasks"] != "none")
def test_the_images_worker_completes_a_task(image, served):
    compose = yaml.safe_load((image.project.path / "compose.prod.yaml").read_text())
    with SMTPSink() as smtp:
        mail = {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(smtp.port), "EMAIL_USE_TLS": "false"}
        worker = image.start(*compose["services"]["worker"]["command"], **mail)
        key = uuid.uuid4().hex
        command = ["python", "manage.py", "send_notification", "ada@example.com"]
        image.podman("exec", served["container"], *command, "--idempotency-key", key)

        smtp.wait_for(lambda sink: len(sink.messages) == 1, "the worker to send the mail")

    sent = image.wait_for_log(worker, "Notification sent", idempotency_key=key)
    assert sent["level"] == "INFO"


@images_where(lambda answers: answers["background_tasks"] == "celery")
def test_the_images_celery_beat_starts_and_beats(image):
    compose = yaml.safe_load((image.project.path / "compose.prod.yaml").read_text())
    beat = compose["services"]["beat"]
    # compose.prod.yaml keeps the schedule on a volume: an anonymous one here.
    options = ["--volume", beat["volumes"][0].split(":", 1)[1]]
    container = image.start(*beat["command"], options=options)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        heartbeat = ["exec", container, *beat["healthcheck"]["test"][1:]]
        if image.podman(*heartbeat, check=False).returncode == 0:
            break
        time.sleep(1)
    else:
        pytest.fail(f"beat's heartbeat never turned fresh:\n{image.logs(container)}")
    assert "beat: Starting" in image.logs(container)
