"""The answer sets the template is tested with, written out in full: each is rendered, installed
and tested as a project of its own (test_projects.py), and the other modules pick from them."""

import importlib

import pytest
import yaml
from jinja2 import Environment, StrictUndefined, UndefinedError

from .helpers import TEMPLATE_DIR

COMBINATIONS = [
    # Every database with every cache (SQLite without a cache is the minimal preset, further down);
    # each observability choice alone beside the default (prometheus); each API on each database;
    # each cloud against its local emulator (moto, gcp-storage-emulator, Azurite).
    #
    # The default answers: SMOKE_ANSWERS, also served by gunicorn in test_smoke.py.
    {
        "project_name": "Café Orders",
        "database": "postgresql",
        "cache": "redis",
    },
    # Sentry beside Prometheus; DRF; AWS.
    {
        "project_name": "Café Orders",
        "database": "postgresql",
        "cache": "memcached",
        "observability": ["sentry", "prometheus"],
        "api": "drf",
        "cloud": "aws",
    },
    # Django Ninja on PostgreSQL.
    {
        "project_name": "Café Orders",
        "database": "postgresql",
        "cache": "database",
        "api": "ninja",
    },
    # Without the example app.
    {
        "project_name": "Café Orders",
        "database": "postgresql",
        "cache": "none",
        "example_app": False,
    },
    # OpenTelemetry alone.
    {
        "project_name": "Café Orders",
        "database": "mysql",
        "cache": "redis",
        "observability": ["opentelemetry"],
    },
    # DRF on MySQL.
    {
        "project_name": "Café Orders",
        "database": "mysql",
        "cache": "memcached",
        "api": "drf",
    },
    # Django Ninja on MySQL; Google Cloud.
    {
        "project_name": "Café Orders",
        "database": "mysql",
        "cache": "database",
        "api": "ninja",
        "cloud": "gcp",
    },
    # Sentry alone.
    {
        "project_name": "Café Orders",
        "database": "mysql",
        "cache": "none",
        "observability": ["sentry"],
    },
    # OpenTelemetry beside Prometheus.
    {
        "project_name": "Café Orders",
        "database": "sqlite",
        "cache": "redis",
        "observability": ["opentelemetry", "prometheus"],
    },
    # DRF on SQLite.
    {
        "project_name": "Café Orders",
        "database": "sqlite",
        "cache": "memcached",
        "api": "drf",
    },
    # Django Ninja on SQLite, under ASGI with the database cache (sync reads); without the custom
    # user model.
    {
        "project_name": "Café Orders",
        "database": "sqlite",
        "cache": "database",
        "api": "ninja",
        "custom_user_model": False,
        "asgi": True,
    },
    # Every other answer at a non-default value, with text that needs escaping everywhere; Azure.
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

# The default answers (the first set above).
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


# Tests of one project run on the xdist worker that installed it (--dist loadgroup).
PROJECTS = [
    pytest.param(
        answers, id=combination_id(answers), marks=pytest.mark.xdist_group(combination_id(answers))
    )
    for answers in COMBINATIONS
]
# The default answers' project.
SMOKE_PROJECT = PROJECTS[0]

# Projects of their own whose example apps test_example_apps.py deletes: Django tasks with DRF,
# and Celery with Ninja and OpenTelemetry (its task worker imports config.telemetry).
TRIMMED = [
    {"project_name": "Trimmed Orders", "database": "postgresql", "cache": "redis", "api": "drf"},
    {
        "project_name": "Trimmed Kitchen",
        "database": "mysql",
        "cache": "redis",
        "background_tasks": "celery",
        "task_broker": "redis",
        "observability": ["opentelemetry", "prometheus"],
        "api": "ninja",
    },
]
TRIMMED_PROJECTS = [
    pytest.param(
        answers, id=answers["project_name"], marks=pytest.mark.xdist_group(answers["project_name"])
    )
    for answers in TRIMMED
]

COPIER_YML = yaml.safe_load((TEMPLATE_DIR / "copier.yml").read_text())
QUESTIONS = {name: question for name, question in COPIER_YML.items() if not name.startswith("_")}


def template_extensions():
    """The Jinja extensions copier.yml names by file (extensions/filters.py:FoundryFilters, ...)."""
    for entry in COPIER_YML["_jinja_extensions"]:
        path, _, name = entry.partition(":")
        if path.endswith(".py"):
            yield getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), name)


# Copier's Jinja, and what a default sees when `copier copy` makes a new project: no answers file.
JINJA = Environment(extensions=list(template_extensions()), undefined=StrictUndefined)
NEW_PROJECT = {"_copier_conf": {"dst_path": "/nonexistent", "answers_file": ".copier-answers.yml"}}


def new_project_default(question):
    """A question's default as `copier copy` gives it to a new project: copier.yml's value, or its
    Jinja rendered (a question added after a release defaults to the old behaviour only when a
    project updates). UndefinedError when it is derived from another answer (the slug, ...)."""
    default = question["default"]
    if not (isinstance(default, str) and "{{" in default):
        return default
    text = JINJA.from_string(default).render(NEW_PROJECT)
    # As Copier reads a rendered default: YAML for a yes/no or a list, as written for a string.
    if question["type"] == "bool" or question.get("multiselect"):
        return yaml.safe_load(text)
    return text


def copier_defaults():
    defaults = {}
    for name, question in QUESTIONS.items():
        if "default" not in question:
            continue
        try:
            defaults[name] = new_project_default(question)
        except UndefinedError:
            continue
    return defaults


# Copier's defaults for the answers COMBINATIONS leave out.
DEFAULTS = copier_defaults()


def projects_where(**answers):
    """The PROJECTS params whose answers (with Copier's defaults) match."""
    return [
        param
        for param in PROJECTS
        if all((DEFAULTS | param.values[0]).get(k) == v for k, v in answers.items())
    ]


# The APIs served under gunicorn: DRF (sync), Django Ninja under ASGI with async reads, and with
# the database cache (sync reads). test_api.py's rate limits are tested on the first.
API_PROJECTS = [
    projects_where(api="drf", database="postgresql", asgi=False)[0],
    projects_where(api="ninja", asgi=True, cache="redis")[0],  # async reads
    projects_where(api="ninja", asgi=True, cache="database")[0],
]


def answer_values(answers):
    """Each (question, value) pair of a project's answers, Copier's defaults included, for the
    questions Copier asks it; every option of a multiselect counts, and none at all is a value
    too."""
    answers = DEFAULTS | answers
    values = set()
    for name, question in QUESTIONS.items():
        if "choices" not in question and question["type"] != "bool":
            continue  # free text: every project has some
        if "when" in question and JINJA.from_string(question["when"]).render(answers) != "True":
            continue  # not asked: the answer changes nothing
        if question.get("multiselect"):
            values |= {(name, option) for option in answers[name]} or {(name, "none")}
        elif name in answers:
            values.add((name, str(answers[name])))
    return values


def every_value_once(params):
    """The fewest params (greedily) that together give every question each value it has in
    params: for what depends on each answer alone, not on how answers combine."""
    wanted = set().union(*(answer_values(param.values[0]) for param in params))
    chosen, covered = [], set()
    while covered != wanted:
        best = max(params, key=lambda param: len(answer_values(param.values[0]) - covered))
        chosen.append(best)
        covered |= answer_values(best.values[0])
    return chosen


EVERY_VALUE_ONCE = every_value_once(PROJECTS)
