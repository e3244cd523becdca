"""gunicorn settings (gunicorn reads ./gunicorn.conf.py by default); tune them with environment
variables, see .env.example."""

import json
import logging
import multiprocessing
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = timeout
keepalive = 5
# Recycle workers now and then, so a slow memory leak cannot grow without bound.
max_requests = 1000
max_requests_jitter = 100
# Heartbeat files in memory: no disk stalls, and it works on a read-only root filesystem.
if os.path.isdir("/dev/shm"):  # noqa: S108 - gunicorn's own advice for containers
    worker_tmp_dir = "/dev/shm"  # noqa: S108
# The proxies allowed to set X-Forwarded-* headers.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


class JsonAccessFormatter(logging.Formatter):
    """One JSON object per request, joined to the app's log lines by request_id."""

    def format(self, record):
        atoms = record.args
        return json.dumps(
            {
                "time": self.formatTime(record),
                "level": record.levelname,
                "logger": record.name,
                "message": f"{atoms['m']} {atoms['U']} {atoms['s']}",
                "method": atoms["m"],
                "path": atoms["U"],
                "query": atoms["q"],
                "status": int(atoms["s"]),
                "duration_ms": round(int(atoms["D"]) / 1000, 1),
                "bytes": atoms["B"],
                "remote_addr": atoms["h"],
                "user_agent": atoms["a"],
                "request_id": atoms["{x-request-id}o"],
            }
        )


class SkipHealthyProbes(logging.Filter):
    """Probes arrive every few seconds; log them only when they fail."""

    def filter(self, record):
        return not (record.args["U"].startswith("/health/") and int(record.args["s"]) < 400)


logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"skip_healthy_probes": {"()": SkipHealthyProbes}},
    "formatters": {
        "access": {"()": JsonAccessFormatter},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "access": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "access",
            "filters": ["skip_healthy_probes"],
        },
        "error": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
        },
    },
    "root": {"handlers": ["error"], "level": "INFO"},
    "loggers": {
        "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        "gunicorn.error": {"handlers": ["error"], "level": "INFO", "propagate": False},
    },
}
