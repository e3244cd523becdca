"""Development: runs with no services at all; .env can point it at real ones."""

import logging
import os
from pathlib import Path

import environ

# Load .env before base.py reads the environment. Variables already set win.
environ.Env.read_env(Path(__file__).resolve().parents[2] / ".env")

from .base import *  # noqa: E402, F403
from .base import DATABASES  # noqa: E402

DEBUG = True

MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}

if fallbacks := [name for name in ("DATABASE_URL", "CACHE_URL") if not os.environ.get(name)]:
    logging.getLogger("config.settings").warning(
        "%s not set: development uses SQLite (%s) and a local-memory cache where they are missing.",
        " and ".join(fallbacks),
        DATABASES["default"]["NAME"],
    )
