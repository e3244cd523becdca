from django.dispatch import Signal

# Sent once a day, by the prune_task_results command (Django tasks) or beat's prune_task_records
# task (Celery). An app with records of its own to forget connects a receiver: it is pruned while
# it is installed, and nothing refers to it once it is deleted.
pruning = Signal()
