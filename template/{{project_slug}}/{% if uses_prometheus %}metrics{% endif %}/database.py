"""Time every database query; count the migrations the database lacks."""

import logging
import threading
import time

from django.db import DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor

from .instruments import DB_QUERY_DURATION, DB_QUERY_ERRORS, MIGRATIONS_UNAPPLIED

logger = logging.getLogger(__name__)


def observe_query(execute, sql, params, many, context):
    alias = context["connection"].alias
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    except Exception:
        DB_QUERY_ERRORS.labels(alias).inc()
        raise
    finally:
        DB_QUERY_DURATION.labels(alias).observe(time.perf_counter() - started)


def instrument_connection(sender, connection, **kwargs):
    """connection_created: a connection object keeps its wrappers when it reconnects."""
    if observe_query not in connection.execute_wrappers:
        connection.execute_wrappers.append(observe_query)


def count_unapplied_migrations(alias="default"):
    executor = MigrationExecutor(connections[alias])
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def record_unapplied_migrations():
    for alias in connections:
        MIGRATIONS_UNAPPLIED.labels(alias).set(count_unapplied_migrations(alias))


def watch_migrations(interval=60):
    """Recount now and every `interval` seconds in a thread of this process (gunicorn.conf.py
    starts one per worker), so the gauge clears as soon as someone runs migrate."""

    def recount():
        while True:
            try:
                record_unapplied_migrations()
            except DatabaseError as error:
                logger.warning("Could not count unapplied migrations: %r", error)
            finally:
                connections.close_all()  # this thread's connections only
            time.sleep(interval)

    threading.Thread(target=recount, name="migrations-metric", daemon=True).start()
