"""Every combination of answers renders a project that lints clean and passes its own tests
against the real services it chose."""

import json
import re
import tomllib

import pytest
import yaml

from extensions.context import derive

from .matrix import DEFAULTS, PROJECTS, QUESTIONS, combination_id

pytestmark = pytest.mark.parametrize("project", PROJECTS, indirect=True)


def template_variable_names():
    """Every name a template can use: the questions, and what extensions/context.py derives."""
    answers = {
        "project_slug": "x",
        "domain_name": "x.example.com",
        "database": "sqlite",
        "cache": "none",
        "background_tasks": "celery",
    }
    derived = derive(DEFAULTS | answers)
    return set(QUESTIONS) | set(derived) | {"_copier_conf", "_copier_answers", "_copier_python"}


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


def test_a_projects_tests_share_the_worker_that_installed_it(request, project):
    """pytest-xdist's loadgroup keeps each project's tests on one worker, so it is rendered,
    installed and given a database once, and never by two workers at the same time."""
    if not hasattr(request.config, "workerinput"):
        pytest.skip("running without pytest-xdist")

    assert request.node.nodeid.endswith(
        "@" + combination_id(request.node.callspec.params["project"])
    )
