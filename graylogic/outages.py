"""Outages of what the server depends on (the database, the channel layer, the broker).

While one lasts, every message and every job fails the same way: logging each failure filled
13 MB of log in 7 s. An outage is logged when it starts, then once per interval with how many
failures were not logged, and once when it ends.
"""

import functools
import logging
import threading
import time

from django.db import InterfaceError, OperationalError, connection

# What a database that is down, restarting or unreachable raises (every backend).
DATABASE_ERRORS = (OperationalError, InterfaceError)


class OutageLog:
    """Logs one outage (by name) at most once per `interval_s`; thread-safe."""

    def __init__(self, logger: logging.Logger, name: str, *, interval_s: float = 60.0):
        self.logger = logger
        self.name = name
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._since: float | None = None
        self._logged_at = 0.0
        self._unlogged = 0

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def failed(self, error: BaseException) -> None:
        """One failure; logged if the outage is new or the interval has passed."""
        now = time.monotonic()
        with self._lock:
            if self._since is None:
                self._since, self._logged_at, self._unlogged = now, now, 0
                self.logger.error("%s unavailable: %s", self.name, error)
                return
            if now - self._logged_at < self.interval_s:
                self._unlogged += 1
                return
            unlogged, self._unlogged, self._logged_at = self._unlogged, 0, now
        self.logger.error(
            "%s still unavailable after %.0f s (%d failures not logged): %s",
            self.name,
            now - self._since,
            unlogged,
            error,
        )

    def recovered(self) -> None:
        """A success: ends the outage, if there was one."""
        if self._since is None:
            return
        with self._lock:
            if self._since is None:
                return
            lasted_s, self._since = time.monotonic() - self._since, None
        self.logger.warning("%s available again after %.0f s", self.name, lasted_s)


# The one log of database outages for every background path (group commit, jobs, tasks): while
# the database is down they all fail together, and one line per interval says so.
database_outage = OutageLog(logging.getLogger("graylogic.database"), "database")


def database_answers() -> bool:
    """Whether the database answers now: an OperationalError may be one statement's (a deadlock,
    a lock timeout) or the whole database's."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DATABASE_ERRORS:
        return False
    return True


def quiet_while_database_down(task):
    """For periodic tasks: while the database is down a failed run is counted in the outage log
    (not a traceback a second) and skipped; the next scheduled run tries again."""

    @functools.wraps(task)
    def run(*args, **kwargs):
        try:
            result = task(*args, **kwargs)
        except DATABASE_ERRORS as error:
            database_outage.failed(error)
            return None
        database_outage.recovered()
        return result

    return run
