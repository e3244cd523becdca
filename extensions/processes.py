"""The processes of a deployment and how they are started, named and served."""

# The task queues, most urgent first, and the worker role that consumes each one alone: a
# backlog of ordinary work never delays an urgent task, and each pool is sized on its own.
WORKER_QUEUES = {"critical-worker": "critical", "worker": "default"}
TASK_QUEUES = list(WORKER_QUEUES.values())


def worker_command(background_tasks, queues):
    """The command of a worker consuming the queues (a comma-separated list)."""
    if background_tasks == "django_tasks":
        return ["python", "manage.py", "task_worker", f"--queue-name={queues}"]
    # Named after its queues: two Celery workers on one host need different node names.
    return [
        "celery",
        "--app=config",
        "worker",
        f"--queues={queues}",
        f"--hostname={queues.replace(',', '+')}@%h",
        "--without-mingle",
        "--without-gossip",
        "--loglevel=INFO",
    ]


def process_commands(background_tasks):
    """Every process besides the web server, by role; compose, Kubernetes, each cloud and the
    Makefile start them with these commands."""
    if background_tasks == "none":
        return {}
    commands = {
        role: worker_command(background_tasks, queue) for role, queue in WORKER_QUEUES.items()
    }
    if background_tasks == "celery":
        commands["beat"] = [
            "celery",
            "--app=config",
            "beat",
            "--schedule=/var/lib/celery/beat-schedule",
            "--loglevel=INFO",
        ]
    return commands


# Backups: every deploy target runs scripts/backup.py on this schedule (daily, before the 03:17
# pruning) into BACKUP_DIRECTORY (a volume, or a scratch disk when BACKUP_BUCKET keeps them), and
# backs up before it migrates.
BACKUP_SCHEDULE = "17 2 * * *"
BACKUP_DIRECTORY = "/backups"
BACKUP_COMMAND = ["python", "scripts/backup.py", "backup", BACKUP_DIRECTORY]
MIGRATE_COMMAND = [
    "sh",
    "-c",
    f"{' '.join(BACKUP_COMMAND)} && exec python manage.py migrate --noinput",
]
# Seconds a migrate job may wait on the database (a migration may rewrite a large table), and
# the most DATABASE_TIMEOUT accepts.
MIGRATION_DATABASE_TIMEOUT = 600


def derive(answers, facts):
    image_name = answers["project_slug"].replace("_", "-")
    return {
        "process_commands": process_commands(answers["background_tasks"]),
        "worker_queues": WORKER_QUEUES if answers["background_tasks"] != "none" else {},
        # The Kubernetes Deployments `make k8s-deploy` rolls out, and back.
        "k8s_deployments": [
            f"{image_name}-{role}"
            for role in ["web", *process_commands(answers["background_tasks"])]
        ],
        "task_queues": TASK_QUEUES,
        # One process for every queue: `make worker` and the development compose file.
        "development_worker_command": worker_command(
            answers["background_tasks"], ",".join(TASK_QUEUES)
        )
        if answers["background_tasks"] != "none"
        else [],
        "migration_database_timeout": MIGRATION_DATABASE_TIMEOUT,
        "backup_schedule": BACKUP_SCHEDULE,
        "backup_directory": BACKUP_DIRECTORY,
        "backup_command": BACKUP_COMMAND,
        "migrate_command": MIGRATE_COMMAND,
        # Ninja's read endpoints are async only where that pays and is safe: under ASGI (under
        # WSGI each async view would get an event loop of its own), and not with the database
        # cache, which Ninja's throttles would query from the event loop.
        "async_api": answers["api"] == "ninja"
        and answers["asgi"]
        and answers["cache"] != "database",
        "python_target": "py" + answers["python_version"].replace(".", ""),
        "image_name": image_name,
    }
