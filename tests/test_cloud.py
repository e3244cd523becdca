"""Cloud deployment files, judged without the cloud: ECS inputs against botocore's own service
model, Cloud Run and Container Apps manifests structurally (probe paths resolved by the project's
URLconf, secrets referenced where they are declared), the deploy script by shellcheck, and
backups uploaded to the cloud's emulator. Storage and secrets themselves run in each project's
own suite (test_projects.py) against moto, gcp-storage-emulator and Azurite."""

import json
import re
from pathlib import Path

import pytest
import yaml
from botocore.exceptions import ParamValidationError
from botocore.session import Session
from botocore.validate import ParamValidator

from extensions.cloud import DEPLOY_VARIABLES, PROMOTION_VARIABLES, STORAGE_VARIABLES

from .helpers import (
    PLACEHOLDER,
    backs_up_then_migrates,
    cloud_containers,
    load_manifest,
    render,
    resolved_views,
    tool,
)
from .matrix import projects_where

AWS = projects_where(cloud="aws")
GCP = projects_where(cloud="gcp")
AZURE = projects_where(cloud="azure")
CLOUDS = AWS + GCP + AZURE


def roles(project):
    background = project.answers.get("background_tasks", "django_tasks")
    workers = ["critical-worker", "worker"]
    return {"django_tasks": workers, "celery": [*workers, "beat"], "none": []}[background]


def ecs_validate(operation, params, service="ecs"):
    """Validate an input as botocore does before it sends a request."""
    model = Session().get_service_model(service).operation_model(operation)
    report = ParamValidator().validate(params, model.input_shape)
    if report.has_errors():
        raise ParamValidationError(report=report.generate_report())


def environment_names(entries):
    return {entry["name"] for entry in entries}


@pytest.mark.parametrize("answers", CLOUDS)
def test_only_the_chosen_clouds_files_are_rendered(installed_projects, answers):
    project = installed_projects(answers)
    rendered = {path.name for path in (project.path / "deploy").iterdir()}

    assert rendered & {"aws", "gcp", "azure"} == {answers["cloud"]}
    assert (project.path / "scripts/deploy.sh").is_file()


@pytest.mark.parametrize("answers", projects_where(cloud="none")[:1])
def test_nothing_of_the_cloud_is_rendered_without_one(installed_projects, answers):
    project = installed_projects(answers)
    names = {path.name for path in project.path.rglob("*") if ".venv" not in path.parts}

    assert not names & {"aws", "gcp", "azure", "deploy.sh", "secret_manager.py", "test_storage.py"}
    assert "storages" not in (project.path / "pyproject.toml").read_text()


# --- AWS: ECS Fargate -------------------------------------------------------------------------


@pytest.mark.parametrize("answers", AWS)
def test_ecs_task_definitions_are_valid_register_task_definition_inputs(
    installed_projects, answers
):
    project = installed_projects(answers)
    definitions = load_manifest(project.path / "deploy/aws/task-definitions.json")

    assert sorted(definitions) == sorted(["web", *roles(project)])
    for definition in definitions.values():
        ecs_validate("RegisterTaskDefinition", definition)


@pytest.mark.parametrize("answers", AWS)
def test_ecs_services_are_valid_create_service_inputs(installed_projects, answers):
    project = installed_projects(answers)
    services = load_manifest(project.path / "deploy/aws/services.json")
    definitions = load_manifest(project.path / "deploy/aws/task-definitions.json")

    assert services.keys() == definitions.keys()
    for role, service in services.items():
        ecs_validate("CreateService", service)
        assert service["taskDefinition"] == definitions[role]["family"]
        assert service["deploymentConfiguration"]["deploymentCircuitBreaker"]["rollback"] is True


@pytest.mark.parametrize("answers", AWS)
def test_ecs_backup_schedule_is_a_valid_create_schedule_input_running_the_backup(
    installed_projects, answers
):
    project = installed_projects(answers)
    schedule = load_manifest(project.path / "deploy/aws/backup-schedule.json")
    definitions = load_manifest(project.path / "deploy/aws/task-definitions.json")
    [override] = json.loads(schedule["Target"]["Input"])["containerOverrides"]
    web = definitions["web"]["containerDefinitions"][0]

    ecs_validate("CreateSchedule", schedule, service="scheduler")
    ecs_validate("UpdateSchedule", schedule, service="scheduler")
    assert schedule["Target"]["EcsParameters"]["TaskDefinitionArn"].endswith(
        ":task-definition/" + definitions["web"]["family"]
    )
    assert override == {
        "name": "web",
        "command": ["python", "scripts/backup.py", "backup", "/backups"],
    }
    assert {"sourceVolume": "backups", "containerPath": "/backups"} in web["mountPoints"]


def test_ecs_validation_can_fail():
    """The validator refuses what ECS would: a task definition without containers."""
    with pytest.raises(ParamValidationError):
        ecs_validate("RegisterTaskDefinition", {"family": "x", "cpu": 256})


@pytest.mark.parametrize("answers", AWS)
def test_ecs_web_container_is_health_checked_hardened_and_logs_to_cloudwatch(
    installed_projects, answers
):
    project = installed_projects(answers)
    definitions = load_manifest(project.path / "deploy/aws/task-definitions.json")
    web = definitions["web"]["containerDefinitions"][0]
    healthcheck = (project.path / "scripts/healthcheck.py").read_text()

    assert web["healthCheck"]["command"] == ["CMD", "python", "scripts/healthcheck.py"]
    assert "/health/live/" in healthcheck
    assert web["readonlyRootFilesystem"] is True
    assert not web["user"].startswith("0")
    assert web["logConfiguration"]["logDriver"] == "awslogs"
    for role in roles(project):
        worker = definitions[role]["containerDefinitions"][0]
        assert worker["healthCheck"]["command"][1:] == ["python", project.heartbeat_script]
        assert "portMappings" not in worker


@pytest.mark.parametrize("answers", AWS)
def test_ecs_secrets_are_keys_of_the_services_secrets_manager_secret(installed_projects, answers):
    project = installed_projects(answers)
    definitions = load_manifest(project.path / "deploy/aws/task-definitions.json")

    for definition in definitions.values():
        for secret in definition["containerDefinitions"][0]["secrets"]:
            arn = secret["valueFrom"].split(":")
            assert arn[:3] == ["arn", "aws", "secretsmanager"]
            assert arn[5:8] == [
                "secret",
                f"{project.slug.replace('_', '-')}/production",
                secret["name"],
            ]


# --- Google Cloud: Cloud Run ------------------------------------------------------------------


def cloud_run_containers(project):
    """The container of each Cloud Run resource, by role (web, migrate, the worker pools)."""
    pools = project.path / "deploy/gcp/worker-pools.yaml"
    for pool in (load_manifest(pools) if pools.is_file() else {}).values():
        assert (pool["apiVersion"], pool["kind"]) == ("run.googleapis.com/v1", "WorkerPool")
    return {
        target.split(":")[1]: container for target, container in cloud_containers(project).items()
    }


@pytest.mark.parametrize("answers", GCP)
def test_cloud_run_service_has_what_cloud_run_requires(installed_projects, answers):
    project = installed_projects(answers)
    service = load_manifest(project.path / "deploy/gcp/service.yaml")
    spec = service["spec"]["template"]["spec"]
    container = spec["containers"][0]

    assert (service["apiVersion"], service["kind"]) == ("serving.knative.dev/v1", "Service")
    assert re.fullmatch(r"[a-z]([-a-z0-9]{0,47}[a-z0-9])?", service["metadata"]["name"])
    assert container["image"] and container["ports"] == [{"name": "http1", "containerPort": 8000}]
    # Cloud Run sets PORT itself: the service must not.
    assert "PORT" not in environment_names(container["env"])
    assert spec["serviceAccountName"].endswith(".iam.gserviceaccount.com")


@pytest.mark.parametrize("answers", GCP)
def test_cloud_run_probes_call_routes_that_exist(installed_projects, answers):
    project = installed_projects(answers)
    container = cloud_run_containers(project)["web"]
    paths = [container[probe]["httpGet"]["path"] for probe in ("startupProbe", "livenessProbe")]

    # Cloud Run sends no traffic before the startup probe passes: it asks for readiness.
    assert resolved_views(project, paths) == ["health:ready", "health:live"]


@pytest.mark.parametrize("answers", GCP)
def test_cloud_run_runs_every_role_and_migrates_first(installed_projects, answers):
    project = installed_projects(answers)
    containers = cloud_run_containers(project)

    assert sorted(containers) == sorted(["web", "migrate", "backup", *roles(project)])
    assert backs_up_then_migrates(containers["migrate"]["command"])
    assert containers["backup"]["command"][:3] == ["python", "scripts/backup.py", "backup"]
    for container in containers.values():
        for entry in container["env"]:
            if "valueFrom" in entry:
                reference = entry["valueFrom"]["secretKeyRef"]
                assert reference["key"] == "latest"
                assert reference["name"].endswith(entry["name"].lower().replace("_", "-"))


# --- Azure: Container Apps --------------------------------------------------------------------


def container_apps(project):
    return load_manifest(project.path / "deploy/azure/container-apps.yaml")


@pytest.mark.parametrize("answers", AZURE)
def test_container_apps_have_what_container_apps_require(installed_projects, answers):
    project = installed_projects(answers)
    apps = container_apps(project)

    assert sorted(apps) == sorted(["web", "migrate", "backup", *roles(project)])
    for role, app in apps.items():
        properties = app["properties"]
        jobs = {"migrate", "backup"}
        kind = "Microsoft.App/jobs" if role in jobs else "Microsoft.App/containerApps"
        assert app["type"] == kind
        assert properties.get("managedEnvironmentId") or properties.get("environmentId")
        assert app["identity"]["type"] == "UserAssigned"
        declared = {secret["name"] for secret in properties["configuration"]["secrets"]}
        for secret in properties["configuration"]["secrets"]:
            assert secret["keyVaultUrl"].startswith("https://")
            assert secret["identity"] in app["identity"]["userAssignedIdentities"]
        for container in properties["template"]["containers"]:
            references = {e["secretRef"] for e in container["env"] if "secretRef" in e}
            assert references <= declared, role
            assert container["image"]
    assert apps["web"]["properties"]["configuration"]["ingress"]["targetPort"] == 8000
    assert apps["migrate"]["properties"]["configuration"]["triggerType"] == "Manual"
    assert backs_up_then_migrates(
        apps["migrate"]["properties"]["template"]["containers"][0]["command"]
    )
    backup = apps["backup"]["properties"]["configuration"]
    assert backup["triggerType"] == "Schedule"
    assert len(backup["scheduleTriggerConfig"]["cronExpression"].split()) == 5
    if "beat" in apps:
        scale = apps["beat"]["properties"]["template"]["scale"]
        assert scale["minReplicas"] == scale["maxReplicas"] == 1


@pytest.mark.parametrize("answers", AZURE)
def test_container_apps_probes_call_routes_that_exist(installed_projects, answers):
    project = installed_projects(answers)
    web = container_apps(project)["web"]["properties"]["template"]
    probes = {probe["type"]: probe["httpGet"]["path"] for probe in web["containers"][0]["probes"]}

    assert list(probes) == ["Startup", "Liveness", "Readiness"]
    assert resolved_views(project, probes.values()) == [
        "health:live",
        "health:live",
        "health:ready",
    ]
    assert web["scale"]["rules"][0]["http"]["metadata"]["concurrentRequests"]


# --- Deploy script and job --------------------------------------------------------------------


@pytest.mark.parametrize("answers", CLOUDS)
def test_deploy_script_passes_shellcheck(installed_projects, answers):
    project = installed_projects(answers)

    tool("shellcheck", "--severity=style", "scripts/deploy.sh", cwd=project.path)


@pytest.mark.parametrize("answers", CLOUDS)
def test_every_placeholder_is_a_variable_the_deploy_jobs_set(installed_projects, answers):
    project = installed_projects(answers)
    cloud = answers["cloud"]
    expected = (
        set(DEPLOY_VARIABLES[cloud]) | set(PROMOTION_VARIABLES) | set(STORAGE_VARIABLES[cloud])
    )
    placeholders = set()
    for path in (project.path / "deploy" / answers["cloud"]).iterdir():
        placeholders |= set(PLACEHOLDER.findall(path.read_text()))
    workflow = yaml.safe_load((project.path / ".github/workflows/ci.yml").read_text())
    script = (project.path / "scripts/deploy.sh").read_text()

    assert placeholders - {"IMAGE", "PUBLIC_HOST"} <= expected  # both filled in by deploy.sh
    for stage in ("staging", "production"):
        deploy = workflow["jobs"][f"deploy-{stage}"]
        assert set(deploy["env"]) == expected | {"IMAGE_TAG", "IMAGE_DIGEST"}
        for name in expected:
            assert deploy["env"][name] == f"${{{{ vars.{name} }}}}"
    for name in expected:
        assert f': "${{{name}:?set {name}}}"' in script


@pytest.mark.parametrize("answers", CLOUDS)
def test_staging_deploys_from_main_then_production_with_an_oidc_token_and_no_secrets(
    installed_projects, answers
):
    project = installed_projects(answers)
    jobs = yaml.safe_load((project.path / ".github/workflows/ci.yml").read_text())["jobs"]
    staging, production = jobs["deploy-staging"], jobs["deploy-production"]

    assert staging["needs"] == ["image"]  # tested, scanned, pushed, signed
    assert production["needs"] == ["image", "deploy-staging"]  # and its environment's reviewers
    for stage, deploy in [("staging", staging), ("production", production)]:
        assert deploy["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
        assert deploy["permissions"] == {
            "contents": "read",
            "id-token": "write",
            "packages": "read",
        }
        assert deploy["env"]["IMAGE_DIGEST"] == "${{ needs.image.outputs.digest }}"
        assert deploy["environment"]["name"] == stage
        assert deploy["concurrency"] == {"group": f"deploy-{stage}", "cancel-in-progress": False}
        assert "secrets." not in json.dumps(deploy)


# --- Backups ----------------------------------------------------------------------------------


@pytest.mark.parametrize("answers", CLOUDS)
def test_backups_are_uploaded_to_the_backup_bucket(installed_projects, answers, tmp_path):
    project = installed_projects(answers)
    env = project.env(DJANGO_SETTINGS_MODULE="config.settings.development", BACKUP_KEEP="2")
    if answers["database"] == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'backup.sqlite3'}"
    project.manage("migrate", "--noinput", env=env)

    for _ in range(3):
        result = project.uv("python", "scripts/backup.py", "backup", tmp_path, env=env)
    listing = project.uv(
        "python",
        "-c",
        "import django; django.setup()\nfrom django.core.files.storage import storages\n"
        "print('uploaded:', *sorted(storages['backups'].listdir('')[1]))",
        env=env,
    )
    uploaded = listing.stdout.splitlines()[-1].split()[1:]

    assert f"uploaded: {Path(result.stdout.split()[0]).name}" in result.stdout
    assert len(uploaded) == 2
    assert Path(result.stdout.split()[0]).name == uploaded[-1]


# --- PgBouncer in the cloud -------------------------------------------------------------------


@pytest.fixture(scope="module")
def behind_pgbouncer(template_renderer):
    """Each cloud's files rendered (not installed) for PostgreSQL behind PgBouncer, with Celery:
    no project of the matrix combines the two, and their files are all these tests need."""
    return {
        cloud: render(
            template_renderer,
            {
                "project_name": "Pooled Orders",
                "cloud": cloud,
                "pgbouncer": True,
                "background_tasks": "celery",
            },
        )
        for cloud in ("aws", "gcp", "azure")
    }


def sidecar_environment(container):
    return {
        entry["name"]: entry.get("value")
        for entry in container.get("env", container.get("environment", []))
    }


def direct_database_url(container, cloud):
    """Whether the container's DATABASE_URL is the server's own (DIRECT_DATABASE_URL's secret)."""
    if cloud == "gcp":
        [entry] = [e for e in container["env"] if e["name"] == "DATABASE_URL"]
        return entry["valueFrom"]["secretKeyRef"]["name"].endswith("-direct-database-url")
    [entry] = [e for e in container["env"] if e["name"] == "DATABASE_URL"]
    return entry["secretRef"] == "direct-database-url"


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_every_long_running_role_reaches_postgresql_through_a_pgbouncer_sidecar(
    behind_pgbouncer, cloud
):
    project = behind_pgbouncer[cloud]
    deploy = project.path / "deploy" / cloud
    if cloud == "aws":
        pods = {
            role: task["containerDefinitions"]
            for role, task in load_manifest(deploy / "task-definitions.json").items()
        }
        for task in load_manifest(deploy / "task-definitions.json").values():
            ecs_validate("RegisterTaskDefinition", task)
    elif cloud == "gcp":
        service = load_manifest(deploy / "service.yaml")["spec"]["template"]
        pools = load_manifest(deploy / "worker-pools.yaml")
        pods = {"web": service["spec"]["containers"]} | {
            role: pool["spec"]["template"]["spec"]["containers"] for role, pool in pools.items()
        }
    else:
        apps = load_manifest(deploy / "container-apps.yaml")
        pods = {
            role: app["properties"]["template"]["containers"]
            for role, app in apps.items()
            if app["type"].endswith("containerApps")
        }

    assert sorted(pods) == sorted(["web", "critical-worker", "worker", "beat"])
    for role, containers in pods.items():
        app, sidecar = containers
        environment = sidecar_environment(sidecar)
        assert app["name"] == role
        assert sidecar["name"] == "pgbouncer" and "pgbouncer" in sidecar["image"]
        assert environment["POOL_MODE"] == "transaction"
        if cloud == "aws":
            assert app["dependsOn"] == [{"containerName": "pgbouncer", "condition": "START"}]
            assert sidecar["secrets"][0]["valueFrom"].endswith(":DIRECT_DATABASE_URL::")
        else:
            assert environment["LISTEN_ADDR"] == "127.0.0.1"


@pytest.mark.parametrize("cloud", ["gcp", "azure"])
def test_one_off_jobs_connect_to_postgresql_itself_not_through_pgbouncer(behind_pgbouncer, cloud):
    """A sidecar never exits, so a job beside one would never complete; a migration and a dump
    need a session of their own anyway."""
    deploy = behind_pgbouncer[cloud].path / "deploy" / cloud
    if cloud == "gcp":
        jobs = {
            role: load_manifest(deploy / f"{role}-job.yaml")["spec"]["template"]["spec"][
                "template"
            ]["spec"]["containers"]
            for role in ("migrate", "backup")
        }
    else:
        apps = load_manifest(deploy / "container-apps.yaml")
        jobs = {
            role: apps[role]["properties"]["template"]["containers"]
            for role in ("migrate", "backup")
        }

    for containers in jobs.values():
        [container] = containers
        assert direct_database_url(container, cloud)
