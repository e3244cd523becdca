"""The services the project talks to (database, cache, broker, observability backends), and how
it reaches them."""

# The backend classes; with Prometheus, the project's subclasses of the same name count hits
# and misses (<slug>/metrics/cache.py).
CACHE_BACKENDS = {
    "redis": "django_redis.cache.RedisCache",
    "memcached": "django.core.cache.backends.memcached.PyMemcacheCache",
    "database": "django.core.cache.backends.db.DatabaseCache",
    "none": "django.core.cache.backends.locmem.LocMemCache",
}
CACHE_DESCRIPTIONS = {
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
BROKER_URL_EXAMPLES = {
    "redis": "redis://localhost:6379/1",
    "rabbitmq": "amqp://guest:guest@localhost:5672//",
}
# The URL schemes DATABASE_URL and CELERY_BROKER_URL may use (SQLite is always allowed).
DATABASE_URL_SCHEMES = {
    "postgresql": ["postgres", "postgresql", "pgsql"],
    "mysql": ["mysql"],
    "sqlite": [],
}
BROKER_URL_SCHEMES = {"redis": ["redis", "rediss"], "rabbitmq": ["amqp", "amqps"]}


PGBOUNCER_IMAGE = "edoburu/pgbouncer:v1.25.1-p0"


def cache_backend(path, slug, counted):
    """With Prometheus, the project's subclass that counts hits and misses."""
    return f"{slug}.metrics.cache.{path.rsplit('.', 1)[1]}" if counted else path


def derive(answers, facts):
    database, cache, slug = answers["database"], answers["cache"], answers["project_slug"]
    uses_pgbouncer = database == "postgresql" and bool(answers["pgbouncer"])
    # Production pools PostgreSQL connections in each process, unless PgBouncer does.
    uses_connection_pool = database == "postgresql" and not uses_pgbouncer
    # Only Celery has a broker: "" for every other answer.
    task_broker = answers["task_broker"] if answers["background_tasks"] == "celery" else ""
    uses_cache_url = cache in CACHE_URL_EXAMPLES
    # Every process reads and writes the same cache (not each its own memory).
    shared_cache = cache != "none"
    uses_prometheus = "prometheus" in answers["observability"]
    return {
        "uses_sentry": "sentry" in answers["observability"],
        "uses_opentelemetry": "opentelemetry" in answers["observability"],
        "uses_prometheus": uses_prometheus,
        "task_broker": task_broker,
        "uses_pgbouncer": uses_pgbouncer,
        # The PgBouncer image every target runs (compose, Kubernetes, the clouds' sidecars).
        "pgbouncer_image": PGBOUNCER_IMAGE,
        "uses_connection_pool": uses_connection_pool,
        # PostgreSQL wakes an idle Django-tasks worker (LISTEN/NOTIFY), except through
        # PgBouncer's transaction pooling, which cannot LISTEN: there the worker polls.
        "task_wakeups": answers["background_tasks"] == "django_tasks" and uses_connection_pool,
        "uses_redis": "redis" in {cache, task_broker},
        # CACHE_URL names a cache every process shares.
        "uses_cache_url": uses_cache_url,
        "shared_cache": shared_cache,
        "cache_backend": cache_backend(CACHE_BACKENDS[cache], slug, uses_prometheus),
        "local_cache_backend": cache_backend(CACHE_BACKENDS["none"], slug, uses_prometheus),
        "cache_description": CACHE_DESCRIPTIONS[cache],
        # Sessions live in the cache only when every process sees the same cache.
        "session_engine": "django.contrib.sessions.backends."
        + ("cached_db" if uses_cache_url else "db"),
        "database_url_example": DATABASE_URL_EXAMPLES[database].format(slug=slug),
        "cache_url_example": CACHE_URL_EXAMPLES.get(cache, ""),
        "broker_url_example": BROKER_URL_EXAMPLES.get(task_broker, ""),
        "database_url_schemes": DATABASE_URL_SCHEMES[database],
        "broker_url_schemes": BROKER_URL_SCHEMES.get(task_broker, []),
        # What /health/ready/ checks, in the order it reports them.
        "readiness_checks": [
            "database",
            "static",
            *(["cache"] if shared_cache else []),
            *(["broker"] if task_broker else []),
            *(["storage"] if answers["cloud"] != "none" else []),
        ],
    }
