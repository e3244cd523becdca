"""Values derived from the answers, computed once here so templates never repeat the logic."""

from copier_template_extensions import ContextHook

BASE_DEPENDENCIES = [
    "django[argon2]>=6.1,<6.2",
    "django-environ>=0.14",
    "gunicorn>=23",
    "python-json-logger>=4",
    "whitenoise>=6.12",
]
DATABASE_DEPENDENCIES = {
    "postgresql": ["psycopg[binary,pool]>=3.2"],
    "mysql": ["mysqlclient>=2.2"],
    "sqlite": [],
}
BACKGROUND_DEPENDENCIES = {
    "django_tasks": ["django-tasks-db>=0.13"],
    "celery": ["celery>=5.5"],
    "none": [],
}
# The broker's Python client: kombu talks AMQP by itself, Redis needs redis-py.
BROKER_DEPENDENCIES = {"redis": ["redis>=5"], "rabbitmq": []}
DEV_DEPENDENCIES = [
    "django-stubs[compatible-mypy]>=6.1",
    "factory-boy>=3.3",
    "pytest>=9",
    "pytest-django>=4.11",
    "ruff>=0.15",
]
BACKGROUND_DEV_DEPENDENCIES = {"celery": ["celery-types>=0.26"]}
API_DEPENDENCIES = {
    "drf": [
        "django-cors-headers>=4.7",
        "djangorestframework>=3.16",
        "djangorestframework-simplejwt>=5.5",
        "drf-spectacular>=0.28",
        # Swagger UI served from the project's own static files: the CSP allows no CDN.
        "drf-spectacular-sidecar>=2025.1",
    ],
    "ninja": ["django-cors-headers>=4.7", "django-ninja>=1.7", "django-ninja-jwt>=5.3"],
    "none": [],
}
# Modules without type information, by API choice: mypy skips them.
API_UNTYPED_MODULES = {
    "drf": ["rest_framework.*", "rest_framework_simplejwt.*", "drf_spectacular.*"],
    "ninja": ["ninja_jwt.*", "ninja_extra.*"],
    "none": [],
}
ASGI_DEPENDENCIES = ["uvicorn-worker>=0.4", "uvicorn[standard]>=0.35"]
# Cloud: django-storages for media (and backups), the SDK of the cloud's secret manager.
CLOUDS = ("aws", "gcp", "azure")
CLOUD_DEPENDENCIES = {
    # boto3 (S3 and Secrets Manager) comes with the s3 extra.
    "aws": ["django-storages[s3]>=1.14.6"],
    "gcp": ["django-storages[google]>=1.14.6", "google-cloud-secret-manager>=2.24"],
    "azure": [
        "azure-identity>=1.23",
        "azure-keyvault-secrets>=4.10",
        "django-storages[azure]>=1.14.6",
    ],
    "none": [],
}
CLOUD_UNTYPED_MODULES = {
    "aws": ["storages.*", "boto3.*", "botocore.*"],
    "gcp": ["storages.*"],
    "azure": ["storages.*"],
    "none": [],
}
STORAGE_BACKENDS = {
    "aws": "storages.backends.s3.S3Storage",
    "gcp": "storages.backends.gcloud.GoogleCloudStorage",
    "azure": "storages.backends.azure_storage.AzureStorage",
}
# What the deploy job reads from the GitHub environment's variables (never secrets: it signs in
# with GitHub's OIDC token), for scripts/deploy.sh and the ${...} in deploy/<cloud>/.
DEPLOY_VARIABLES = {
    "aws": {
        "AWS_ACCOUNT_ID": "Account the service runs in",
        "AWS_REGION": "Region of the cluster, the registry and the secret",
        "AWS_DEPLOY_ROLE_ARN": "IAM role the deploy job assumes with GitHub's OIDC token",
        "ECS_CLUSTER": "ECS cluster of the services",
        "ECS_SUBNET_A": "Private subnet of the tasks (first availability zone)",
        "ECS_SUBNET_B": "Private subnet of the tasks (second availability zone)",
        "ECS_SECURITY_GROUP_ID": "Security group of the tasks",
        "ECS_TARGET_GROUP_ARN": "Load balancer target group of the web tier",
    },
    "gcp": {
        "GCP_PROJECT": "Project the service runs in",
        "GCP_REGION": "Region of Cloud Run and Artifact Registry",
        "GCP_WORKLOAD_IDENTITY_PROVIDER": (
            "projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>"
        ),
        "GCP_DEPLOY_SERVICE_ACCOUNT": "Service account the deploy job impersonates",
    },
    "azure": {
        "AZURE_DEPLOY_CLIENT_ID": "App registration GitHub's OIDC token signs in as",
        "AZURE_TENANT_ID": "Microsoft Entra tenant",
        "AZURE_SUBSCRIPTION_ID": "Subscription of the resource group",
        "AZURE_RESOURCE_GROUP": "Resource group of the container apps",
        "AZURE_LOCATION": "Region of the container apps, e.g. westeurope",
        "AZURE_REGISTRY": "Container registry name (<name>.azurecr.io)",
        "AZURE_CONTAINERAPPS_ENVIRONMENT_ID": "Resource ID of the Container Apps environment",
        "AZURE_IDENTITY_ID": "Resource ID of the apps' user-assigned managed identity",
        "AZURE_IDENTITY_CLIENT_ID": "Client ID of that identity",
        "AZURE_KEY_VAULT": "Key Vault name holding the secrets",
    },
}
CLOUD_LABELS = {"aws": "AWS", "gcp": "Google Cloud", "azure": "Azure", "none": ""}
# The secret manager each cloud's settings load from, and the variable that names the secret.
SECRET_MANAGERS = {
    "aws": ("AWS Secrets Manager", "AWS_SECRETS_MANAGER_SECRET_ID"),
    "gcp": ("Google Secret Manager", "GCP_SECRET_MANAGER_SECRET"),
    "azure": ("Azure Key Vault", "AZURE_KEY_VAULT_SECRET_ID"),
}
# The variables naming where media live: required in production.
CLOUD_REQUIRED = {
    "aws": ["AWS_STORAGE_BUCKET_NAME"],
    "gcp": ["GS_BUCKET_NAME"],
    "azure": ["AZURE_ACCOUNT_NAME", "AZURE_CONTAINER"],
    "none": [],
}
# Observability: one list per choice, plus an OpenTelemetry instrumentation for each library the
# project talks to.
OBSERVABILITY = ("sentry", "opentelemetry", "prometheus")
OBSERVABILITY_DEPENDENCIES = {
    "sentry": ["sentry-sdk>=2.75"],
    "opentelemetry": [
        "opentelemetry-exporter-otlp-proto-http>=1.38",
        "opentelemetry-instrumentation-django>=0.59b0",
        "opentelemetry-sdk>=1.38",
    ],
    "prometheus": ["prometheus-client>=0.21"],
}
# opentelemetry-instrumentation-<name> and its instrumentor class, by what the project talks to.
OPENTELEMETRY_INSTRUMENTATIONS = {
    "postgresql": ("psycopg", "PsycopgInstrumentor"),
    "mysql": ("mysqlclient", "MySQLClientInstrumentor"),
    "sqlite": ("sqlite3", "SQLite3Instrumentor"),
    "redis": ("redis", "RedisInstrumentor"),
    "memcached": ("pymemcache", "PymemcacheInstrumentor"),
    "celery": ("celery", "CeleryInstrumentor"),
}
CACHE_DEPENDENCIES = {
    "redis": ["django-redis>=6"],
    "memcached": ["pymemcache>=4"],
    "database": [],
    "none": [],
}
DATABASE_LABELS = {"postgresql": "PostgreSQL", "mysql": "MySQL/MariaDB", "sqlite": "SQLite"}
# The cache backend classes; with Prometheus, the project's subclasses that count hits and misses.
CACHE_BACKENDS = {
    "redis": "django_redis.cache.RedisCache",
    "memcached": "django.core.cache.backends.memcached.PyMemcacheCache",
    "database": "django.core.cache.backends.db.DatabaseCache",
    "none": "django.core.cache.backends.locmem.LocMemCache",
}
CACHE_LABELS = {
    "redis": "a Redis cache",
    "memcached": "a Memcached cache",
    "database": "a database cache",
    "none": "a per-process memory cache",
}
# What .env.example suggests for a local service (compose uses the same ports).
DATABASE_URL_EXAMPLES = {
    "postgresql": "postgres://postgres:postgres@localhost:5432/{slug}",
    "mysql": "mysql://root:@localhost:3306/{slug}",
    "sqlite": "sqlite:////data/{slug}.sqlite3",
}
CACHE_URL_EXAMPLES = {
    "redis": "redis://localhost:6379/0",
    "memcached": "pymemcache://localhost:11211",
}
# The URL schemes DATABASE_URL and CELERY_BROKER_URL may use (SQLite is always allowed).
DATABASE_URL_SCHEMES = {
    "postgresql": ["postgres", "postgresql", "pgsql"],
    "mysql": ["mysql"],
    "sqlite": [],
}
BROKER_URL_SCHEMES = {"redis": ["redis", "rediss"], "rabbitmq": ["amqp", "amqps"]}
BROKER_URL_EXAMPLES = {
    "redis": "redis://localhost:6379/1",
    "rabbitmq": "amqp://guest:guest@localhost:5672//",
}
# How each runner is started: compose, Kubernetes and the Makefile all use these.
WORKER_COMMANDS = {
    "django_tasks": ["python", "manage.py", "task_worker"],
    "celery": [
        "celery",
        "--app=config",
        "worker",
        "--queues=default,critical",
        "--without-mingle",
        "--without-gossip",
        "--loglevel=INFO",
    ],
}
BEAT_COMMAND = [
    "celery",
    "--app=config",
    "beat",
    "--schedule=/var/lib/celery/beat-schedule",
    "--loglevel=INFO",
]


def observability_variables(observability, slug):
    variables = []
    if "prometheus" in observability:
        variables += [
            ("METRICS_PORT", "8001", "Port /metrics is served on, apart from the app's own port"),
            (
                "PROMETHEUS_MULTIPROC_DIR",
                "",
                "Directory of the per-process metric files (default: a new temporary directory)",
            ),
            ("GRAFANA_ADMIN_PASSWORD", "", "Password of Grafana's admin (compose.monitoring.yaml)"),
        ]
    if "sentry" in observability:
        variables += [
            ("SENTRY_DSN", "", "Sentry project DSN; nothing is sent when unset"),
            ("SENTRY_ENVIRONMENT", "production", "Environment name on Sentry events"),
            ("SENTRY_RELEASE", "", "Release on Sentry events, e.g. the git commit of the image"),
            ("SENTRY_TRACES_SAMPLE_RATE", "0.0", "Share of requests traced by Sentry (0 to 1)"),
        ]
    if "opentelemetry" in observability:
        variables += [
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "",
                "OTLP/HTTP collector, e.g. http://otel-collector:4318; no telemetry when unset",
            ),
            ("OTEL_SERVICE_NAME", slug, "Service name on everything OpenTelemetry exports"),
            (
                "OTEL_TRACES_SAMPLER",
                "parentbased_traceidratio",
                "Which requests are traced (parentbased_always_on: every one)",
            ),
            ("OTEL_TRACES_SAMPLER_ARG", "0.1", "Share of requests the default sampler traces"),
            ("OTEL_SDK_DISABLED", "false", "true switches OpenTelemetry off, endpoint or not"),
        ]
    return variables


def cloud_variables(cloud):
    if cloud == "none":
        return []
    variables = {
        "aws": [
            ("AWS_REGION", "", "AWS region of the bucket and the secret, e.g. eu-west-1"),
            (
                "AWS_STORAGE_BUCKET_NAME",
                "",
                "S3 bucket of the media files; development keeps them on disk when unset",
            ),
            (
                "AWS_S3_ENDPOINT_URL",
                "",
                "S3 endpoint other than AWS's, e.g. http://localhost:5000 (the compose emulator)",
            ),
            ("AWS_S3_CUSTOM_DOMAIN", "", "Domain (a CDN) serving the bucket: URLs are not signed"),
            ("AWS_ACCESS_KEY_ID", "", "Key for development against real AWS (compose: emulator)"),
            ("AWS_SECRET_ACCESS_KEY", "", "Its secret; in the cloud the task role signs in"),
        ],
        "gcp": [
            ("GS_PROJECT_ID", "", "Google Cloud project (default: the credentials' project)"),
            (
                "GS_BUCKET_NAME",
                "",
                "Bucket of the media files; development keeps them on disk when unset",
            ),
            ("GS_CUSTOM_ENDPOINT", "", "Domain (a CDN or load balancer) serving the bucket"),
            (
                "GS_IAM_SIGN_BLOB",
                "true",
                "Sign media URLs through IAM (no key file on Cloud Run); false with a key file",
            ),
        ],
        "azure": [
            ("AZURE_ACCOUNT_NAME", "", "Storage account of the media container"),
            (
                "AZURE_CONTAINER",
                "",
                "Blob container of the media files; development keeps them on disk when unset",
            ),
            (
                "AZURE_CONNECTION_STRING",
                "",
                "Storage connection string instead of the managed identity (e.g. Azurite's)",
            ),
            ("AZURE_CUSTOM_DOMAIN", "", "Domain (a CDN) serving the container"),
            (
                "AZURE_CLIENT_ID",
                "",
                "Client ID of the user-assigned managed identity the app signs in with",
            ),
        ],
    }[cloud]
    label, secret_variable = SECRET_MANAGERS[cloud]
    return [
        *variables,
        ("MEDIA_URL_EXPIRY", "3600", "Seconds a signed media URL stays valid"),
        (
            "BACKUP_BUCKET",
            "",
            f"{'Container' if cloud == 'azure' else 'Bucket'} backup.py uploads dumps to",
        ),
        (
            secret_variable,
            "",
            f"{label} secret holding a JSON object of variables; production loads it",
        ),
    ]


def api_variables(api):
    if api == "none":
        return []
    return [
        ("API_THROTTLE_ANON", "60/min", "API requests per anonymous client IP"),
        ("API_THROTTLE_USER", "600/min", "API requests per signed-in user"),
        (
            "CORS_ALLOWED_ORIGINS",
            "",
            "Comma-separated origins whose browsers may call the API, e.g. https://app.example.com",
        ),
    ]


def environment_variables(
    database, cache, pgbouncer, background, broker, extra, required, examples
):
    """Every variable the rendered project reads: (name, default, meaning).

    .env.example and the project README are both rendered from this list; the project's own
    tests check it against what the settings and gunicorn.conf.py actually read.
    """
    variables = [
        (
            "DJANGO_SETTINGS_MODULE",
            "config.settings.production",
            "Settings module; manage.py defaults to config.settings.development",
        ),
        ("DJANGO_SECRET_KEY", "", "Long random secret; .env gets one on first setup"),
        (
            "DJANGO_ALLOWED_HOSTS",
            "localhost,127.0.0.1,[::1]",
            "Comma-separated hostnames the service answers on",
        ),
        (
            "DJANGO_CSRF_TRUSTED_ORIGINS",
            "",
            "Comma-separated origins allowed to POST, e.g. https://app.example.com",
        ),
        ("DJANGO_ADMIN_URL", "admin/", "URL prefix of the admin; change it in production"),
        # Not at the end of the list: rows added there would touch the lines a team appends to
        # the README's table, and conflict on update.
        (
            "LOGIN_RATE_LIMIT",
            "5/min",
            "Login attempts per client IP (admin included): n/s, n/min, n/hour or n/day",
        ),
        (
            "NUM_PROXIES",
            "1",
            "Proxies in front that append to X-Forwarded-For (client IPs for rate limits)",
        ),
        ("DJANGO_LOG_LEVEL", "INFO", "Root log level"),
        ("DJANGO_DEFAULT_FROM_EMAIL", "", "Sender of outgoing email (default: the author email)"),
        ("DATABASE_URL", "", "Database URL; development falls back to SQLite when unset"),
        (
            "DATABASE_TIMEOUT",
            "4",
            "Seconds a connection or a query may take; past it a request gets 503 (2 to 600)",
        ),
    ]
    if database == "postgresql":
        variables += [
            ("DATABASE_SSLMODE", "prefer", "libpq sslmode; production defaults to require")
        ]
    if database == "postgresql" and not pgbouncer:
        variables += [
            ("DATABASE_POOL_MAX_SIZE", "10", "Production connection pool size per worker process"),
        ]
    else:
        variables += [("DATABASE_CONN_MAX_AGE", "60", "Seconds a database connection is reused")]
    if cache in CACHE_URL_EXAMPLES:
        variables += [
            ("CACHE_URL", "", "Cache URL; development falls back to local memory when unset"),
        ]
    if background == "celery":
        variables += [
            ("CELERY_BROKER_URL", "", "Celery broker; development runs tasks inline when unset"),
            ("CELERY_WORKER_CONCURRENCY", "", "Worker processes per worker (default: CPUs)"),
        ]
    if background != "none":
        variables += [
            ("TASK_TIME_LIMIT", "300", "Seconds a task may run before it counts as stuck"),
            ("TASK_RETENTION_DAYS", "14", "Days task results and idempotency records are kept"),
            (
                "WORKER_HEARTBEAT_FILE",
                "/tmp/worker-heartbeat",
                "File a worker touches for its liveness probe",
            ),
        ]
    if broker == "rabbitmq":
        variables += [("RABBITMQ_PASSWORD", "", "Password of the compose RabbitMQ user")]
    if database == "postgresql":
        variables += [("POSTGRES_PASSWORD", "", "Password of the compose PostgreSQL user")]
    elif database == "mysql":
        variables += [
            ("MARIADB_PASSWORD", "", "Password of the compose MariaDB user"),
            ("MARIADB_ROOT_PASSWORD", "", "Password of the compose MariaDB root user"),
        ]
    variables += [
        ("EMAIL_HOST", "localhost", "SMTP server (production)"),
        ("EMAIL_PORT", "587", "SMTP port"),
        ("EMAIL_HOST_USER", "", "SMTP user name"),
        ("EMAIL_HOST_PASSWORD", "", "SMTP password"),
        ("EMAIL_USE_TLS", "true", "STARTTLS to the SMTP server"),
        ("HEALTH_CHECK_TIMEOUT", "2.0", "Seconds each readiness check may take"),
        ("PORT", "8000", "Port gunicorn listens on"),
        ("GUNICORN_WORKERS", "", "gunicorn worker processes (default: 2 x CPUs + 1)"),
        ("GUNICORN_THREADS", "1", "Threads per gunicorn worker"),
        ("GUNICORN_TIMEOUT", "30", "Seconds before a silent worker is restarted"),
        (
            "GUNICORN_MAX_REQUESTS",
            "1000",
            "Requests before a worker is replaced (0: never), against slow memory leaks",
        ),
        (
            "FORWARDED_ALLOW_IPS",
            "127.0.0.1",
            "Proxies trusted for X-Forwarded-* headers (* behind a cluster ingress)",
        ),
    ]
    variables += extra
    return [
        {
            "name": name,
            "default": default,
            "meaning": meaning,
            "required": name in required,
            # Left blank in .env.example: scripts/create_dotenv.py fills in a random value.
            "generated": name in GENERATED_SECRETS,
            "example": examples.get(name, default),
        }
        for name, default, meaning in variables
    ]


GENERATED_SECRETS = {
    "DJANGO_SECRET_KEY",
    "POSTGRES_PASSWORD",
    "MARIADB_PASSWORD",
    "MARIADB_ROOT_PASSWORD",
    "RABBITMQ_PASSWORD",
    "GRAFANA_ADMIN_PASSWORD",
}


def observability_dependencies(observability, instrumented, asgi):
    dependencies = [dep for name in observability for dep in OBSERVABILITY_DEPENDENCIES[name]]
    if "opentelemetry" in observability:
        # Django's instrumentation traces ASGI requests only with the asgi one installed.
        libraries = [OPENTELEMETRY_INSTRUMENTATIONS[name][0] for name in instrumented]
        dependencies += [
            f"opentelemetry-instrumentation-{library}>=0.59b0"
            for library in libraries + (["asgi"] if asgi else [])
        ]
    return dependencies


def cache_backend(path, slug, counted):
    """The backend class CACHES names: with Prometheus, the project's subclass of the same name
    that counts hits and misses (<slug>/metrics/cache.py)."""
    return f"{slug}.metrics.cache.{path.rsplit('.', 1)[1]}" if counted else path


ANSWERS_USED = ("project_slug", "python_version", "database", "cache", "background_tasks")
# Seconds a migrate job may wait on the database (a migration may rewrite a large table), and
# the most DATABASE_TIMEOUT accepts.
MIGRATION_DATABASE_TIMEOUT = 600


class DerivedContext(ContextHook):
    def hook(self, context):
        if not all(context.get(name) for name in ANSWERS_USED):
            return  # still prompting: nothing to derive yet
        database, cache, slug = context["database"], context["cache"], context["project_slug"]
        background = context["background_tasks"]
        # api is asked after the answers above: "none" until then.
        api = context.get("api") or "none"
        # cloud is asked last: "none" until then.
        cloud = context.get("cloud") or "none"
        if (
            database not in DATABASE_DEPENDENCIES
            or cache not in CACHE_DEPENDENCIES
            or background not in BACKGROUND_DEPENDENCIES
            or api not in API_DEPENDENCIES
            or cloud not in CLOUD_DEPENDENCIES
        ):
            return  # an invalid choice: Copier reports it with the allowed values
        cache_is_networked = cache in CACHE_URL_EXAMPLES
        context["migration_database_timeout"] = MIGRATION_DATABASE_TIMEOUT
        # pgbouncer is only asked for PostgreSQL; an answer left over from before is ignored.
        context["uses_pgbouncer"] = database == "postgresql" and bool(context.get("pgbouncer"))
        # Production pools PostgreSQL connections in each process, unless PgBouncer does.
        context["uses_connection_pool"] = database == "postgresql" and not context["uses_pgbouncer"]
        # PostgreSQL wakes an idle Django-tasks worker (LISTEN/NOTIFY), except through PgBouncer's
        # transaction pooling, which cannot LISTEN: there the worker polls.
        context["task_wakeups"] = background == "django_tasks" and context["uses_connection_pool"]
        # task_broker is only asked for Celery: "" means no broker at all.
        broker = (context.get("task_broker") or "redis") if background == "celery" else ""
        context["broker"] = broker
        context["broker_label"] = {"redis": "Redis", "rabbitmq": "RabbitMQ"}.get(broker, "")
        # A multiselect answer is a list; anything else (still prompting) counts as none.
        observability = [
            name for name in (context.get("observability") or []) if name in OBSERVABILITY
        ]
        context["uses_sentry"] = "sentry" in observability
        context["uses_opentelemetry"] = "opentelemetry" in observability
        context["uses_prometheus"] = "prometheus" in observability
        # The libraries the project talks to, each with an OpenTelemetry instrumentation.
        instrumented = [
            name
            for name in OPENTELEMETRY_INSTRUMENTATIONS
            if name in {database, cache, background, broker}
        ]
        context["opentelemetry_instrumentors"] = [
            OPENTELEMETRY_INSTRUMENTATIONS[name] for name in instrumented
        ]
        context["dependencies"] = sorted(
            BASE_DEPENDENCIES
            + DATABASE_DEPENDENCIES[database]
            + CACHE_DEPENDENCIES[cache]
            + BACKGROUND_DEPENDENCIES[background]
            + BROKER_DEPENDENCIES.get(broker, [])
            + (ASGI_DEPENDENCIES if context.get("asgi") else [])
            + observability_dependencies(observability, instrumented, context.get("asgi"))
            + API_DEPENDENCIES[api]
            + CLOUD_DEPENDENCIES[cloud]
        )
        # What /health/ready/ checks, in the order it reports them.
        context["readiness_checks"] = [
            "database",
            "static",
            *(["cache"] if cache != "none" else []),
            *(["broker"] if broker else []),
            *(["storage"] if cloud != "none" else []),
        ]
        # Dependencies that ship no type information: mypy skips them.
        context["untyped_modules"] = [
            "environ",
            *(["uvicorn_worker", "gunicorn.*"] if context.get("asgi") else []),
            # metrics/cache.py subclasses django-redis's backend.
            *(["django_redis"] if cache == "redis" and "prometheus" in observability else []),
            *API_UNTYPED_MODULES[api],
            *CLOUD_UNTYPED_MODULES[cloud],
        ]
        context["dev_dependencies"] = sorted(
            DEV_DEPENDENCIES + BACKGROUND_DEV_DEPENDENCIES.get(background, [])
        )
        context["database_label"] = DATABASE_LABELS[database]
        counted = context["uses_prometheus"]
        context["cache_backend"] = cache_backend(CACHE_BACKENDS[cache], slug, counted)
        context["local_cache_backend"] = cache_backend(CACHE_BACKENDS["none"], slug, counted)
        context["cache_label"] = CACHE_LABELS[cache]
        context["uses_cache_url"] = cache_is_networked
        # Sessions live in the cache only when every process sees the same cache.
        context["session_engine"] = (
            "django.contrib.sessions.backends.cached_db"
            if cache_is_networked
            else "django.contrib.sessions.backends.db"
        )
        context["required_env"] = [
            "DJANGO_SECRET_KEY",
            "DJANGO_ALLOWED_HOSTS",
            "DATABASE_URL",
            *(["CACHE_URL"] if cache_is_networked else []),
            *(["CELERY_BROKER_URL"] if broker else []),
            *CLOUD_REQUIRED[cloud],
        ]
        context["database_url_example"] = DATABASE_URL_EXAMPLES[database].format(slug=slug)
        context["cache_url_example"] = CACHE_URL_EXAMPLES.get(cache, "")
        context["broker_url_example"] = BROKER_URL_EXAMPLES.get(broker, "")
        context["database_url_schemes"] = DATABASE_URL_SCHEMES[database]
        context["broker_url_schemes"] = BROKER_URL_SCHEMES.get(broker, [])
        examples = {
            "DATABASE_URL": context["database_url_example"],
            "CACHE_URL": context["cache_url_example"],
            "CELERY_BROKER_URL": context["broker_url_example"],
        }
        context["environment_variables"] = environment_variables(
            database,
            cache,
            context["uses_pgbouncer"],
            background,
            broker,
            api_variables(api)
            + observability_variables(observability, slug)
            + cloud_variables(cloud),
            context["required_env"],
            examples,
        )
        # Ninja's read endpoints are async only where that pays and is safe: under ASGI (under
        # WSGI each async view would get an event loop of its own), and not with the database
        # cache, which Ninja's throttles would query from the event loop.
        context["async_api"] = api == "ninja" and bool(context.get("asgi")) and cache != "database"
        context["worker_command"] = WORKER_COMMANDS.get(background, [])
        context["beat_command"] = BEAT_COMMAND if background == "celery" else []
        context["python_target"] = "py" + context["python_version"].replace(".", "")
        context["image_name"] = slug.replace("_", "-")
        context["cloud_label"] = CLOUD_LABELS[cloud]
        context["storage_backend"] = STORAGE_BACKENDS.get(cloud, "")
        context["deploy_variables"] = DEPLOY_VARIABLES.get(cloud, {})
        context["cloud_cli"] = {"aws": "aws", "gcp": "gcloud", "azure": "az"}.get(cloud, "")
        context["registry_label"] = {
            "aws": "Amazon ECR",
            "gcp": "Artifact Registry",
            "azure": "Azure Container Registry",
        }.get(cloud, "")
        # Where media and backups live, as the deploy manifests set it (examples to replace).
        account = slug.replace("_", "")[:19]
        context["cloud_settings"] = {
            # ECS sets AWS_REGION in every container itself.
            "aws": {
                "AWS_STORAGE_BUCKET_NAME": f"{context['image_name']}-media",
                "BACKUP_BUCKET": f"{context['image_name']}-backups",
            },
            "gcp": {
                "GS_BUCKET_NAME": f"{context['image_name']}-media",
                "BACKUP_BUCKET": f"{context['image_name']}-backups",
            },
            "azure": {
                "AZURE_ACCOUNT_NAME": f"{account}media",
                "AZURE_CONTAINER": "media",
                "BACKUP_BUCKET": "backups",
            },
        }.get(cloud, {})
        # What every cloud deploy target gives the app: these settings, and the rest of what
        # production requires from the cloud's secret store.
        context["deploy_environment"] = {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_ALLOWED_HOSTS": context.get("domain_name", ""),
            # The cloud's load balancer is the only client; trust its X-Forwarded-* headers.
            "FORWARDED_ALLOW_IPS": "*",
            **context["cloud_settings"],
        }
        context["deploy_secrets"] = [
            name for name in context["required_env"] if name not in context["deploy_environment"]
        ]
        # The processes of a deployment besides the web server: (role, command).
        context["process_roles"] = [
            *([("worker", WORKER_COMMANDS[background])] if background in WORKER_COMMANDS else []),
            *([("beat", BEAT_COMMAND)] if background == "celery" else []),
        ]
        # The variable whose value moves media files off the local disk.
        context["media_location_env"] = CLOUD_REQUIRED[cloud][-1:]
        context["secret_manager"], context["secret_variable"] = SECRET_MANAGERS.get(cloud, ("", ""))
