"""Tests: set DATABASE_URL / CACHE_URL to run the suite against real services."""

from pathlib import Path

import environ

# Load .env before base.py reads the environment. Variables already set win.
environ.Env.read_env(Path(__file__).resolve().parents[2] / ".env")

from .base import *  # noqa: E402, F403
from .base import STORAGES  # noqa: E402

# Hashing cost only slows the suite down; Argon2 itself is covered by production settings.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
# Find static files per request instead of scanning STATIC_ROOT for every test client.
WHITENOISE_AUTOREFRESH = True
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
