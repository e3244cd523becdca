from django.db import models


class Notification(models.Model):
    """An email that was sent. Its idempotency key makes sending it a second time a no-op."""

    idempotency_key = models.CharField(max_length=200, unique=True)
    recipient = models.EmailField()
    subject = models.CharField(max_length=200)
    task_id = models.CharField(max_length=64)
    sent_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self):
        return f"{self.subject} to {self.recipient}"
