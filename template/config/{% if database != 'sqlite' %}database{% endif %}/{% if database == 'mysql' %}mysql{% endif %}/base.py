"""MySQL / MariaDB: Django's backend, failing fast while the database does not answer.

mysqlclient bounds every wait itself: connect_timeout, read_timeout and write_timeout are all
DATABASE_TIMEOUT (see settings).
"""

from django.db.backends.mysql import base

from .. import FailFast


class DatabaseWrapper(FailFast, base.DatabaseWrapper):
    def unreachable(self, error):
        # 2000-2999 are the client's own errors: cannot connect, server gone, lost connection.
        code = getattr(error, "args", (None,))[0]
        return isinstance(code, int) and 2000 <= code < 3000
