"""PostgreSQL: Django's backend, failing fast while the database does not answer, with a
deadline on every wait for the server.

connect_timeout bounds connecting and the server's statement_timeout bounds a query it runs, but
nothing in libpq bounds a wait on a server that stopped answering (a hung host, or a proxy
holding the query while the database behind it is gone). The pool's connections
(BoundedConnection) wait at most DATABASE_TIMEOUT plus half a second, so the server's own timeout
cancels a slow query first; the pool's check before lending one waits a quarter second.
"""

import weakref

import psycopg
from django.conf import settings
from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool, PoolTimeout

from .. import FailFast

CHECK_DEADLINE = 0.25  # a healthy server answers the check's empty query in a millisecond


class FirstConnection(base.DatabaseWrapper):
    """A request waits half a second for a pooled connection (production settings), but a new
    process's pool may need longer for its first one (DNS, TLS with a distant server): each pool
    waits for its first connection as long as connecting may take, DATABASE_TIMEOUT."""

    def get_new_connection(self, conn_params):
        pool = self.pool
        if pool is not None and pool not in _connected_pools:
            pool.open()
            pool.putconn(pool.getconn(timeout=max(pool.timeout, settings.DATABASE_TIMEOUT)))
            _connected_pools.add(pool)
        return super().get_new_connection(conn_params)


_connected_pools: weakref.WeakSet[ConnectionPool] = weakref.WeakSet()


class DatabaseWrapper(FailFast, FirstConnection):
    _connection_pools: dict[str, ConnectionPool]  # Django's, one per database alias

    def set_autocommit(self, autocommit, *args, **kwargs):
        """Behind PgBouncer the role's statement timeout (DATABASE_STATEMENT_TIMEOUT) applies to
        every statement: a process allowed longer (DATABASE_TIMEOUT, e.g. the migrate job's)
        raises it for each transaction it opens."""
        super().set_autocommit(autocommit, *args, **kwargs)
        role_timeout = getattr(settings, "DATABASE_STATEMENT_TIMEOUT", None)
        if not autocommit and role_timeout and role_timeout < settings.DATABASE_TIMEOUT:
            with self.connection.cursor() as cursor:
                timeout = f"{settings.DATABASE_TIMEOUT}s"
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", [timeout])

    def failed(self, server=None):
        """The pool's idle connections lead to the same silent server: replace them at once, or
        the next request would check them one by one before failing."""
        super().failed(server)
        if pool := self._connection_pools.get(self.alias):
            pool.drain()

    def reconnected(self):
        pool = self._connection_pools.get(self.alias)
        return pool is not None and pool.get_stats()["pool_available"] > 0

    def retry(self, conn_params):
        """With a pool, a new pool connects in the background: the old one retries with delays
        that grow to minutes. Like Django's close_pool(), without waiting for the old pool's
        workers, which may be waiting on the dead server."""
        if pool := self._connection_pools.pop(self.alias, None):
            pool.close(timeout=0)
            self.pool.open()
            return None
        return super().retry(conn_params)

    def unreachable(self, error):
        if isinstance(error, PoolTimeout):
            # Every connection lent out is a busy process, not a database that did not answer:
            # only a pool that could not fill itself says so.
            pool = self._connection_pools.get(self.alias)
            return pool is None or pool.get_stats()["pool_size"] < pool.max_size
        # The server's own errors carry an SQLSTATE; no answer at all does not.
        return isinstance(error, psycopg.Error) and error.sqlstate is None


class BoundedConnection(psycopg.Connection):
    deadline: float | None = None  # seconds, while the pool checks it

    def wait(self, gen, *args, **kwargs):
        timeout = kwargs.get("timeout") or self.deadline or settings.DATABASE_TIMEOUT + 0.5
        kwargs["timeout"] = timeout
        try:
            return super().wait(gen, *args, **kwargs)
        except psycopg.OperationalError as error:
            if type(error).__name__ != "_WaitTimeout":  # psycopg's own, private class
                raise
            # Mid-query, the connection is of no further use: the pool discards it.
            self.pgconn.finish()
            raise psycopg.OperationalError(f"PostgreSQL did not answer within {timeout}s") from None


def check_connection(connection):
    """The pool's check before it lends a connection.

    A blip leaves every pooled connection dead. The pool replaces one that fails its check, but
    waits a second before checking another: so the first failure replaces them all at once.
    """
    connection.deadline = CHECK_DEADLINE
    try:
        ConnectionPool.check_connection(connection)
    except psycopg.Error:
        connection.close()
        if pool := getattr(connection, "_pool", None):  # set by the pool while it lends it
            pool.drain()
        raise
    finally:
        connection.deadline = None
