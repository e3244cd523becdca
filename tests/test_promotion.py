"""Promotion as the deploy jobs run it: the smoke test of an environment's public URL
(scripts/smoke_check.py) against the project served for real behind its nginx over TLS, and the
rollback that follows a failed one, run for real with stand-ins for what cannot be reached here
(a cluster, a cloud): `make k8s-deploy` with a recording kubectl, scripts/deploy.sh for ECS with
a recording aws and docker. Google Cloud and Azure's deploy paths need mikefarah's yq, which no
registry here offers: shellcheck and the schema tests judge them (test_cloud.py)."""

import json

import pytest

from extensions.cloud import DEPLOY_VARIABLES, STORAGE_VARIABLES

from .helpers import PublicSite, fake_commands, recorded_calls, run, serve_behind_nginx
from .matrix import SMOKE_PROJECT, projects_where

# Kubernetes with the most Deployments (Celery: two workers and beat), and ECS.
KUBERNETES = projects_where(kubernetes=True, background_tasks="celery")[:1]
ECS = projects_where(cloud="aws")[:1]
# A failed smoke test waits this long, not the two minutes a real rollout may take.
QUICK = {"SMOKE_CHECK_TIMEOUT": "1"}


def smoke_check(project, url, **env):
    command = ["python3", "scripts/smoke_check.py", url]
    return run(command, project.path, project.env(**env), check=False)


@pytest.mark.parametrize("answers", [SMOKE_PROJECT])
def test_the_smoke_test_passes_on_the_service_served_behind_its_nginx(
    installed_projects, answers, nginx, tmp_path
):
    project = installed_projects(answers)
    # The self-signed certificate is for localhost: the check addresses the service by that name.
    with serve_behind_nginx(project, tmp_path, nginx, DJANGO_ALLOWED_HOSTS="localhost") as ports:
        ca = str(tmp_path / "certs/fullchain.pem")
        result = smoke_check(
            project, f"https://localhost:{ports['https']}", SMOKE_CHECK_CA_BUNDLE=ca
        )

    assert result.returncode == 0, result.stderr
    assert "Smoke check passed" in result.stdout


@pytest.mark.parametrize("answers", [SMOKE_PROJECT])
@pytest.mark.parametrize(
    ("statuses", "named"),
    [({"/health/ready/": 503}, "/health/ready/: 503"), ({"/": 500}, "/: 500")],
    ids=["not-ready", "page-fails"],
)
def test_the_smoke_test_fails_naming_what_failed(installed_projects, answers, statuses, named):
    project = installed_projects(answers)
    with PublicSite(statuses) as site:
        result = smoke_check(project, site.url, **QUICK)

    assert result.returncode == 1
    assert named in result.stderr


@pytest.mark.parametrize("answers", [SMOKE_PROJECT])
def test_the_smoke_test_fails_when_nothing_answers(installed_projects, answers):
    project = installed_projects(answers)
    with PublicSite() as site:
        url = site.url  # closed on leaving: nothing listens there now

    result = smoke_check(project, url, **QUICK)

    assert result.returncode == 1
    assert "Connection refused" in result.stderr


# What the recording kubectl answers: the migration Job completes, and every Deployment is at
# revision 3 before the apply and 4 after it (the apply changed them all).
KUBECTL_ANSWERS = {
    "jsonpath={.status.conditions": "Complete",
    "annotations.deployment": "3 || 3 || 3 || 3 || 4",
}


def k8s_deploy(project, tmp_path, site, **answers):
    env = project.env(**QUICK) | fake_commands(tmp_path, "kubectl")
    lines = (KUBECTL_ANSWERS | answers).items()
    (tmp_path / "kubectl.answers").write_text("".join(f"{k}\t{v}\n" for k, v in lines))
    result = run(["make", "k8s-deploy", f"PUBLIC_URL={site.url}"], project.path, env, check=False)
    return result, recorded_calls(tmp_path)


def undone(calls):
    return [call[3:] for call in calls if call[1:3] == ["rollout", "undo"]]


@pytest.mark.parametrize("answers", KUBERNETES)
def test_k8s_deploy_keeps_a_rollout_that_passes_its_smoke_test(
    installed_projects, answers, tmp_path
):
    project = installed_projects(answers)
    with PublicSite() as site:
        result, calls = k8s_deploy(project, tmp_path, site)

    assert result.returncode == 0, result.stderr
    assert ["kubectl", "apply", "-k", "deploy/k8s"] in calls
    assert undone(calls) == []


@pytest.mark.parametrize("answers", KUBERNETES)
def test_k8s_deploy_rolls_every_deployment_back_when_the_smoke_test_fails(
    installed_projects, answers, tmp_path
):
    project = installed_projects(answers)
    with PublicSite({"/health/ready/": 503}) as site:
        result, calls = k8s_deploy(project, tmp_path, site)

    rolled_out = [call[3] for call in calls if call[1:3] == ["rollout", "status"]]
    assert result.returncode != 0
    assert "Rolled back" in result.stderr
    assert undone(calls) == [[deployment, "--to-revision=3"] for deployment in rolled_out]
    assert len(rolled_out) == 4  # web, both workers, beat


@pytest.mark.parametrize("answers", KUBERNETES)
def test_k8s_deploy_rolls_back_only_what_the_apply_changed(installed_projects, answers, tmp_path):
    """An unchanged Deployment's undo would go back one release further than it ran."""
    project = installed_projects(answers)
    web = f"deployment {project.image_name}-web --ignore-not-found"
    with PublicSite({"/health/ready/": 503}) as site:
        result, calls = k8s_deploy(
            project, tmp_path, site, **{web: "3 || 4", "annotations.deployment": "3"}
        )

    assert result.returncode != 0
    assert undone(calls) == [[f"deployment/{project.image_name}-web", "--to-revision=3"]]


@pytest.mark.parametrize("answers", KUBERNETES)
def test_k8s_deploy_rolls_nothing_out_when_the_migration_job_fails(
    installed_projects, answers, tmp_path
):
    project = installed_projects(answers)
    with PublicSite() as site:
        result, calls = k8s_deploy(
            project, tmp_path, site, **{"jsonpath={.status.conditions": "Failed"}
        )

    assert result.returncode != 0
    assert "The backup and migration Job failed" in result.stderr
    assert ["kubectl", "apply", "-k", "deploy/k8s"] not in calls


@pytest.mark.parametrize("answers", KUBERNETES)
def test_k8s_deploy_refuses_to_run_without_a_url_to_smoke_test(
    installed_projects, answers, tmp_path
):
    project = installed_projects(answers)
    env = project.env() | fake_commands(tmp_path, "kubectl")

    result = run(["make", "k8s-deploy"], project.path, env, check=False)

    assert result.returncode != 0
    assert "Set PUBLIC_URL" in result.stderr
    assert recorded_calls(tmp_path) == []  # nothing was applied


# What the recording aws answers scripts/deploy.sh: the commit's image is in ECR already, the
# services run revision 41 of their task definitions, the migrate task stops with exit code 0,
# and each rollout completes on the revision registered for it (42).
PREVIOUS = "arn:aws:ecs:eu-west-1:123456789012:task-definition/previous:41"
NEW = "arn:aws:ecs:eu-west-1:123456789012:task-definition/new:42"
AWS_ANSWERS = {
    "ecs register-task-definition": NEW,
    "ecs run-task": "arn:aws:ecs:eu-west-1:123456789012:task/migrate",
    "ecs describe-tasks": "0",
    "tasks[0].lastStatus": "STOPPED",
    "ecs describe-services": PREVIOUS,
    "deployments[?status==`PRIMARY`]": f"{NEW}\tCOMPLETED",
}


def ecs_deploy(project, tmp_path, site, source_image="", **answers):
    env = project.env(**QUICK, IMAGE_TAG="0123abc", PUBLIC_URL=site.url, SOURCE_IMAGE=source_image)
    variables = DEPLOY_VARIABLES["aws"] | STORAGE_VARIABLES["aws"]
    env |= {name: f"example-{name.lower()}" for name in variables}
    env |= fake_commands(tmp_path, "aws", "docker")
    lines = (AWS_ANSWERS | answers).items()
    (tmp_path / "aws.answers").write_text("".join(f"{k}\t{v}\n" for k, v in lines))
    result = run(["bash", "scripts/deploy.sh"], project.path, env, check=False)
    return result, recorded_calls(tmp_path)


def ecs_call(calls, *command):
    """The recorded aws calls of one command (e.g. "ecs", "update-service"), as option: value."""
    found = []
    for call in calls:
        if call[0] == "aws" and tuple(call[1 : 1 + len(command)]) == command:
            arguments = call[1 + len(command) :]
            found.append(dict(zip(arguments[::2], arguments[1::2], strict=False)))
    return found


@pytest.mark.parametrize("answers", ECS)
def test_ecs_deploy_backs_up_migrates_and_keeps_a_release_that_passes(
    installed_projects, answers, tmp_path
):
    project = installed_projects(answers)
    with PublicSite() as site:
        result, calls = ecs_deploy(project, tmp_path, site)

    [migrate] = ecs_call(calls, "ecs", "run-task")
    [override] = json.loads(migrate["--overrides"])["containerOverrides"]
    assert result.returncode == 0, result.stderr
    assert not [call for call in calls if call[0] == "docker"]  # in ECR already
    assert override["command"][-1].startswith("python scripts/backup.py backup /backups && ")
    assert override["command"][-1].endswith("exec python manage.py migrate --noinput")
    assert ecs_call(calls, "scheduler", "update-schedule")
    updates = ecs_call(calls, "ecs", "update-service")
    assert updates and all(update["--task-definition"] != PREVIOUS for update in updates)


@pytest.mark.parametrize("answers", ECS)
def test_ecs_deploy_puts_every_service_back_on_its_previous_revision_when_the_smoke_test_fails(
    installed_projects, answers, tmp_path
):
    project = installed_projects(answers)
    with PublicSite({"/health/ready/": 503}) as site:
        result, calls = ecs_deploy(project, tmp_path, site)

    updates = ecs_call(calls, "ecs", "update-service")
    rolled_out = [u["--service"] for u in updates if u["--task-definition"] != PREVIOUS]
    rolled_back = [u["--service"] for u in updates if u["--task-definition"] == PREVIOUS]
    assert result.returncode == 1
    assert "Rolled back" in result.stderr
    assert rolled_back == rolled_out
    assert "cafe-orders-web" in rolled_back


@pytest.mark.parametrize("answers", ECS)
def test_ecs_deploy_fails_and_rolls_back_when_the_circuit_breaker_rolled_a_service_back(
    installed_projects, answers, tmp_path
):
    """After the circuit breaker's rollback the service looks stable again: only its primary
    deployment's task definition (the previous one) says the new release never started."""
    project = installed_projects(answers)
    with PublicSite() as site:
        result, calls = ecs_deploy(
            project, tmp_path, site, **{"deployments[?status==`PRIMARY`]": f"{PREVIOUS}\tCOMPLETED"}
        )

    updates = ecs_call(calls, "ecs", "update-service")
    assert result.returncode == 1
    assert "rolled back by the circuit breaker" in result.stderr
    assert [u["--service"] for u in updates if u["--task-definition"] == PREVIOUS]


@pytest.mark.parametrize("answers", ECS)
def test_ecs_deploy_copies_the_image_ci_signed_instead_of_building_one(
    installed_projects, answers, tmp_path
):
    project = installed_projects(answers)
    signed = "ghcr.io/example/orders@sha256:" + "0" * 64
    with PublicSite() as site:
        result, calls = ecs_deploy(
            project, tmp_path, site, source_image=signed, **{"ecr describe-images": "exit 1"}
        )

    docker = [call[1:] for call in calls if call[0] == "docker" and call[1] != "login"]
    target = "example-aws_account_id.dkr.ecr.example-aws_region.amazonaws.com/cafe-orders:0123abc"
    assert result.returncode == 0, result.stderr
    assert docker == [["pull", signed], ["tag", signed, target], ["push", target]]  # no build
