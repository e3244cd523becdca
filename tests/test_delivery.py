"""Delivery files — image, compose, nginx, Kubernetes, CI, pre-commit, backups — judged by the
tools made for them, and run for real wherever they can run without a Docker engine."""

import ast
import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from dockerfile_parse import DockerfileParser

from .helpers import (
    CREATE_DATABASE,
    Server,
    backs_up_then_migrates,
    cloud_containers,
    database_name,
    nginx_config,
    production_env,
    require_program,
    resolved_views,
    run,
    start_pgbouncer,
    tool,
)
from .matrix import PROJECTS, SMOKE_ANSWERS, combination_id, projects_where

SHA_PINNED_ACTION = re.compile(r"[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*")
# Tests of one project run on the worker that installed it (see PROJECTS).
with_default_project = pytest.mark.xdist_group(combination_id(SMOKE_ANSWERS))
with_every_project = pytest.mark.parametrize("project", PROJECTS, indirect=True)


def load_yaml(path):
    return yaml.safe_load(path.read_text())


def load_yaml_documents(path):
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def required_environment(project):
    """REQUIRED_ENVIRONMENT as production.py declares it."""
    tree = ast.parse((project.path / "config/settings/production.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == "REQUIRED_ENVIRONMENT":
            return set(ast.literal_eval(node.value))
    pytest.fail("production.py declares no REQUIRED_ENVIRONMENT")


# --- Dockerfile ---------------------------------------------------------------------------------


def stages(project):
    parser = DockerfileParser(str(project.path / "Dockerfile"))
    current = []
    result = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            current = []
            result.append(current)
        if result:
            current.append(instruction)
    return result


@with_every_project
def test_dockerfile_passes_hadolint_with_healthcheck_required(project):
    tool(
        "hadolint",
        "--failure-threshold",
        "warning",
        "--warning",
        "DL3057",
        "Dockerfile",
        cwd=project.path,
    )
    tool("hadolint", "--config", ".hadolint.yaml", "Dockerfile", cwd=project.path)


@with_default_project
def test_hadolint_flags_a_final_stage_without_healthcheck(default_project, tmp_path):
    """The rule set can fail: without its HEALTHCHECK the same Dockerfile is refused."""
    dockerfile = (default_project.path / "Dockerfile").read_text()
    stripped = re.sub(r"HEALTHCHECK.*?\n(\s+CMD.*\n)?", "", dockerfile)
    (tmp_path / "Dockerfile").write_text(stripped)

    result = tool(
        "hadolint",
        "--config",
        default_project.path / ".hadolint.yaml",
        "Dockerfile",
        cwd=tmp_path,
        check=False,
    )

    assert result.returncode != 0
    assert "DL3057" in result.stdout


@with_every_project
def test_dockerfile_builds_in_stages_and_runs_as_a_non_root_user(project):
    all_stages = stages(project)
    final = all_stages[-1]
    values = {i["instruction"]: i["value"] for i in final}

    assert len(all_stages) >= 2
    assert re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", values["USER"])
    assert "HEALTHCHECK" in values
    assert json.loads(values["CMD"])[0] == "gunicorn"
    assert "EXPOSE" in values


@with_every_project
def test_final_stage_installs_no_compiler_or_headers(project):
    final_runs = " ".join(i["value"] for i in stages(project)[-1] if i["instruction"] == "RUN")

    assert not re.search(r"\b(gcc|g\+\+|clang|build-essential|[\w.+-]+-dev)\b", final_runs)


@with_every_project
def test_dependencies_are_installed_from_copied_files(project):
    """buildah before 1.29 (Debian 12's) refuses a relative bind-mount target and leaves a mounted
    file's content out of its layer cache: the lockfile is copied before `uv sync`."""
    dockerfile = (project.path / "Dockerfile").read_text()

    assert "type=bind" not in dockerfile
    assert "COPY pyproject.toml uv.lock ./\nRUN --mount=type=cache" in dockerfile


@with_every_project
def test_base_images_are_tagged(project):
    parser = DockerfileParser(str(project.path / "Dockerfile"))
    images = [i["value"].split()[0] for i in parser.structure if i["instruction"] == "FROM"]
    images += re.findall(r"--from=(\S+:\S+)", parser.content)

    for image in images:
        if image in {"builder"}:
            continue
        assert ":" in image and not image.endswith(":latest"), image


@with_default_project
def test_builder_commands_run(default_project, tmp_path):
    """The builder's install and collectstatic, run as written against a fresh environment."""
    env = default_project.env(UV_PROJECT_ENVIRONMENT=str(tmp_path / "venv"))
    run(["uv", "sync", "--locked", "--no-dev"], default_project.path, env)
    collect = [str(tmp_path / "venv/bin/python"), "manage.py", "collectstatic", "--noinput"]
    result = run(
        collect, default_project.path, env | {"DJANGO_SETTINGS_MODULE": "config.settings.base"}
    )

    assert "static files copied" in result.stdout


@with_default_project
def test_healthcheck_command_tells_a_running_app_from_a_stopped_one(default_project, tmp_path):
    healthcheck = json.loads(
        next(
            i["value"] for i in stages(default_project)[-1] if i["instruction"] == "HEALTHCHECK"
        ).split("CMD", 1)[1]
    )
    compose_check = load_yaml(default_project.path / "compose.yaml")["services"]["web"][
        "healthcheck"
    ]
    assert compose_check["test"][1:] == healthcheck  # ["CMD", *the same command]
    env = default_project.production_env(DATABASE_SSLMODE="disable")
    default_project.manage("migrate", "--noinput", env=env)
    server = Server(default_project, env, tmp_path / "gunicorn.log")
    command = ["uv", "run", "--frozen", *healthcheck]
    try:
        healthy = run(command, default_project.path, env | {"PORT": str(server.port)}, check=False)
    finally:
        server.stop()
    stopped = run(command, default_project.path, env | {"PORT": str(server.port)}, check=False)

    assert healthy.returncode == 0, healthy.stderr
    assert stopped.returncode != 0


# --- compose ------------------------------------------------------------------------------------


def stack_files(project):
    """The two stacks that run the app: development and production."""
    return [project.path / "compose.yaml", project.path / "compose.prod.yaml"]


def compose_files(project):
    """Every compose file, with the monitoring stack when observability includes prometheus."""
    monitoring = project.path / "compose.monitoring.yaml"
    return stack_files(project) + ([monitoring] if monitoring.is_file() else [])


# Images with no shell or wget for a healthcheck; nothing waits for them to be healthy.
NO_HEALTHCHECK = {"otel-collector", "jaeger"}


@with_every_project
def test_compose_files_follow_the_compose_spec(project):
    tool(
        "check-jsonschema",
        "--builtin-schema",
        "vendor.compose-spec",
        *compose_files(project),
        cwd=project.path,
    )


@with_every_project
def test_dev_container_follows_its_schema(project):
    schema = Path(__file__).parent / "schemas/devContainer.base.schema.json"
    tool(
        "check-jsonschema",
        "--schemafile",
        schema,
        ".devcontainer/devcontainer.json",
        cwd=project.path,
    )


@with_every_project
def test_dev_container_opens_the_development_web_service_on_the_mounted_project(project):
    config = json.loads((project.path / ".devcontainer/devcontainer.json").read_text())
    [compose_file] = config["dockerComposeFile"]
    services = load_yaml(project.path / ".devcontainer" / compose_file)["services"]
    web = services[config["service"]]

    assert set(config["runServices"]) <= services.keys()
    assert web["build"]["target"] == "dev"  # the image stage with the dev tools
    assert f".:{config['workspaceFolder']}" in web["volumes"]


@with_every_project
def test_compose_services_are_health_checked_and_waited_for(project):
    for path in compose_files(project):
        services = load_yaml(path)["services"]
        for name, service in services.items():
            # migrate is a one-shot (others wait for it to complete); a service without an image
            # or build only adds to one defined in compose.prod.yaml.
            defined = "image" in service or "build" in service
            if name != "migrate" and name not in NO_HEALTHCHECK and defined:
                assert "healthcheck" in service, f"{path.name}: {name}"
            for dependency in service.get("depends_on", {}).values():
                assert dependency["condition"] in {
                    "service_healthy",
                    "service_completed_successfully",
                }


@with_every_project
def test_compose_files_hold_no_credentials(project):
    for path in compose_files(project):
        for line in path.read_text().splitlines():
            if re.search(r"PASSWORD|SECRET", line) and ":" in line:
                value = line.split(":", 1)[1]
                assert "${" in value, f"{path.name}: {line.strip()}"


@with_every_project
def test_production_compose_keeps_the_database_internal(project):
    compose = load_yaml(project.path / "compose.prod.yaml")
    services = compose["services"]

    assert compose["networks"]["backend"]["internal"] is True
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert backs_up_then_migrates(services["migrate"]["command"])
    for name in ("db", "cache", "pgbouncer"):
        if name in services:
            assert services[name]["networks"] == ["backend"]
            assert "ports" not in services[name]
    for name, service in services.items():
        if name != "migrate":
            assert service["restart"] == "unless-stopped"
    assert services["web"]["deploy"]["resources"]["limits"]


@pytest.mark.parametrize("answers", projects_where(pgbouncer=True))
def test_pgbouncer_sits_between_web_and_postgresql(installed_projects, answers):
    project = installed_projects(answers)
    for path in stack_files(project):
        services = load_yaml(path)["services"]
        assert "@pgbouncer:5432/" in services["web"]["environment"]["DATABASE_URL"]
        assert services["pgbouncer"]["environment"]["POOL_MODE"] == "transaction"
    base = (project.path / "config/settings/base.py").read_text()
    production = (project.path / "config/settings/production.py").read_text()
    assert 'DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True' in base
    assert '"pool"' not in production


SLOW_STATEMENT = """
import django
django.setup()
from django.db import connection, transaction
with transaction.atomic() if {in_transaction} else connection.cursor():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(2)")
print("finished")
"""


@pytest.mark.parametrize("answers", projects_where(pgbouncer=True)[:1])
def test_pgbouncer_still_cancels_a_slow_statement(installed_projects, answers, tmp_path):
    """Under transaction pooling no session option reaches the server: migrate stores
    DATABASE_STATEMENT_TIMEOUT on the role (in a database of this test's own, so no other test's
    connections carry it), and PgBouncer's new server connections enforce it."""
    project = installed_projects(answers)
    name = database_name(answers) + "_statement_timeout"
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c"]
    subprocess.run([*psql, f'DROP DATABASE IF EXISTS "{name}"'], check=True)
    subprocess.run([*psql, f'CREATE DATABASE "{name}"'], check=True)
    direct = f"postgres://postgres@127.0.0.1:5432/{name}"
    env = production_env(project, DATABASE_URL=direct, DATABASE_STATEMENT_TIMEOUT="1")
    project.manage("migrate", "--noinput", env=env)
    process, port = start_pgbouncer(tmp_path)  # after migrate: every server connection is new
    try:
        pooled = env | {"DATABASE_URL": f"postgres://postgres@127.0.0.1:{port}/{name}"}
        code = SLOW_STATEMENT.format(in_transaction=False)

        slow = project.uv("python", "-c", code, env=pooled, check=False)
        # The migrate job's longer DATABASE_TIMEOUT holds in each of its transactions.
        code = SLOW_STATEMENT.format(in_transaction=True)
        longer = project.uv("python", "-c", code, env=pooled | {"DATABASE_TIMEOUT": "10"})
    finally:
        process.terminate()
        process.wait(timeout=30)
        subprocess.run([*psql, f'DROP DATABASE IF EXISTS "{name}"'], check=True)

    assert slow.returncode != 0
    assert "canceling statement due to statement timeout" in slow.stderr
    assert "finished" in longer.stdout


# The compose.prod services that run the app's image (with its settings).
APP_SERVICES = {"web", "migrate", "backup", "critical-worker", "worker", "beat", "prune"}


def pod_spec(manifest):
    """The pod spec of a Deployment, Job or CronJob; None for other kinds."""
    spec = manifest.get("spec", {})
    if manifest["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec.get("template", {}).get("spec")


def deploy_targets(project):
    """Each production deploy target and the variable names it supplies to the app."""
    targets = {}
    services = load_yaml(project.path / "compose.prod.yaml")["services"]
    for name in APP_SERVICES & services.keys():
        targets[f"compose.prod.yaml:{name}"] = set(services[name]["environment"])
    k8s = project.path / "deploy" / "k8s"
    if k8s.is_dir():
        supplied = set(load_yaml(k8s / "configmap.yaml")["data"])
        supplied |= set(load_yaml(k8s / "secret.example.yaml")["stringData"])
        documents = [(p, d) for p in k8s.glob("*.yaml") for d in load_yaml_documents(p)]
        for path, document in documents:
            spec = pod_spec(document)
            if spec is None:
                continue
            manifest = f"{path.name}:{document['metadata']['name']}"
            # The app's containers, not PgBouncer's.
            for container in [c for c in spec["containers"] if c["image"] == project.image_name]:
                names = {e["name"] for e in container.get("env", [])}
                references = {
                    r.get("configMapRef", r.get("secretRef"))["name"] for r in container["envFrom"]
                }
                assert len(references) == 2, manifest
                targets[f"k8s/{manifest}"] = names | supplied
    return targets | cloud_targets(project)


def cloud_targets(project):
    """Each cloud deploy target and the variable names it supplies to the app."""
    return {
        target: {e["name"] for e in container.get("env", container.get("environment", []))}
        | {e["name"] for e in container.get("secrets", [])}
        for target, container in cloud_containers(project).items()
    }


@with_every_project
def test_every_deploy_target_supplies_what_production_requires(project):
    required = required_environment(project)
    example = (project.path / ".env.example").read_text()

    for target, supplied in deploy_targets(project).items():
        assert required <= supplied, f"{target} lacks {sorted(required - supplied)}"
        for name in supplied - {"DJANGO_SETTINGS_MODULE"}:
            assert re.search(rf"^#? ?{name}=", example, re.MULTILINE), f"{target}: {name}"


@with_every_project
def test_workers_run_the_web_image_with_another_command(project):
    background = project.answers["background_tasks"]
    for path in stack_files(project):
        services = load_yaml(path)["services"]
        roles = {"critical-worker", "worker", "beat", "prune"} & services.keys()
        workers = {"critical-worker", "worker"} if path.name == "compose.prod.yaml" else {"worker"}
        expected = {"django_tasks": workers, "celery": workers | {"beat"}, "none": set()}
        if path.name == "compose.prod.yaml" and background == "django_tasks":
            expected["django_tasks"] = workers | {"prune"}
        assert roles == expected[background], path.name
        for role in roles:
            assert services[role]["build"] == services["web"]["build"]
            assert services[role]["command"] != services["web"].get("command")
            assert services[role]["healthcheck"]["test"][1:] == [
                "python",
                project.heartbeat_script,
            ]
    assert ("broker" in services) == (background == "celery")


@with_every_project
def test_nothing_of_background_work_is_rendered_without_it(project):
    rendered = {path.name for path in project.path.rglob("*") if ".venv" not in path.parts}
    names = {"notifications", "worker", "heartbeat.py", "celery.py", "task_worker.py"}

    assert bool(names & rendered) == (project.answers["background_tasks"] != "none")


# --- nginx --------------------------------------------------------------------------------------


@with_default_project
def test_nginx_config_passes_nginx_t(default_project, nginx, tmp_path):
    config = nginx_config(default_project, tmp_path, "127.0.0.1:8000", 18080, 18443)

    result = run([nginx, "-t", "-p", tmp_path, "-c", config], tmp_path)

    assert "test is successful" in result.stderr


@with_default_project
def test_nginx_serves_the_app_over_tls(behind_nginx):
    domain, port = behind_nginx["domain"], behind_nginx["https"]

    live = curl(f"https://{domain}:{port}/health/live/", domain, port)
    page = curl(f"https://{domain}:{port}/", domain, port)

    assert live["status"] == 200
    assert page["status"] == 200
    assert page["headers"]["strict-transport-security"].startswith("max-age=31536000")


@with_default_project
def test_nginx_redirects_plain_http_to_https(behind_nginx):
    domain, port = behind_nginx["domain"], behind_nginx["http"]

    plain = curl(f"http://{domain}:{port}/", domain, port)

    assert plain["status"] == 301
    assert plain["headers"]["location"] == f"https://{domain}/"


@with_default_project
def test_nginx_tells_its_version_on_no_port(behind_nginx):
    domain = behind_nginx["domain"]

    answers = [
        curl(f"http://{domain}:{behind_nginx['http']}/", domain, behind_nginx["http"]),
        curl(f"http://{domain}:{behind_nginx['http']}/nginx-health", domain, behind_nginx["http"]),
        curl(f"https://{domain}:{behind_nginx['https']}/", domain, behind_nginx["https"]),
    ]

    assert [answer["headers"]["server"] for answer in answers] == ["nginx"] * 3


@with_default_project
def test_nginx_keeps_the_port_so_a_browser_post_passes_csrf(behind_nginx):
    """A browser on https://host:port/ sends Origin with the port: Django must see it too."""
    domain, port = behind_nginx["domain"], behind_nginx["https"]
    origin = f"https://{domain}:{port}"
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE

    def request(method, body=None, headers=None):
        connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=20)
        connection.request(
            method,
            "/admin/login/",
            body=body,
            headers={"Host": f"{domain}:{port}"} | (headers or {}),
        )
        response = connection.getresponse()
        return response, response.read().decode()

    form, html = request("GET")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    cookie = form.getheader("Set-Cookie").split(";", 1)[0]
    answer, _ = request(
        "POST",
        body=f"username=nobody&password=wrong&csrfmiddlewaretoken={token}",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": cookie,
            "Origin": origin,
            "Referer": f"{origin}/admin/login/",
        },
    )

    assert answer.status == 200  # the form again, with "wrong password"; 403 is CSRF failing


def curl(url, domain, port):
    """A request through the real TLS stack, resolving the domain to loopback."""
    result = subprocess.run(
        [
            "curl",
            "--silent",
            "--insecure",
            "--max-time",
            "20",
            "--dump-header",
            "-",
            "--output",
            "/dev/null",
            "--resolve",
            f"{domain}:{port}:127.0.0.1",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    status, *lines = result.stdout.splitlines()
    headers = dict(line.split(": ", 1) for line in lines if ": " in line)
    return {"status": int(status.split()[1]), "headers": {k.lower(): v for k, v in headers.items()}}


# --- Kubernetes ---------------------------------------------------------------------------------


def kubernetes_manifests(project):
    k8s = project.path / "deploy" / "k8s"
    return k8s, sorted(path for path in k8s.glob("*.yaml") if path.name != "kustomization.yaml")


@pytest.mark.parametrize("answers", projects_where(kubernetes=True))
def test_kubernetes_manifests_validate_strictly(installed_projects, answers):
    project = installed_projects(answers)
    k8s, manifests = kubernetes_manifests(project)

    tool("kubernetes-validate", "--strict", *manifests, cwd=k8s)
    listed = load_yaml(k8s / "kustomization.yaml")["resources"]
    assert all((k8s / name).is_file() for name in listed)
    assert "secret.example.yaml" not in listed


@pytest.mark.parametrize("answers", projects_where(kubernetes=True))
def test_kubernetes_deploy_script_passes_shellcheck(installed_projects, answers):
    project = installed_projects(answers)

    tool("shellcheck", "scripts/k8s_deploy.sh", cwd=project.path)


@pytest.mark.parametrize("answers", projects_where(kubernetes=True))
def test_kubernetes_probes_call_routes_that_exist(installed_projects, answers):
    project = installed_projects(answers)
    k8s, _ = kubernetes_manifests(project)
    container = load_yaml(k8s / "deployment.yaml")["spec"]["template"]["spec"]["containers"][0]
    paths = [
        container[probe]["httpGet"]["path"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe")
    ]

    assert resolved_views(project, paths) == ["health:live", "health:live", "health:ready"]


@pytest.mark.parametrize("answers", projects_where(kubernetes=True))
def test_kubernetes_web_tier_is_hardened_and_scales(installed_projects, answers):
    project = installed_projects(answers)
    k8s, _ = kubernetes_manifests(project)
    deployment = load_yaml(k8s / "deployment.yaml")["spec"]
    pod = deployment["template"]["spec"]
    container = pod["containers"][0]
    hpa = load_yaml(k8s / "hpa.yaml")["spec"]

    assert deployment["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"requests", "limits"} <= set(container["resources"])
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 50)
    assert {m["resource"]["name"] for m in hpa["metrics"]} == {"cpu", "memory"}


@pytest.mark.parametrize("answers", projects_where(kubernetes=True, pgbouncer=True))
def test_kubernetes_puts_pgbouncer_between_the_app_and_postgresql(installed_projects, answers):
    project = installed_projects(answers)
    k8s, _ = kubernetes_manifests(project)
    deployment, service, _ = load_yaml_documents(k8s / "pgbouncer.yaml")
    [pgbouncer] = deployment["spec"]["template"]["spec"]["containers"]
    env = {entry["name"]: entry for entry in pgbouncer["env"]}
    one_off = [
        load_yaml(k8s / "migrate-job.yaml")["spec"]["template"]["spec"],
        pod_spec(load_yaml(k8s / "backup-cronjob.yaml")),
    ]

    assert "pgbouncer.yaml" in load_yaml(k8s / "kustomization.yaml")["resources"]
    assert env["POOL_MODE"]["value"] == "transaction"
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "DIRECT_DATABASE_URL"
    assert service["spec"]["ports"][0]["port"] == 5432
    assert "DIRECT_DATABASE_URL" in load_yaml(k8s / "secret.example.yaml")["stringData"]
    for spec in one_off:  # a migration and a dump need a session of their own
        [database_url] = [e for e in spec["containers"][0]["env"] if e["name"] == "DATABASE_URL"]
        assert database_url["valueFrom"]["secretKeyRef"]["key"] == "DIRECT_DATABASE_URL"


@pytest.mark.parametrize("answers", projects_where(kubernetes=True))
def test_kubernetes_workers_finish_their_tasks_and_beat_runs_once(installed_projects, answers):
    project = installed_projects(answers)
    k8s, _ = kubernetes_manifests(project)
    workers = load_yaml_documents(k8s / "worker-deployment.yaml")
    scaled = {
        hpa["spec"]["scaleTargetRef"]["name"]
        for hpa in load_yaml_documents(k8s / "worker-hpa.yaml")
    }

    assert scaled == {worker["metadata"]["name"] for worker in workers}
    for worker in workers:
        pod = worker["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert pod["terminationGracePeriodSeconds"] > 300  # TASK_TIME_LIMIT's default
        assert container["livenessProbe"]["exec"]["command"][1] == project.heartbeat_script
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
    if project.answers["background_tasks"] == "celery":
        beat = load_yaml(k8s / "beat-deployment.yaml")["spec"]
        assert (beat["replicas"], beat["strategy"]["type"]) == (1, "Recreate")
    else:
        prune = load_yaml(k8s / "prune-cronjob.yaml")["spec"]
        assert prune["concurrencyPolicy"] == "Forbid"


# --- CI, pre-commit -----------------------------------------------------------------------------


@with_every_project
def test_only_the_chosen_ci_is_rendered(project):
    ci = project.answers["ci"]

    assert (project.path / ".github").exists() == (ci == "github")
    assert (project.path / ".gitlab-ci.yml").exists() == (ci == "gitlab")


@with_every_project
def test_kubernetes_manifests_are_rendered_only_when_asked_for(project):
    assert (project.path / "deploy" / "k8s").exists() == project.answers["kubernetes"]


ROLLBACKS = {
    "aws": "aws ecs update-service",
    "gcp": "gcloud run services update-traffic",
    "azure": "az containerapp update --name",
}


@with_every_project
def test_the_runbook_rolls_back_each_chosen_deploy_target_and_names_no_other(project):
    runbook = (project.path / "docs/runbook.md").read_text()

    assert ("kubectl rollout undo" in runbook) == project.answers["kubernetes"]
    for cloud, command in ROLLBACKS.items():
        assert (command in runbook) == (project.answers["cloud"] == cloud), cloud


@pytest.mark.parametrize("answers", projects_where(ci="github"))
def test_github_workflow_and_dependabot_follow_their_schemas(installed_projects, answers):
    project = installed_projects(answers)
    workflows = project.path / ".github"
    tool(
        "check-jsonschema",
        "--builtin-schema",
        "vendor.github-workflows",
        *sorted((workflows / "workflows").glob("*.yml")),
        cwd=project.path,
    )
    tool(
        "check-jsonschema",
        "--builtin-schema",
        "vendor.dependabot",
        workflows / "dependabot.yml",
        cwd=project.path,
    )


@pytest.mark.parametrize("answers", projects_where(ci="github"))
def test_github_workflow_has_no_zizmor_findings(installed_projects, answers):
    project = installed_projects(answers)

    result = tool("zizmor", "--offline", "--persona", "pedantic", ".github", cwd=project.path)

    assert "No findings" in result.stdout


@pytest.mark.parametrize("answers", projects_where(ci="github"))
def test_github_workflow_is_least_privilege_and_pinned(installed_projects, answers):
    project = installed_projects(answers)
    for path in sorted((project.path / ".github/workflows").glob("*.yml")):
        text = path.read_text()
        workflow = yaml.safe_load(text)

        assert workflow["permissions"] == {}, path.name
        for job in workflow["jobs"].values():
            assert job["timeout-minutes"] <= 30
            assert "permissions" in job
            for step in job["steps"]:
                if "uses" in step:
                    assert SHA_PINNED_ACTION.fullmatch(
                        re.search(rf"uses: ({re.escape(step['uses'])}.*)", text).group(1)
                    )
                    if step["uses"].startswith("actions/checkout@"):
                        assert step["with"]["persist-credentials"] is False


# --- Supply chain -------------------------------------------------------------------------------


@with_default_project
def test_sbom_describes_the_locked_production_dependencies_in_cyclonedx(default_project):
    default_project.make("sbom")
    text = (default_project.path / "sbom.cdx.json").read_text()
    locked = {
        package["name"]: package["version"]
        for package in tomllib.loads((default_project.path / "uv.lock").read_text())["package"]
    }
    components = {c["name"]: c["version"] for c in json.loads(text)["components"]}

    assert JsonStrictValidator(SchemaVersion.V1_5).validate_str(text) is None
    assert components["django"] == locked["django"]
    assert all(locked[name] == version for name, version in components.items())
    assert "pytest" not in components  # a development tool: not shipped


@with_default_project
def test_audit_fails_when_it_could_not_audit(default_project):
    default_project.make("audit", check=False)  # fetches pip-audit while the network is there
    unreachable = "http://127.0.0.1:9"  # nothing listens: every advisory lookup fails
    env = default_project.env(HTTPS_PROXY=unreachable, HTTP_PROXY=unreachable, UV_OFFLINE="1")

    result = default_project.make("audit", env=env, check=False)

    assert result.returncode != 0
    assert "pypi.org" in result.stdout + result.stderr  # pip-audit ran, and could not look


@pytest.mark.parametrize("answers", projects_where(ci="github") + projects_where(ci="gitlab"))
def test_template_update_fails_clearly_without_its_token(installed_projects, answers):
    project = installed_projects(answers)
    if project.answers["ci"] == "github":
        workflow = load_yaml(project.path / ".github/workflows/template-update.yml")
        [step] = [
            s
            for s in workflow["jobs"]["update"]["steps"]
            if "TEMPLATE_UPDATE_TOKEN" in s.get("name", "")
        ]
        guard = step["run"]
        assert (
            "GITHUB_TOKEN }}"
            not in (project.path / ".github/workflows/template-update.yml").read_text()
        )
    else:
        guard = load_yaml(project.path / ".gitlab-ci.yml")["template-update"]["script"][0]

    def run_guard(token):
        env = {"PATH": os.environ["PATH"], "TEMPLATE_UPDATE_TOKEN": token}
        return subprocess.run(["bash", "-euc", guard], env=env, capture_output=True, text=True)

    missing = run_guard("")
    assert missing.returncode == 1
    assert "TEMPLATE_UPDATE_TOKEN is not set" in missing.stdout
    assert run_guard("a-token").returncode == 0


# The Makefile targets the template's tests run (in test_projects.py unless noted); the rendered
# CI pipelines may call only these.
MAKE_TARGETS_TESTED = {
    "audit",  # these two below
    "sbom",
    "lint",
    "typecheck",
    "test",
    "migrations",
    "check-deploy",
    "image-smoke",  # in test_image.py, with podman
    "template-check",  # these two in test_updates.py
    "template-update",
}


def ci_make_targets(project):
    paths = [*project.path.glob(".github/workflows/*.yml"), project.path / ".gitlab-ci.yml"]
    text = "".join(path.read_text() for path in paths if path.exists())
    # Lines that install the make program are not make commands.
    installs = ("apt-get install", "apk add")
    commands = "\n".join(
        line for line in text.splitlines() if not any(verb in line for verb in installs)
    )
    return set(re.findall(r"\bmake (?:--[a-z-]+ )*([a-z][a-z-]*)", commands))


@pytest.mark.parametrize("answers", projects_where(ci="github") + projects_where(ci="gitlab"))
def test_ci_calls_only_makefile_targets_the_template_tests_run(installed_projects, answers):
    project = installed_projects(answers)
    targets = ci_make_targets(project)

    assert targets == MAKE_TARGETS_TESTED
    makefile = (project.path / "Makefile").read_text()
    assert all(re.search(rf"^{target}:", makefile, re.MULTILINE) for target in targets)


@pytest.mark.parametrize("answers", projects_where(ci="gitlab"))
def test_gitlab_pipeline_and_renovate_follow_their_schemas(installed_projects, answers):
    project = installed_projects(answers)
    for schema, path in [
        ("vendor.gitlab-ci", ".gitlab-ci.yml"),
        ("vendor.renovate", "renovate.json"),
    ]:
        tool("check-jsonschema", "--builtin-schema", schema, path, cwd=project.path)


@pytest.mark.parametrize("answers", projects_where(ci="gitlab"))
def test_gitlab_maintenance_schedules_run_only_their_own_job(installed_projects, answers):
    """A schedule with TEMPLATE_UPDATE=1 or RENOVATE=1 must not also build, push and deploy."""
    pipeline = load_yaml(installed_projects(answers).path / ".gitlab-ci.yml")
    jobs = {
        name: job
        for name, job in pipeline.items()
        if isinstance(job, dict) and {"script", "extends"} & job.keys() and not name.startswith(".")
    }
    excluded = {"if": '$TEMPLATE_UPDATE == "1" || $RENOVATE == "1"', "when": "never"}

    assert {"template-update", "renovate"} <= jobs.keys()
    for name, job in jobs.items():
        rules = job.get("rules") or pipeline.get(job.get("extends", ""), {}).get("rules", [])
        if name in ("template-update", "renovate"):
            assert rules[0]["if"].startswith('$CI_PIPELINE_SOURCE == "schedule"'), name
        else:
            assert rules[0] == excluded, name


@pytest.mark.parametrize("answers", projects_where(ci="gitlab"))
def test_gitlab_pipeline_pins_every_image_by_digest(installed_projects, answers):
    project = installed_projects(answers)
    pipeline = load_yaml(project.path / ".gitlab-ci.yml")
    images = [
        image if isinstance(image, str) else image["name"]
        for job in pipeline.values()
        if isinstance(job, dict)
        for image in [job.get("image"), *job.get("services", [])]
        if image
    ]

    assert len(images) > 3
    assert all(re.fullmatch(r"[^@\s]+:[^@\s]+@sha256:[0-9a-f]{64}", image) for image in images), (
        images
    )


@with_every_project
def test_pre_commit_config_is_valid_and_django_upgrade_changes_nothing(project):
    config = load_yaml(project.path / ".pre-commit-config.yaml")
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    tool("pre-commit", "validate-config", ".pre-commit-config.yaml", cwd=project.path)

    assert {
        "ruff-check",
        "ruff-format",
        "django-upgrade",
        "check-merge-conflict",
        "detect-private-key",
        "check-yaml",
        "check-toml",
    } <= set(hooks)
    assert hooks["django-upgrade"]["args"] == ["--target-version", "6.1"]
    sources = [p for p in project.path.rglob("*.py") if ".venv" not in p.parts]
    tool("django-upgrade", "--check", "--target-version", "6.1", *sources, cwd=project.path)


# --- backups ------------------------------------------------------------------------------------


def count_users(project, env):
    code = "import django; django.setup()\nfrom django.contrib.auth import get_user_model\n"
    code += "print(get_user_model().objects.count())"
    return int(project.uv("python", "-c", code, env=env).stdout.split()[-1])


def recreate_database(project, env):
    database = project.answers["database"]
    if database == "sqlite":
        Path(env["DATABASE_URL"].removeprefix("sqlite:///")).unlink(missing_ok=True)
    else:
        project.uv(
            "python", "-c", CREATE_DATABASE[database].format(name=database_name(project.answers))
        )


ONE_PER_DATABASE = [
    projects_where(database=db, cache="none")[0] for db in ("postgresql", "mysql", "sqlite")
]


@pytest.mark.parametrize("answers", ONE_PER_DATABASE)
def test_backup_and_restore_round_trip(installed_projects, answers, tmp_path):
    project = installed_projects(answers)
    clients = {
        "postgresql": ["pg_dump", "psql"],
        "mysql": ["mariadb-dump", "mariadb"],
        "sqlite": [],
    }
    for program in clients[answers["database"]]:
        require_program(program)
    env = project.env(DJANGO_SETTINGS_MODULE="config.settings.development")
    recreate_database(project, env)
    project.manage("migrate", "--noinput", env=env)
    code = "import django; django.setup()\nfrom django.contrib.auth import get_user_model\n"
    code += "for name in ('ada', 'grace', 'linus'): get_user_model().objects.create_user(name)"
    project.uv("python", "-c", code, env=env)

    backup = project.uv("python", "scripts/backup.py", "backup", tmp_path, env=env)
    dump = Path(backup.stdout.strip().splitlines()[-1])
    recreate_database(project, env)
    project.manage("migrate", "--noinput", env=env)
    assert count_users(project, env) == 0
    project.uv("python", "scripts/backup.py", "restore", dump, env=env)

    assert dump.name.endswith(".sql.gz")
    assert count_users(project, env) == 3


def scratch_databases(project):
    """The restore drill's scratch databases left on the server (none, once it ended)."""
    name = database_name(project.answers) + "_restore_check"
    if project.answers["database"] == "postgresql":
        query = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc"]
        sql = f"SELECT datname FROM pg_database WHERE datname = '{name}'"
    else:
        query = ["mysql", "-h", "127.0.0.1", "-uroot", "-N", "-e"]
        sql = f"SHOW DATABASES LIKE '{name}'"
    return subprocess.run([*query, sql], check=True, capture_output=True, text=True).stdout.split()


@pytest.mark.parametrize("answers", ONE_PER_DATABASE)
def test_the_restore_drill_restores_the_newest_backup_and_checks_it(installed_projects, answers):
    project = installed_projects(answers)
    env = project.env(DJANGO_SETTINGS_MODULE="config.settings.development")
    recreate_database(project, env)
    project.manage("migrate", "--noinput", env=env)
    shutil.rmtree(project.path / "backups", ignore_errors=True)
    run(["make", "backup"], project.path, env)

    result = run(["make", "restore-check"], project.path, env)

    assert "Restore check passed" in result.stdout
    if answers["database"] != "sqlite":
        assert scratch_databases(project) == []


@pytest.mark.parametrize("answers", ONE_PER_DATABASE)
def test_the_restore_drill_fails_on_a_backup_whose_schema_is_behind_the_code(
    installed_projects, answers, tmp_path
):
    project = installed_projects(answers)
    env = project.env(DJANGO_SETTINGS_MODULE="config.settings.development")
    recreate_database(project, env)
    project.manage("migrate", "--noinput", env=env)
    project.manage("migrate", "sessions", "zero", "--noinput", env=env)
    project.uv("python", "scripts/backup.py", "backup", tmp_path, env=env)

    result = project.uv(
        "python", "scripts/backup.py", "restore-check", tmp_path, env=env, check=False
    )

    assert result.returncode != 0
    assert "Restore check failed: migrate --check" in result.stderr
    if answers["database"] != "sqlite":
        assert scratch_databases(project) == []


@pytest.mark.parametrize("answers", projects_where(database="sqlite", cache="none")[:1])
def test_backups_keep_only_the_newest(installed_projects, answers, tmp_path):
    project = installed_projects(answers)
    env = project.env(BACKUP_KEEP="2")
    project.manage("migrate", "--noinput", env=env)

    for _ in range(4):
        project.uv("python", "scripts/backup.py", "backup", tmp_path, env=env)

    assert len(list(tmp_path.glob("*.sql.gz"))) == 2
