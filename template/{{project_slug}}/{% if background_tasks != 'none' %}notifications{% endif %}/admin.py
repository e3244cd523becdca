from django.contrib import admin

from .models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("sent_at", "recipient", "subject", "idempotency_key", "task_id")
    search_fields = ("recipient", "idempotency_key", "task_id")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
