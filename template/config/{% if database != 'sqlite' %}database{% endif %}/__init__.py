"""The project's database backends: Django's own, made to fail fast when the database does not.

A request that waits on a database that stopped answering holds its worker; with enough of them
every worker waits, and the probes and the pages that need no database go unanswered too. So
every wait has a deadline (DATABASE_TIMEOUT, see settings), and once the database failed to
answer, this process fails new connections at once instead of waiting again: the request gets
a 503 with Retry-After (core/unavailable.py) and its worker is free. RETRY_SECONDS after the last
try, the next request that needs the database starts another in the background (connecting to a
database that still does not answer waits connect_timeout, and no request may wait that long)
and waits RETRY_WAIT for it; the first try that succeeds ends the failure.

Django documents subclassing its backends: settings point ENGINE at
config.database.<vendor>, whose base.py holds the DatabaseWrapper.
"""

import os
import threading
import time
from typing import Any

from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper

RETRY_SECONDS = 2.0
RETRY_WAIT = 0.5  # a database that answers again connects in far less

_lock = threading.Lock()
_failed_at: dict[tuple[str, str], float] = {}  # when this process last failed to reach a server
_trying: dict[tuple[str, str], threading.Event] = {}  # each server's try, set when it ends
_last_error: dict[tuple[str, str], str] = {}  # what the last background try was told
# A process forked while a try runs (Celery's prefork pool) has no thread to end it.
os.register_at_fork(after_in_child=_trying.clear)


class FailFast(BaseDatabaseWrapper):
    """Put before the vendor's DatabaseWrapper in a backend's bases."""

    Database: Any  # the driver module: psycopg, MySQLdb

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.execute_wrappers.append(self.fail_fast_after_a_timeout)

    @property
    def server(self):
        return (str(self.settings_dict["HOST"]), str(self.settings_dict["PORT"]))

    def fail_fast_after_a_timeout(self, execute, sql, params, many, context):
        """A query the database left unanswered: new connections fail fast from now on."""
        try:
            return execute(sql, params, many, context)
        except OperationalError as error:
            if self.unreachable(error.__cause__):
                self.failed()
            raise

    def is_usable(self):
        # Django asks before reusing a connection (CONN_HEALTH_CHECKS): no need to wait for the
        # answer of a database that did not answer a moment ago.
        with _lock:
            if self.server in _failed_at:
                return False
        started = time.monotonic()
        if super().is_usable():
            return True
        if time.monotonic() - started >= 1:  # no answer, rather than a closed connection
            self.failed()
        return False

    def get_new_connection(self, conn_params):
        server = self.server
        try_ended = None
        with _lock:
            failed_at = _failed_at.get(server)
            if failed_at is not None and not self.reconnected():
                waited = time.monotonic() - failed_at
                if waited >= RETRY_SECONDS:
                    _failed_at[server] = time.monotonic()  # the next retry is RETRY_SECONDS away
                    try_ended = self.retry(conn_params)
                if try_ended is None:
                    raise self.failing_fast(server, waited)
        if try_ended is not None:
            try_ended.wait(RETRY_WAIT)
            with _lock:
                if server in _failed_at:
                    raise self.failing_fast(server, waited)
        try:
            connection = super().get_new_connection(conn_params)
        except self.Database.OperationalError as error:
            if self.unreachable(error):
                self.failed(server)  # as it was when we tried: settings can change meanwhile
            raise
        answered(server)
        return connection

    def failing_fast(self, server, waited):
        told = f" (then: {_last_error[server]})" if server in _last_error else ""
        return self.Database.OperationalError(
            f"the database did not answer {waited:.1f}s ago: failing fast{told}"
        )

    def failed(self, server=None):
        """The database did not answer: fail new connections at once from now on."""
        with _lock:
            _failed_at[server or self.server] = time.monotonic()

    def reconnected(self):
        """Whether a connection made in the background shows the database answers again."""
        return False

    def retry(self, conn_params):
        """RETRY_SECONDS after a failure (the caller holds _lock), try the database again without
        holding this request: a thread connects, one at a time for each server, and its success
        ends the failure for every request of this process. Returns an Event set when the try
        ends, for the request to wait on a moment, or None to fail at once."""
        server = self.server
        ended = _trying.get(server)
        if ended is None:
            ended = threading.Event()
            threading.Thread(
                target=self.try_connecting,
                args=(server, conn_params, ended),
                name="database-retry",
                daemon=True,  # a worker that exits does not wait for it
            ).start()
            _trying[server] = ended  # once started: the thread takes _lock only after this
        return ended

    def try_connecting(self, server, params, ended):
        try:
            self.Database.connect(**params).close()
        except self.Database.Error as error:
            with _lock:
                if server in _failed_at:  # not ended meanwhile (a connection, or reset())
                    _failed_at[server] = time.monotonic()  # the next try is RETRY_SECONDS from now
                    _last_error[server] = f"{type(error).__name__}: {error}"
        else:
            answered(server)
        finally:
            with _lock:
                if _trying.get(server) is ended:
                    del _trying[server]
            ended.set()

    def unreachable(self, error):
        """Whether the error says the database did not answer, as far as the driver tells: a
        connection it could not make may also be a refused password, which failing fast for a
        moment does not make worse."""
        raise NotImplementedError


def answered(server):
    """The server answered: new connections go to it again."""
    with _lock:
        _failed_at.pop(server, None)
        _last_error.pop(server, None)


def reset():
    """Forget every failure (tests that take the database away call it after)."""
    with _lock:
        _failed_at.clear()
        _last_error.clear()
