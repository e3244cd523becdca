from django.contrib import admin

from . import services
from .audit import Actor
from .models import AuditEntry, LineItem, Order


class LineItemInline(admin.TabularInline):
    model = LineItem
    readonly_fields = ("product", "quantity", "unit_price")
    can_delete = False
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("pk", "customer", "status", "total", "created_at")
    list_filter = ("status",)
    list_select_related = ("customer",)
    inlines = (LineItemInline,)
    # Changes go through services.py, which keeps totals and the audit log right.
    readonly_fields = ("customer", "status", "total")
    actions = ("cancel",)

    # Orders are created and deleted by services only: the admin would do it behind their back
    # (a deleted order takes its audit trail with it).
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Cancel the selected orders", permissions=["change"])
    def cancel(self, request, queryset):
        actor = Actor.of_request(request, request.user)
        cancelled = 0
        for order in queryset:
            try:
                services.cancel_order(order_id=order.pk, actor=actor)
                cancelled += 1
            except Order.DoesNotExist:  # the user's role does not cover other customers' orders
                pass
        self.message_user(request, f"{cancelled} of {len(queryset)} order(s) cancelled.")


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "action", "order", "actor", "source", "client_address", "request_id")
    list_filter = ("action",)
    search_fields = ("=order__pk", "=request_id")
    list_select_related = ("order", "actor")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
