"""The runtime image, built and run as production runs it: buildah builds it (through the project's
own `make image-smoke`, with podman), podman serves it on the host network against the loopback
services, read-only, as a non-root user; its worker completes a task.

The base images are local stand-ins (tests/images.py): no registry can be reached here.
"""

import json
import time
import uuid

import pytest
import yaml

from .helpers import POD_IP_HOST, http_get
from .matrix import DEFAULTS, PROJECTS, SMOKE_ANSWERS, projects_where
from .smtp_sink import SMTPSink

# The default answers; ASGI with Celery and DRF on MySQL (its builder compiles mysqlclient); and
# Python 3.12 beside the default 3.13 (ASGI, Celery, Ninja, Azure storage against Azurite).
IMAGE_PROJECTS = [
    next(param for param in PROJECTS if param.values[0] is SMOKE_ANSWERS),
    projects_where(asgi=True, background_tasks="celery", api="drf", database="mysql")[0],
    projects_where(python_version="3.12")[0],
]
# Each project's image is built, then served, once (conftest.py).
with_every_image = pytest.mark.parametrize("image", IMAGE_PROJECTS, indirect=True)


def images_where(condition):
    """Only the image projects whose answers (with Copier's defaults) meet the condition."""
    chosen = [param for param in IMAGE_PROJECTS if condition(DEFAULTS | param.values[0])]
    return pytest.mark.parametrize("image", chosen, indirect=True)


@with_every_image
def test_make_image_smoke_passes_against_real_services(image):
    """The target a team runs: build, migrate, ready, a page, HEALTHCHECK, uid, clean log."""
    assert "HEALTHCHECK passed, uid 10001" in image.smoke.stdout


@with_every_image
def test_the_served_image_answers_probes_of_the_pod_ip(image, served):
    live, _ = http_get(served["port"], "/health/live/", POD_IP_HOST)
    ready, body = http_get(served["port"], "/health/ready/", POD_IP_HOST)

    assert (live, ready) == (200, 200), body
    assert all(check["status"] == "ok" for check in json.loads(body)["checks"].values())


@with_every_image
def test_the_served_image_renders_pages_behind_a_tls_proxy(image, served):
    domain = image.project.answers["domain_name"]

    status, body = http_get(served["port"], "/", domain, {"X-Forwarded-Proto": "https"})

    assert status == 200
    assert "/static/core/site." in body


@images_where(lambda answers: "prometheus" in answers["observability"])
def test_the_served_image_serves_metrics_on_its_own_port(image, served):
    status, body = http_get(served["metrics_port"], "/metrics", "127.0.0.1")

    assert status == 200
    assert 'django_health_check_up{check="database"}' in body


@images_where(lambda answers: answers["database"] != "sqlite")
def test_the_images_migrate_step_backs_up_and_the_backup_passes_the_restore_drill(
    image, served, tmp_path
):
    """The migrate step every deploy target runs, from the image as production runs it (read-only,
    non-root): a backup with the image's own database client first; then the restore drill."""
    compose = yaml.safe_load((image.project.path / "compose.prod.yaml").read_text())
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o777)
    backups.chmod(0o777)
    run = ["run", "--rm", "--network", "host", "--read-only", "--tmpfs", "/tmp"]
    run += ["--volume", f"{backups}:/backups", *image.container_env(), image.name]

    image.podman(*run, *compose["services"]["migrate"]["command"])
    drill = image.podman(*run, "python", "scripts/backup.py", "restore-check", "/backups")

    assert len(list(backups.glob("*.sql.gz"))) == 1
    assert "Restore check passed" in drill.stdout, drill.stdout + drill.stderr


@with_every_image
def test_the_served_image_passes_its_own_healthcheck(image, served):
    result = image.podman("healthcheck", "run", served["container"], check=False)

    assert result.returncode == 0, result.stdout + result.stderr


@with_every_image
def test_the_served_image_runs_as_non_root_on_a_read_only_root(image, served):
    code = "import os, pathlib\nprint(os.getuid())\npathlib.Path('/app/written').touch()"

    result = image.podman("exec", served["container"], "python", "-c", code, check=False)

    assert result.stdout.strip() == "10001"
    assert "Read-only file system" in result.stderr


@with_every_image
def test_the_served_image_logs_no_error_at_start(image, served):
    lines = [line for line in image.logs(served["container"]).splitlines() if line]
    records = [json.loads(line) for line in lines if line.startswith("{")]

    assert records, lines
    assert [r for r in records if r["level"] in {"ERROR", "CRITICAL"}] == []
    assert all(line.startswith("{") for line in lines), lines  # nothing but JSON lines


@with_every_image
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
        command = compose["services"]["critical-worker"]["command"]
        if command[0] == "celery":  # not the node name of the worker tests' workers
            command = [*command, "--hostname=image@%h"]
        worker = image.start(*command, **mail)
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
