"""Every environment variable the project reads: .env.example, the README's table, what
production requires and what each cloud deploy target hands the app.

The project's own tests check this list against what its settings and gunicorn.conf.py read.
"""

# (name, default, meaning), in the order .env.example lists them.
DJANGO = [
    (
        "DJANGO_SETTINGS_MODULE",
        "config.settings.production",
        "Settings module; manage.py defaults to config.settings.development",
    ),
    ("DJANGO_SECRET_KEY", "", "Long random secret; .env gets one on first setup"),
    (
        "DJANGO_SECRET_KEY_FALLBACKS",
        "",
        "Comma-separated previous secret keys, accepted while what they signed expires",
    ),
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
    # Not at the end of the list: rows added there would touch the lines a team appends to the
    # README's table, and conflict on update.
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
POSTGRESQL_SSL = [("DATABASE_SSLMODE", "prefer", "libpq sslmode; production defaults to require")]
CONNECTION_POOL = [
    ("DATABASE_POOL_MAX_SIZE", "10", "Production connection pool size per worker process")
]
PERSISTENT_CONNECTIONS = [
    ("DATABASE_CONN_MAX_AGE", "60", "Seconds a database connection is reused")
]
PGBOUNCER = [
    (
        "DATABASE_STATEMENT_TIMEOUT",
        "4",
        "Seconds a statement may run; migrate stores it on the database role (PgBouncer)",
    ),
]
BACKUPS = [
    ("BACKUP_KEEP", "14", "Newest backups scripts/backup.py keeps (daily ones: two weeks)"),
    (
        "DIRECT_DATABASE_URL",
        "",
        "The database server itself where DATABASE_URL goes through PgBouncer: backups use it",
    ),
]
RESTORE_CHECK = [
    (
        "RESTORE_CHECK_DATABASE_URL",
        "",
        "Scratch database the restore drill overwrites (default: one it creates and drops)",
    ),
]
CACHE_URL = [("CACHE_URL", "", "Cache URL; development falls back to local memory when unset")]
CELERY = [
    ("CELERY_BROKER_URL", "", "Celery broker; development runs tasks inline when unset"),
    ("CELERY_WORKER_CONCURRENCY", "", "Worker processes per worker (default: CPUs)"),
]
TASKS = [
    ("TASK_TIME_LIMIT", "300", "Seconds a task may run before it counts as stuck"),
    ("TASK_RETENTION_DAYS", "14", "Days task results and idempotency records are kept"),
    (
        "WORKER_HEARTBEAT_FILE",
        "/tmp/worker-heartbeat",
        "File a worker touches for its liveness probe",
    ),
]
# The passwords compose gives its own services.
COMPOSE_PASSWORDS = {
    "rabbitmq": [("RABBITMQ_PASSWORD", "", "Password of the compose RabbitMQ user")],
    "postgresql": [("POSTGRES_PASSWORD", "", "Password of the compose PostgreSQL user")],
    "mysql": [
        ("MARIADB_PASSWORD", "", "Password of the compose MariaDB user"),
        ("MARIADB_ROOT_PASSWORD", "", "Password of the compose MariaDB root user"),
    ],
}
SERVING = [
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
API = [
    ("API_THROTTLE_ANON", "60/min", "API requests per anonymous client IP"),
    ("API_THROTTLE_USER", "600/min", "API requests per signed-in user"),
    (
        "CORS_ALLOWED_ORIGINS",
        "",
        "Comma-separated origins whose browsers may call the API, e.g. https://app.example.com",
    ),
]
OBSERVABILITY = {
    "prometheus": [
        ("METRICS_PORT", "8001", "Port /metrics is served on, apart from the app's own port"),
        (
            "PROMETHEUS_MULTIPROC_DIR",
            "",
            "Directory of the per-process metric files (default: a new temporary directory)",
        ),
        ("GRAFANA_ADMIN_PASSWORD", "", "Password of Grafana's admin (compose.monitoring.yaml)"),
    ],
    "sentry": [
        ("SENTRY_DSN", "", "Sentry project DSN; nothing is sent when unset"),
        ("SENTRY_ENVIRONMENT", "production", "Environment name on Sentry events"),
        ("SENTRY_RELEASE", "", "Release on Sentry events, e.g. the git commit of the image"),
        ("SENTRY_TRACES_SAMPLE_RATE", "0.0", "Share of requests traced by Sentry (0 to 1)"),
    ],
    "opentelemetry": [
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "",
            "OTLP/HTTP collector, e.g. http://otel-collector:4318; no telemetry when unset",
        ),
        ("OTEL_SERVICE_NAME", "{slug}", "Service name on everything OpenTelemetry exports"),
        (
            "OTEL_TRACES_SAMPLER",
            "parentbased_traceidratio",
            "Which requests are traced (parentbased_always_on: every one)",
        ),
        ("OTEL_TRACES_SAMPLER_ARG", "0.1", "Share of requests the default sampler traces"),
        ("OTEL_SDK_DISABLED", "false", "true switches OpenTelemetry off, endpoint or not"),
    ],
}
# Left blank in .env.example: scripts/create_dotenv.py fills in a random value.
GENERATED_SECRETS = {
    "DJANGO_SECRET_KEY",
    "POSTGRES_PASSWORD",
    "MARIADB_PASSWORD",
    "MARIADB_ROOT_PASSWORD",
    "RABBITMQ_PASSWORD",
    "GRAFANA_ADMIN_PASSWORD",
}


def variables(answers, facts):
    database, background = answers["database"], answers["background_tasks"]
    return [
        *DJANGO,
        *(POSTGRESQL_SSL if database == "postgresql" else []),
        *(CONNECTION_POOL if facts["uses_connection_pool"] else PERSISTENT_CONNECTIONS),
        *(PGBOUNCER if facts["uses_pgbouncer"] else []),
        *BACKUPS,
        *(RESTORE_CHECK if database != "sqlite" else []),
        *(CACHE_URL if facts["uses_cache_url"] else []),
        *(CELERY if background == "celery" else []),
        *(TASKS if background != "none" else []),
        *COMPOSE_PASSWORDS.get(facts["task_broker"], []),
        *COMPOSE_PASSWORDS.get(database, []),
        *SERVING,
        *(API if answers["api"] != "none" else []),
        *[
            row
            for name in OBSERVABILITY
            if name in answers["observability"]
            for row in OBSERVABILITY[name]
        ],
        *facts["_cloud_variables"],
    ]


def derive(answers, facts):
    required = [
        "DJANGO_SECRET_KEY",
        "DJANGO_ALLOWED_HOSTS",
        "DATABASE_URL",
        *(["CACHE_URL"] if facts["uses_cache_url"] else []),
        *(["CELERY_BROKER_URL"] if facts["task_broker"] else []),
        *facts["_cloud_required_env"],
    ]
    examples = {
        "DATABASE_URL": facts["database_url_example"],
        "CACHE_URL": facts["cache_url_example"],
        "CELERY_BROKER_URL": facts["broker_url_example"],
    }
    slug = answers["project_slug"]
    return {
        "required_env": required,
        "environment_variables": [
            {
                "name": name,
                "default": default.format(slug=slug),
                "meaning": meaning,
                "required": name in required,
                "generated": name in GENERATED_SECRETS,
                "example": examples.get(name, default.format(slug=slug)),
            }
            for name, default, meaning in variables(answers, facts)
        ],
        # The rest of what production requires comes from the cloud's secret store.
        "deploy_secrets": [name for name in required if name not in facts["deploy_environment"]]
        + (["DIRECT_DATABASE_URL"] if facts["uses_pgbouncer"] else []),
    }
