from django.contrib import admin

from .models import APIKey


@admin.register(APIKey)
class APIKeyAdmin(admin.ModelAdmin):
    """Keys are issued with `manage.py issue_api_key` (it prints the key once); here they are
    listed and revoked."""

    list_display = ("name", "prefix", "user", "scopes", "created_at", "revoked_at")
    list_filter = ("revoked_at",)
    list_select_related = ("user",)
    search_fields = ("=prefix", "name", "user__username")
    readonly_fields = ("user", "name", "prefix", "scopes", "created_at", "revoked_at")
    exclude = ("hashed_key",)
    actions = ("revoke",)

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke(self, request, queryset):
        for api_key in queryset:
            api_key.revoke()
        self.message_user(request, f"{len(queryset)} key(s) revoked.")
