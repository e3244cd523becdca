"""What the project installs for its answers, what mypy skips, what OpenTelemetry instruments."""

BASE = [
    "django[argon2]>=6.1,<6.2",
    "django-environ>=0.14",
    "gunicorn>=23",
    "python-json-logger>=4",
    "whitenoise>=6.12",
]
DEVELOPMENT = [
    "django-stubs[compatible-mypy]>=6.1",
    "factory-boy>=3.3",
    "import-linter>=2.16",
    "pytest>=9",
    "pytest-django>=4.11",
    "ruff>=0.15",
]
# `make loadtest` only: a group of its own, which `uv sync` leaves out.
LOADTEST = ["locust>=2.40"]
# By answer: each value of each question that adds packages.
BY_ANSWER = {
    "database": {
        "postgresql": ["psycopg[binary,pool]>=3.2"],
        "mysql": ["mysqlclient>=2.2"],
    },
    "cache": {"redis": ["django-redis>=6"], "memcached": ["pymemcache>=4"]},
    "background_tasks": {"django_tasks": ["django-tasks-db>=0.13"], "celery": ["celery>=5.5"]},
    # kombu talks AMQP by itself; Redis needs redis-py.
    "task_broker": {"redis": ["redis>=5"]},
    "asgi": {True: ["uvicorn-worker>=0.4", "uvicorn[standard]>=0.35"]},
    "api": {
        "drf": [
            "django-cors-headers>=4.7",
            "djangorestframework>=3.16",
            "djangorestframework-simplejwt>=5.5",
            "drf-spectacular>=0.28",
            # Swagger UI served from the project's own static files: the CSP allows no CDN.
            "drf-spectacular-sidecar>=2025.1",
        ],
        "ninja": ["django-cors-headers>=4.7", "django-ninja>=1.7", "django-ninja-jwt>=5.3"],
    },
    # django-storages for media and backups, and the SDK of the cloud's secret manager (boto3,
    # for S3 and Secrets Manager, comes with the s3 extra).
    "cloud": {
        "aws": ["django-storages[s3]>=1.14.6"],
        "gcp": ["django-storages[google]>=1.14.6", "google-cloud-secret-manager>=2.24"],
        "azure": [
            "azure-identity>=1.23",
            "azure-keyvault-secrets>=4.10",
            "django-storages[azure]>=1.14.6",
        ],
    },
}
DEVELOPMENT_BY_ANSWER = {"background_tasks": {"celery": ["celery-types>=0.26"]}}
OBSERVABILITY = {
    "sentry": ["sentry-sdk>=2.75"],
    "opentelemetry": [
        "opentelemetry-exporter-otlp-proto-http>=1.38",
        "opentelemetry-instrumentation-django>=0.59b0",
        "opentelemetry-sdk>=1.38",
    ],
    "prometheus": ["prometheus-client>=0.21"],
}
# opentelemetry-instrumentation-<name> and its instrumentor class, by what the project talks to.
INSTRUMENTATIONS = {
    "postgresql": ("psycopg", "PsycopgInstrumentor"),
    "mysql": ("mysqlclient", "MySQLClientInstrumentor"),
    "sqlite": ("sqlite3", "SQLite3Instrumentor"),
    "redis": ("redis", "RedisInstrumentor"),
    "memcached": ("pymemcache", "PymemcacheInstrumentor"),
    "celery": ("celery", "CeleryInstrumentor"),
}
# Modules without type information, by answer: mypy skips them.
UNTYPED_BY_ANSWER = {
    "asgi": {True: ["uvicorn_worker", "gunicorn.*"]},
    "api": {
        "drf": ["rest_framework.*", "rest_framework_simplejwt.*", "drf_spectacular.*"],
        "ninja": ["ninja_jwt.*", "ninja_extra.*"],
    },
    "cloud": {
        "aws": ["storages.*", "boto3.*", "botocore.*"],
        "gcp": ["storages.*"],
        "azure": ["storages.*"],
    },
}


def by_answer(table, answers):
    return [item for name, values in table.items() for item in values.get(answers[name], [])]


def derive(answers, facts):
    answers = answers | {"task_broker": facts["task_broker"], "asgi": bool(answers["asgi"])}
    observability = [name for name in OBSERVABILITY if name in answers["observability"]]
    talks_to = {answers["database"], answers["cache"], answers["background_tasks"]}
    instrumented = [name for name in INSTRUMENTATIONS if name in talks_to | {facts["task_broker"]}]
    libraries = [INSTRUMENTATIONS[name][0] for name in instrumented]
    if "opentelemetry" in observability:
        # Django's instrumentation traces ASGI requests only with the asgi one installed.
        libraries += ["asgi"] if answers["asgi"] else []
    else:
        libraries = []
    return {
        "opentelemetry_instrumentors": [INSTRUMENTATIONS[name] for name in instrumented],
        "dependencies": sorted(
            BASE
            + by_answer(BY_ANSWER, answers)
            + [package for name in observability for package in OBSERVABILITY[name]]
            + [f"opentelemetry-instrumentation-{library}>=0.59b0" for library in libraries]
        ),
        "dev_dependencies": sorted(DEVELOPMENT + by_answer(DEVELOPMENT_BY_ANSWER, answers)),
        "loadtest_dependencies": LOADTEST,
        "untyped_modules": [
            "environ",
            # Not installed with the dev tools (their own group, see LOADTEST).
            "locust.*",
            "gevent.*",
            *UNTYPED_BY_ANSWER["asgi"].get(answers["asgi"], []),
            # metrics/cache.py subclasses django-redis's backend.
            *(["django_redis"] if answers["cache"] == "redis" and facts["uses_prometheus"] else []),
            *UNTYPED_BY_ANSWER["api"].get(answers["api"], []),
            *UNTYPED_BY_ANSWER["cloud"].get(answers["cloud"], []),
        ],
    }
