"""Outages of what the server depends on (the database, the channel layer, the broker).

While one lasts, every message and every job fails the same way: logging each failure filled
13 MB of log in 7 s. An outage is logged when it starts, then once per interval with how many
failures were not logged, and once when it ends.
"""

import logging
import threading
import time

from django.db import InterfaceError, OperationalError

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
