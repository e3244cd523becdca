"""Every combination of answers renders a project that lints clean and passes its own tests
against the real services it chose."""

import json
import os
import re
import signal
import subprocess
import tomllib
import urllib.request

import pytest
import yaml

from extensions.context import DerivedContext

from .conftest import TEMPLATE_DIR, clean_environment, free_port, run, wait_until_listening

COPIER_YML = TEMPLATE_DIR / "copier.yml"

DATABASES = ["postgresql", "mysql", "sqlite"]
CACHES = ["redis", "memcached", "database", "none"]
# Every database with every cache; SQLite without a cache is the minimal preset (further down),
# a service with no background work, monitoring, API or example app at all.
COMBINATIONS = [
    {"project_name": "Café Orders", "database": database, "cache": cache}
    for database in DATABASES
    for cache in CACHES
    if (database, cache) != ("sqlite", "none")
]
# Each observability choice alone, beside the default (prometheus) and all three further down.
COMBINATIONS[1]["observability"] = ["sentry", "prometheus"]  # postgresql, memcached
COMBINATIONS[4]["observability"] = ["opentelemetry"]  # mysql, redis
COMBINATIONS[7]["observability"] = ["sentry"]  # mysql, none
COMBINATIONS[8]["observability"] = ["opentelemetry", "prometheus"]  # sqlite, redis
# Each API on each database; the example app and the custom user model left out once each.
for index, api in [(1, "drf"), (5, "drf"), (9, "drf"), (2, "ninja"), (6, "ninja"), (10, "ninja")]:
    COMBINATIONS[index]["api"] = api
COMBINATIONS[3]["example_app"] = False  # postgresql, none
COMBINATIONS[10]["custom_user_model"] = False  # sqlite, database, ninja
COMBINATIONS[10]["asgi"] = True  # Ninja under ASGI with the database cache: sync reads
# Each cloud, its storage and secret manager run against a local emulator (Azure further down).
COMBINATIONS[1]["cloud"] = "aws"  # postgresql, memcached, drf, django_tasks
COMBINATIONS[6]["cloud"] = "gcp"  # mysql, database, ninja, django_tasks
COMBINATIONS += [
    # Every other answer at a non-default value, with text that needs escaping everywhere.
    {
        "project_name": 'Kitchen "Display" <Board> & Co 🍳 {{ 7*7 }}',
        "project_slug": "kitchen_display",
        "description": 'Shows orders "live" & <fast>; C:\\path',
        "author_name": "Zoë O'Brien",
        "author_email": "kitchen+ops@example.org",
        "domain_name": "kds.internal.example.org",
        "python_version": "3.12",
        "database": "postgresql",
        "cache": "redis",
        "asgi": True,
        "background_tasks": "celery",
        "task_broker": "redis",
        "observability": ["sentry", "opentelemetry", "prometheus"],
        "api": "ninja",
        "cloud": "azure",
    },
    # The delivery answers that change what is rendered: PgBouncer, Kubernetes, each CI.
    {
        "project_name": "Pooled Orders",
        "database": "postgresql",
        "cache": "redis",
        "pgbouncer": True,
        "kubernetes": True,
        "ci": "gitlab",
        "background_tasks": "celery",
        "task_broker": "rabbitmq",
        "observability": ["opentelemetry", "prometheus"],
        "api": "drf",
    },
    {
        "project_name": "Plain Orders",
        "database": "mysql",
        "cache": "memcached",
        "kubernetes": True,
        "ci": "none",
        # ASGI with Celery and DRF: one of the images test_image.py builds.
        "asgi": True,
        "background_tasks": "celery",
        "task_broker": "redis",
        "api": "drf",
        "observability": ["sentry", "opentelemetry"],
    },
]

# The presets teams start from (presets/*.yml): each is a project of its own here.
PRESETS = {
    path.stem: yaml.safe_load(path.read_text())
    for path in sorted((TEMPLATE_DIR / "presets").glob("*.yml"))
}
COMBINATIONS += [{"project_name": f"Preset {name}", **answers} for name, answers in PRESETS.items()]

# The default answers: also served by gunicorn in test_smoke.py.
SMOKE_ANSWERS = COMBINATIONS[0]


def combination_id(answers):
    parts = [answers["database"], answers["cache"], answers.get("python_version", "3.13")]
    parts += [name for name in ("pgbouncer", "kubernetes", "asgi") if answers.get(name)]
    if "background_tasks" in answers:
        parts.append(answers["background_tasks"])
    if "task_broker" in answers:
        parts.append(answers["task_broker"])
    if "observability" in answers:
        parts.append("obs=" + "+".join(answers["observability"]))
    if "api" in answers:
        parts.append(f"api={answers['api']}")
    if "cloud" in answers:
        parts.append(f"cloud={answers['cloud']}")
    parts += [f"no-{name}" for name in ("example_app", "custom_user_model") if name in answers]
    return "-".join(parts + ([f"ci={answers['ci']}"] if "ci" in answers else []))


PROJECTS = [
    pytest.param(
        answers, id=combination_id(answers), marks=pytest.mark.xdist_group(combination_id(answers))
    )
    for answers in COMBINATIONS
]

# Copier's defaults for the answers COMBINATIONS leave out.
DEFAULTS = {
    "ci": "github",
    "kubernetes": False,
    "pgbouncer": False,
    "asgi": False,
    "background_tasks": "django_tasks",
    "observability": ["prometheus"],
    "api": "none",
    "example_app": True,
    "custom_user_model": True,
    "cloud": "none",
}


def projects_where(**answers):
    """The PROJECTS params whose answers (with Copier's defaults) match."""
    return [
        param
        for param in PROJECTS
        if all((DEFAULTS | param.values[0]).get(k) == v for k, v in answers.items())
    ]


def template_variable_names():
    """Every name a template can use: the questions, and what extensions/context.py derives."""
    questions = {
        name for name in yaml.safe_load(COPIER_YML.read_text()) if not name.startswith("_")
    }
    context = {
        "project_slug": "x",
        "python_version": "3.13",
        "database": "sqlite",
        "cache": "none",
        "background_tasks": "celery",
    }
    DerivedContext.hook(None, context)
    return questions | set(context) | {"_copier_conf", "_copier_answers", "_copier_python"}


# Python code may contain "}}" (nested dicts) or "{{" (str.format): residue is a Jinja tag, or an
# expression that names one of the template's variables.
JINJA_TAG = re.compile(r"{%-?\s*(if|elif|else|endif|for|endfor|raw|endraw|set|include)\b|{#")
JINJA_EXPRESSION = re.compile(r"{{-?\s*(" + "|".join(sorted(template_variable_names())) + r")\b")


def has_residue(path, relative):
    if "{{" in str(relative) or "{%" in str(relative) or path.suffix == ".jinja":
        return True
    if not path.is_file():
        return False
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return False  # a database or archive the tests created, not a rendered file
    # Django templates keep their own tags; only our variables would be residue there.
    tag_residue = path.suffix != ".html" and JINJA_TAG.search(text)
    return bool(tag_residue or JINJA_EXPRESSION.search(text))


@pytest.fixture(params=PROJECTS)
def project(request, installed_projects):
    return installed_projects(request.param)


def test_no_jinja_is_left_in_any_file_or_name(project):
    leftovers = []
    for path in project.path.rglob("*"):
        relative = path.relative_to(project.path)
        if relative.parts[0] in {".venv", ".pytest_cache", ".ruff_cache", "staticfiles"}:
            continue
        if has_residue(path, relative):
            leftovers.append(str(relative))
    assert not leftovers


def test_every_toml_yaml_and_json_file_parses(project):
    """Names with quotes, emoji and braces are data in every file format (the Kitchen project's
    name has all of them)."""
    parsers = {
        ".toml": tomllib.loads,
        ".yml": lambda text: list(yaml.safe_load_all(text)),
        ".yaml": lambda text: list(yaml.safe_load_all(text)),
        ".json": json.loads,
    }
    files = [
        path
        for path in project.path.rglob("*")
        if path.suffix in parsers and ".venv" not in path.parts and "staticfiles" not in path.parts
    ]

    for path in files:
        parsers[path.suffix](path.read_text(encoding="utf-8"))
    assert project.path / "pyproject.toml" in files


# The Makefile targets these tests run; the rendered CI pipelines may call only these.
MAKE_TARGETS_TESTED = {
    "lint",
    "typecheck",
    "test",
    "migrations",
    "check-deploy",
    "image-smoke",  # in test_image.py, with podman
    "template-check",  # these two in test_updates.py
    "template-update",
}


def test_make_lint_passes(project):
    """ruff check and ruff format --check."""
    project.make("lint")


def test_make_typecheck_passes(project):
    """mypy with django-stubs."""
    project.make("typecheck")


def test_project_test_suite_passes_against_real_services(project):
    result = project.make("test")

    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary
    # With every service present, nothing may be skipped.
    assert "skipped" not in summary, result.stdout[-3000:]


def test_production_deploy_check_reports_no_issues(project):
    result = project.make("check-deploy", env=project.production_env())

    assert "System check identified no issues (0 silenced)." in result.stdout


def test_migrations_match_the_models(project):
    project.make("migrations")


def newcomer_environment():
    """What a newcomer has right after `copier copy`: no DATABASE_URL, CACHE_URL,
    CELERY_BROKER_URL, DJANGO_SETTINGS_MODULE or cloud variable; only the project's .env."""
    return clean_environment()


@pytest.fixture
def newcomer_database(project):
    """The SQLite file the development fallback creates in the project: gone afterwards."""
    yield project.path / "db.sqlite3"
    (project.path / "db.sqlite3").unlink(missing_ok=True)


def test_readme_run_commands_work_with_no_services(project, newcomer_database):
    """The README's "Run it" line as written (the test picks runserver's port), then probes."""
    [command] = project.readme_commands("Run it")
    assert command.endswith("manage.py runserver")
    env = newcomer_environment()
    check = project.uv("python", "manage.py", "check", env=env)
    assert "System check identified no issues" in check.stdout

    port = free_port()
    server = subprocess.Popen(
        ["bash", "-c", f"{command} --noreload 127.0.0.1:{port}"],
        cwd=project.path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # one process group: uv, manage.py and runserver stop together
    )
    try:
        wait_until_listening(port, server, "migrate && runserver", timeout=120)
        home = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10)
        ready = urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready/", timeout=10)
        assert home.status == 200
        assert ready.status == 200
        assert newcomer_database.is_file()  # migrate ran on the fallback SQLite database
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_readme_test_command_passes_with_no_services(project, newcomer_database):
    """The README's "Test it" command as written: green, and every skip says why."""
    [command] = project.readme_commands("Test it")
    assert command == "uv run pytest"

    result = run(["bash", "-c", command], project.path, newcomer_environment(), check=False)

    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "error" not in summary, summary
    skips = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert all(re.match(r"SKIPPED \[\d+\] \S+:\d+: \S", line) for line in skips), skips


def test_a_projects_tests_share_the_worker_that_installed_it(request, project):
    """pytest-xdist's loadgroup keeps each project's tests on one worker, so it is rendered,
    installed and given a database once, and never by two workers at the same time."""
    if not hasattr(request.config, "workerinput"):
        pytest.skip("running without pytest-xdist")

    assert request.node.nodeid.endswith(
        "@" + combination_id(request.node.callspec.params["project"])
    )
