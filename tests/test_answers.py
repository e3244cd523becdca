"""Bad answers fail before anything is written, with a message that says what is allowed."""

import subprocess
import sys

import pexpect
import pytest

from extensions.filters import slugify

CLEAR_LINE = "\x15"  # Ctrl-U: the prompt is pre-filled with the default
INVALID_ANSWERS = [
    ("project_name", "", "must not be empty"),
    ("project_name", "   ", "must not be empty"),
    ("author_name", "", "must not be empty"),
    ("project_slug", "", "lowercase letters, digits and underscores"),
    ("project_slug", "Orders", "lowercase letters, digits and underscores"),
    ("project_slug", "my-service", "lowercase letters, digits and underscores"),
    ("project_slug", "1st_service", "starting with a letter or underscore"),
    ("project_slug", "café", "lowercase letters, digits and underscores"),
    ("project_slug", "a" * 31, "1 to 30"),
    ("project_slug", "class", "is a Python keyword"),
    ("project_slug", "match", "is a Python keyword"),
    ("project_slug", "django", "would shadow a module"),
    ("project_slug", "test", "would shadow a module"),
    ("project_slug", "config", "would shadow a module"),
    ("project_slug", "site", "would shadow a module"),
    ("project_slug", "email", "would shadow a module"),
    ("project_slug", "logging", "would shadow a module"),
    ("project_slug", "json", "would shadow a module"),
    ("project_slug", "typing", "would shadow a module"),
    ("author_email", "not-an-email", "is not a valid email address"),
    ("author_email", "team@", "is not a valid email address"),
    ("author_email", "team@localhost", "is not a valid email address"),
    ("author_email", "a b@example.com", "is not a valid email address"),
    ("domain_name", "https://api.example.com", "is not a valid hostname"),
    ("domain_name", "api.example.com:8000", "is not a valid hostname"),
    ("domain_name", "api.example.com/v1", "is not a valid hostname"),
    ("domain_name", "localhost", "is not a valid hostname"),
    ("domain_name", "-api.example.com", "is not a valid hostname"),
    ("domain_name", "api..example.com", "is not a valid hostname"),
    ("domain_name", "API.example.com", "is not a valid hostname"),
    ("python_version", "3.11", "'3.11' is not in ['3.12', '3.13', '3.14']"),
    ("database", "oracle", "'oracle' is not in ['postgresql', 'mysql', 'sqlite']"),
    ("cache", "varnish", "'varnish' is not in ['redis', 'memcached', 'database', 'none']"),
    ("background_tasks", "rq", "'rq' is not in ['django_tasks', 'celery', 'none']"),
    ("observability", "[datadog]", "'datadog' is not in ['sentry', 'opentelemetry', 'prometheus']"),
    ("observability", "sentry", "Not a YAML list: 'sentry'"),
    ("api", "graphql", "'graphql' is not in ['drf', 'ninja', 'none']"),
    ("cloud", "heroku", "'heroku' is not in ['none', 'aws', 'gcp', 'azure']"),
]


def copier_copy(template, destination, *data):
    arguments = [arg for pair in data for arg in ("-d", pair)]
    command = [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--vcs-ref=HEAD"]
    return subprocess.run(
        [*command, *arguments, str(template), str(destination)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("question", "answer", "message"),
    INVALID_ANSWERS,
    ids=[f"{question}={answer!r}"[:40] for question, answer, _ in INVALID_ANSWERS],
)
def test_invalid_answer_fails_with_a_clear_message_and_writes_nothing(
    template_snapshot, tmp_path, question, answer, message
):
    destination = tmp_path / "service"
    data = [f"{question}={answer}"]
    if question != "project_name":
        data.insert(0, "project_name=Orders")

    result = copier_copy(template_snapshot, destination, *data)

    assert result.returncode != 0
    assert message in result.stderr
    assert not destination.exists()


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
