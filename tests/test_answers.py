"""Bad input is refused with a message that says what was wrong and what is allowed: answers
before anything is written, production environment values before the service starts."""

import subprocess
import sys
from dataclasses import dataclass

import pexpect
import pytest

from extensions.filters import slugify

from .matrix import SMOKE_ANSWERS, combination_id

CLEAR_LINE = "\x15"  # Ctrl-U: the prompt is pre-filled with the default


@dataclass(frozen=True)
class Answer:
    """An answer to `copier copy -d question=value`: refused before anything is written."""

    question: str
    value: str
    message: str


@dataclass(frozen=True)
class Environment:
    """A production environment value: the default project refuses to start, naming it."""

    name: str
    value: str
    message: str


A, E = Answer, Environment
BAD_INPUTS = [
    A("project_name", "", "must not be empty"),
    A("project_name", "   ", "must not be empty"),
    A("author_name", "", "must not be empty"),
    A("project_slug", "", "lowercase letters, digits and underscores"),
    A("project_slug", "Orders", "lowercase letters, digits and underscores"),
    A("project_slug", "my-service", "lowercase letters, digits and underscores"),
    A("project_slug", "1st_service", "starting with a letter"),
    A("project_slug", "café", "lowercase letters, digits and underscores"),
    A("project_slug", "a" * 31, "1 to 30"),
    A("project_slug", "class", "is a Python keyword"),
    A("project_slug", "match", "is a Python keyword"),
    A("project_slug", "django", "would shadow a module"),
    A("project_slug", "test", "would shadow a module"),
    A("project_slug", "config", "would shadow a module"),
    A("project_slug", "site", "would shadow a module"),
    A("project_slug", "email", "would shadow a module"),
    A("project_slug", "logging", "would shadow a module"),
    A("project_slug", "json", "would shadow a module"),
    A("project_slug", "typing", "would shadow a module"),
    A("author_email", "not-an-email", "is not a valid email address"),
    A("author_email", "team@", "is not a valid email address"),
    A("author_email", "team@localhost", "is not a valid email address"),
    A("author_email", "a b@example.com", "is not a valid email address"),
    A("domain_name", "https://api.example.com", "is not a valid hostname"),
    A("domain_name", "api.example.com:8000", "is not a valid hostname"),
    A("domain_name", "api.example.com/v1", "is not a valid hostname"),
    A("domain_name", "localhost", "is not a valid hostname"),
    A("domain_name", "-api.example.com", "is not a valid hostname"),
    A("domain_name", "api..example.com", "is not a valid hostname"),
    A("domain_name", "API.example.com", "is not a valid hostname"),
    A("python_version", "3.11", "'3.11' is not in ['3.12', '3.13', '3.14']"),
    A("database", "oracle", "'oracle' is not in ['postgresql', 'mysql', 'sqlite']"),
    A("cache", "varnish", "'varnish' is not in ['redis', 'memcached', 'database', 'none']"),
    A("background_tasks", "rq", "'rq' is not in ['django_tasks', 'celery', 'none']"),
    A(
        "observability",
        "[datadog]",
        "'datadog' is not in ['sentry', 'opentelemetry', 'prometheus']",
    ),
    A("observability", "sentry", "Not a YAML list: 'sentry'"),
    A("api", "graphql", "'graphql' is not in ['drf', 'ninja', 'none']"),
    A("cloud", "heroku", "'heroku' is not in ['none', 'aws', 'gcp', 'azure']"),
    A("project_slug", "_private", "starting with a letter"),
    A("project_name", "Two\nlines", "holds a line break or another control character"),
    A("description", "Tab\tseparated", "holds a line break or another control character"),
    A("author_name", "  ", "must not be empty"),
    A("asgi", "maybe", "asgi='maybe' is not a yes/no answer"),
    A("kubernetes", "fasle", "kubernetes='fasle' is not a yes/no answer"),
    A("example_app", "2", "example_app='2' is not a yes/no answer"),
    A("custom_user_model", "sure", "custom_user_model='sure' is not a yes/no answer"),
    A("pgbouncer", "yes", "pgbouncer='yes' does not apply here"),  # with database=sqlite
    A("task_broker", "rabbitmq", "task_broker='rabbitmq' does not apply here"),
    A("observability", "datadog", "Not a YAML list: 'datadog'"),
    # Production settings of the default project (PostgreSQL, Redis, Django tasks, Prometheus).
    E("DATABASE_URL", "notaurl", "DATABASE_URL='notaurl' is not valid: expected a database URL"),
    E("DATABASE_URL", "oracle2://u:p@db/x", "expected a database URL such as postgres://"),
    E("DATABASE_URL", "postgres://", "DATABASE_URL='postgres://' is not valid"),
    E("DATABASE_URL", "mysql://root@db:3306/x", "expected a database URL such as postgres://"),
    E("DATABASE_URL", "postgres://u:s3cret@db:port/x", "postgres://u:***@db:port/x"),
    E("DATABASE_URL", "postgres://u:s3cret@[db/x", "DATABASE_URL='[db/x' is not valid"),
    E("DATABASE_SSLMODE", "required", "expected one of disable, allow, prefer, require"),
    E("DATABASE_TIMEOUT", "5s", "DATABASE_TIMEOUT='5s' is not valid: expected a whole number"),
    E("DATABASE_TIMEOUT", "1", "expected a whole number from 2 to 600"),
    E("DATABASE_POOL_MAX_SIZE", "0", "DATABASE_POOL_MAX_SIZE='0' is not valid"),
    E("CACHE_URL", "notaurl", "CACHE_URL='notaurl' is not valid: expected a URL such as redis://"),
    E("CACHE_URL", "memcached://cache:11211", "expected a URL such as redis://"),
    E("DJANGO_SECRET_KEY", "abc", "DJANGO_SECRET_KEY is weak or a placeholder"),
    E("DJANGO_SECRET_KEY", "changeme", "DJANGO_SECRET_KEY is weak or a placeholder"),
    E("DJANGO_SECRET_KEY", "django-insecure-" + "x1y2z3" * 10, "is weak or a placeholder"),
    E("DJANGO_SECRET_KEY", "ab" * 40, "DJANGO_SECRET_KEY is weak or a placeholder"),
    E("DJANGO_ALLOWED_HOSTS", "*", "expected comma-separated hostnames, without *"),
    E("DJANGO_ALLOWED_HOSTS", "example.com,*", "expected comma-separated hostnames, without *"),
    E("DJANGO_CSRF_TRUSTED_ORIGINS", "example.com", "expected comma-separated origins"),
    E("DJANGO_ADMIN_URL", "/admin", "DJANGO_ADMIN_URL='/admin' is not valid: expected a URL path"),
    E("DJANGO_LOG_LEVEL", "VERBOSE", "expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    E("HEALTH_CHECK_TIMEOUT", "abc", "HEALTH_CHECK_TIMEOUT='abc' is not valid: expected a number"),
    E("HEALTH_CHECK_TIMEOUT", "nan", "HEALTH_CHECK_TIMEOUT='nan' is not valid"),
    E("TASK_TIME_LIMIT", "10", "TASK_TIME_LIMIT='10' is not valid"),
    E("TASK_RETENTION_DAYS", "-1", "TASK_RETENTION_DAYS='-1' is not valid"),
    E("EMAIL_PORT", "70000", "EMAIL_PORT='70000' is not valid"),
    E("EMAIL_USE_TLS", "maybe", "EMAIL_USE_TLS='maybe' is not valid: expected true or false"),
    E("NUM_PROXIES", "-1", "NUM_PROXIES='-1' is not valid"),
    E("LOGIN_RATE_LIMIT", "5 per minute", "expected a rate such as 5/min"),
    E("METRICS_PORT", "metrics", "METRICS_PORT='metrics' is not valid"),
    # gunicorn.conf.py, read by `uv run gunicorn` before Django.
    E("PORT", "99999", "PORT='99999' is not valid: expected a whole number"),
    E("GUNICORN_WORKERS", "0", "GUNICORN_WORKERS='0' is not valid"),
    E("GUNICORN_TIMEOUT", "abc", "GUNICORN_TIMEOUT='abc' is not valid"),
    E("GUNICORN_MAX_REQUESTS", "-5", "GUNICORN_MAX_REQUESTS='-5' is not valid"),
]
GUNICORN_VARIABLES = {"PORT", "GUNICORN_WORKERS", "GUNICORN_TIMEOUT", "GUNICORN_MAX_REQUESTS"}


def copier_copy(template, destination, *data):
    arguments = [arg for pair in data for arg in ("-d", pair)]
    command = [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--vcs-ref=HEAD"]
    return subprocess.run(
        [*command, *arguments, str(template), str(destination)],
        capture_output=True,
        text=True,
        timeout=120,
    )


# The production settings values of the table: the default project imports its settings with
# each, all in one interpreter (startup_errors, conftest.py).
SETTINGS_VALUES = [
    (bad.name, bad.value)
    for bad in BAD_INPUTS
    if isinstance(bad, Environment) and bad.name not in GUNICORN_VARIABLES
]


def bad_input_param(bad):
    """Answers need nothing installed; environment values run on the default project's worker."""
    name = bad.question if isinstance(bad, Answer) else bad.name
    marks = (
        [] if isinstance(bad, Answer) else [pytest.mark.xdist_group(combination_id(SMOKE_ANSWERS))]
    )
    return pytest.param(bad, id=f"{name}={bad.value!r}"[:40], marks=marks)


@pytest.mark.parametrize("bad", [bad_input_param(bad) for bad in BAD_INPUTS])
def test_bad_input_is_refused_with_a_clear_message(bad, template_snapshot, tmp_path, request):
    if isinstance(bad, Answer):
        destination = tmp_path / "service"
        data = [f"{bad.question}={bad.value}"]
        if bad.question != "project_name":
            data.insert(0, "project_name=Orders")
        if bad.question == "pgbouncer":
            data.insert(0, "database=sqlite")

        result = copier_copy(template_snapshot, destination, *data)

        assert result.returncode != 0
        assert bad.message in result.stderr
        assert not destination.exists()
    elif bad.name in GUNICORN_VARIABLES:
        project = request.getfixturevalue("installed_projects")(SMOKE_ANSWERS)
        env = project.production_env(**{bad.name: bad.value})

        result = project.uv("gunicorn", "--check-config", env=env, check=False)

        assert result.returncode != 0
        assert bad.message in result.stderr.strip().splitlines()[-1]
    else:
        errors = request.getfixturevalue("startup_errors")(SETTINGS_VALUES)
        error = errors[f"{bad.name}={bad.value}"]

        assert error.startswith("ImproperlyConfigured: ")
        assert bad.message in error
        assert "s3cret" not in error


def test_the_table_of_bad_inputs_holds_answers_and_environment_values():
    kinds = {type(bad) for bad in BAD_INPUTS}

    assert kinds == {Answer, Environment}
    assert len(BAD_INPUTS) >= 40


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Café Orders", "cafe_orders"),
        ("Kitchen Display System", "kitchen_display_system"),
        ("3D Printing", "service_3d_printing"),
        ("Class", "class_service"),
        ("Django", "django_service"),
        ("Ünïcödé—Ω", "unicode"),
        ("日本語", "service"),
        ("A very long project name that keeps going on", "a_very_long_project_name_that"),
    ],
)
def test_the_default_slug_is_a_valid_package_name(template_snapshot, tmp_path, name, slug):
    assert slugify(name) == slug

    result = copier_copy(template_snapshot, tmp_path / "service", f"project_name={name}")

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "service" / slug / "health" / "checks.py").is_file()


def test_the_prompt_refuses_an_invalid_answer_until_it_is_fixed(template_snapshot, tmp_path):
    destination = tmp_path / "service"
    command = ["-m", "copier", "copy", "--trust", "--vcs-ref=HEAD", str(template_snapshot)]
    prompt = pexpect.spawn(
        sys.executable,
        [*command, str(destination)],
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 400),
    )
    prompt.expect("Human-readable name")
    prompt.sendline("Café Orders")
    prompt.expect("Python package name")
    prompt.send(CLEAR_LINE)
    prompt.sendline("class")
    prompt.expect("is a Python keyword")  # shown under the prompt, which stays open
    prompt.send(CLEAR_LINE)
    prompt.sendline("cafe_orders")
    prompt.expect("One sentence")  # accepted: on to the next question

    prompt.sendcontrol("c")
    prompt.expect(pexpect.EOF)
    prompt.close()

    assert prompt.exitstatus != 0
    assert not destination.exists()
