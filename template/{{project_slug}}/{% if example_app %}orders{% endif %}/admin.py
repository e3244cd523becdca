from django.contrib import admin

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


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "action", "order", "actor")
    list_filter = ("action",)
    list_select_related = ("order", "actor")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
