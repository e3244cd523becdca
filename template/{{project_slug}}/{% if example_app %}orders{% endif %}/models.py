"""An example domain: customers' orders and their line items, with an audit log.

Models hold data and the queries that read it; the rules that change it live in services.py.
"""

from decimal import Decimal

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Prefetch

# An explicit range: without it the API schema would carry each database's own integer range.
MAX_QUANTITY = 1000


# The role that sees and changes every customer's orders (staff who handle them). Each migrate
# creates the group with its permissions (apps.py); add users to it in the admin.
ORDER_MANAGERS = "Order managers"


class OrderQuerySet(models.QuerySet):
    def for_customer(self, user):
        return self.filter(customer=user)

    def visible_to(self, user):
        """Every order for a user whose role grants orders.manage_all_orders; otherwise the
        user's own."""
        if user.has_perm("orders.manage_all_orders"):
            return self
        return self.for_customer(user)

    def open(self):
        return self.filter(status=Order.Status.OPEN)

    def with_items(self):
        """Everything a listing shows, in a fixed number of queries however many rows."""
        return self.select_related("customer").prefetch_related(
            Prefetch("items", queryset=LineItem.objects.order_by("pk"))
        )


class Order(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"
        PLACED = "placed"
        CANCELLED = "cancelled"

    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    status = models.CharField(max_length=20, choices=Status, default=Status.OPEN)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-pk")
        indexes = (models.Index(fields=["customer", "-created_at"]),)
        permissions = (("manage_all_orders", "Can see and change every customer's orders"),)

    def __str__(self):
        return f"Order {self.pk} ({self.status})"


class LineItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_QUANTITY)]
    )
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)

    def __str__(self):
        return f"{self.quantity} x {self.product}"

    @property
    def amount(self):
        return self.quantity * self.unit_price


class SummaryVersion(models.Model):
    """The version of a customer's cached order summary (summaries.py): replaced by every change
    to the customer's orders, in the change's transaction."""

    customer = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    token = models.CharField(max_length=32)

    def __str__(self):
        return f"summary version {self.token} of customer {self.customer_id}"


class AuditEntryQuerySet(models.QuerySet):
    def trail(self, order_id):
        """One order's entries, oldest first, with who made them: one query."""
        return self.filter(order_id=order_id).select_related("actor")


class AuditEntry(models.Model):
    """Who changed what, from where, and the values before and after. Written by services.py
    only (through audit.py)."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What acted: "request" (a user, on the web or the API), "task <name>" or "command <name>".
    # (The database defaults keep the previous release writing entries while this one rolls out.)
    source = models.CharField(max_length=100, db_default="")
    # The request that made the change, or that queued the task that did ("" for a command).
    request_id = models.CharField(max_length=128, blank=True, db_default="")
    # The client's address as the rate limits count it (behind NUM_PROXIES proxies).
    client_address = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=50)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="audit_entries")
    before = models.JSONField(encoder=DjangoJSONEncoder, null=True)
    after = models.JSONField(encoder=DjangoJSONEncoder, null=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ("at", "pk")
        verbose_name_plural = "audit entries"

    def __str__(self):
        return f"{self.action} on order {self.order_id} by {self.actor or self.source}"
