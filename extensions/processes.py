"""The processes of a deployment and how they are started, named and served."""

# Every process besides the web server, by role; compose, Kubernetes, each cloud and the
# Makefile start them with these commands.
COMMANDS = {
    "django_tasks": {"worker": ["python", "manage.py", "task_worker"]},
    "celery": {
        "worker": [
            "celery",
            "--app=config",
            "worker",
            "--queues=default,critical",
            "--without-mingle",
            "--without-gossip",
            "--loglevel=INFO",
        ],
        "beat": [
            "celery",
            "--app=config",
            "beat",
            "--schedule=/var/lib/celery/beat-schedule",
            "--loglevel=INFO",
        ],
    },
    "none": {},
}
# Seconds a migrate job may wait on the database (a migration may rewrite a large table), and
# the most DATABASE_TIMEOUT accepts.
MIGRATION_DATABASE_TIMEOUT = 600


def derive(answers, facts):
    return {
        "process_commands": COMMANDS[answers["background_tasks"]],
        "migration_database_timeout": MIGRATION_DATABASE_TIMEOUT,
        # Ninja's read endpoints are async only where that pays and is safe: under ASGI (under
        # WSGI each async view would get an event loop of its own), and not with the database
        # cache, which Ninja's throttles would query from the event loop.
        "async_api": answers["api"] == "ninja"
        and answers["asgi"]
        and answers["cache"] != "database",
        "python_target": "py" + answers["python_version"].replace(".", ""),
        "image_name": answers["project_slug"].replace("_", "-"),
    }
