from django.contrib import admin

from .login_limits import limit_login_attempts


class AdminSite(admin.AdminSite):
    """Django's admin, with its login behind the login rate limit (core/login_limits.py)."""

    def login(self, request, extra_context=None):
        return limit_login_attempts(super().login)(request, extra_context)
