"""The project's database backends: Django's own, made to fail fast when the database does not.

A request that waits on a database that stopped answering holds its worker; with enough of them
every worker waits, and the probes and the pages that need no database go unanswered too. So
every wait has a deadline (DATABASE_TIMEOUT, see settings), and once the database failed to
answer, this process fails new connections at once for RETRY_SECONDS instead of waiting again:
the request gets a 503 with Retry-After (core/unavailable.py) and its worker is free. Then one
request tries again; the first that succeeds closes the circuit.

Django documents subclassing its backends: settings point ENGINE at
config.database.<vendor>, whose base.py holds the DatabaseWrapper.
"""

import threading
import time
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

RETRY_SECONDS = 2.0

_lock = threading.Lock()
_failed_at: dict[tuple[str, str], float] = {}  # when this process last failed to reach a server


class FailFast(BaseDatabaseWrapper):
    """Put before the vendor's DatabaseWrapper in a backend's bases."""

    Database: Any  # the driver module: psycopg, MySQLdb

    def get_new_connection(self, conn_params):
        server = (str(self.settings_dict["HOST"]), str(self.settings_dict["PORT"]))
        with _lock:
            failed_at = _failed_at.get(server)
            if failed_at is not None:
                waited = time.monotonic() - failed_at
                if waited < RETRY_SECONDS:
                    raise self.Database.OperationalError(
                        f"the database did not answer {waited:.1f}s ago; "
                        f"not trying again for {RETRY_SECONDS - waited:.1f}s"
                    )
                _failed_at[server] = time.monotonic()  # this request tries; others still fail
        try:
            connection = super().get_new_connection(conn_params)
        except self.Database.OperationalError as error:
            if self.unreachable(error):
                with _lock:
                    _failed_at[server] = time.monotonic()
            raise
        with _lock:
            _failed_at.pop(server, None)
        return connection

    def unreachable(self, error):
        """Whether the error says the database did not answer (rather than, say, that it refused
        the password or has no such database, which waiting would not change)."""
        raise NotImplementedError


def reset():
    """Forget every failure (tests that take the database away call it after)."""
    with _lock:
        _failed_at.clear()
