"""API keys: the credentials of machine clients (another service, a script), beside JWT tokens
and sessions.

A key is shown once, when it is issued; the database keeps its SHA-256 only. The key holds 256
random bits, so a slow password hash would add latency and no safety. A key acts as its user,
within its scopes, until it is revoked; its requests count against its user's rate limit.
"""

import hashlib
import hmac
import re
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

# The request header that carries a key.
HEADER = "X-API-Key"
# Methods that only read: they need a view's read scope; every other method its write scope.
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# A key is its prefix (8 hex digits), a dot, and a secret.
PREFIX = re.compile(r"[0-9a-f]{8}(?=\.)")


class Scope(models.TextChoices):
    ORDERS_READ = "orders:read", "Read orders"
    ORDERS_WRITE = "orders:write", "Change orders"


def digest(key):
    return hashlib.sha256(key.encode()).hexdigest()


class APIKeyQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True, user__is_active=True)


class APIKey(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100, help_text="Who uses it, e.g. “billing service”.")
    # The key's first characters, stored in clear: to find its row, and to tell keys apart.
    prefix = models.CharField(max_length=16, unique=True)
    hashed_key = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = APIKeyQuerySet.as_manager()

    class Meta:
        verbose_name = "API key"
        ordering = ("-created_at", "-pk")

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, *, user, name, scopes):
        """A new key for the user: the saved APIKey, and the key itself, which nothing keeps."""
        prefix = secrets.token_hex(4)
        key = f"{prefix}.{secrets.token_urlsafe(32)}"
        api_key = cls.objects.create(
            user=user, name=name, prefix=prefix, hashed_key=digest(key), scopes=sorted(scopes)
        )
        return api_key, key

    @classmethod
    def authenticate(cls, key):
        """The active APIKey the key belongs to, with its user; None for any other key."""
        prefix = PREFIX.match(key)
        if prefix is None:
            return None
        api_key = cls.objects.active().select_related("user").filter(prefix=prefix[0]).first()
        if api_key is None or not hmac.compare_digest(api_key.hashed_key, digest(key)):
            return None
        return api_key

    def allows(self, scope):
        return scope in self.scopes

    def allows_request(self, method, read_scope, write_scope):
        return self.allows(read_scope if method in SAFE_METHODS else write_scope)

    def revoke(self):
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])
