"""A site's lock: one control run per site at a time, whichever process runs it.

The kind (one process's, or Redis's shared by every server and worker) is chosen once at
start-up with the rebalance runtime (energy/rebalance/choice.py, energy/apps.py)."""

import contextlib
import threading
from collections.abc import Iterator

import redis
from django.apps import apps


def site_lock(site_pk: int, timeout_s: int = 60) -> contextlib.AbstractContextManager[object]:
    return apps.get_app_config("energy").site_locks.hold(site_pk, timeout_s)


class LocalSiteLocks:
    """Across the threads of one process. A site's lock is dropped once no thread holds or
    waits for it, so the locks kept are those of the sites running now."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._by_site: dict[int, tuple[threading.Lock, int]] = {}

    @contextlib.contextmanager
    def hold(self, site_pk: int, timeout_s: int = 60) -> Iterator[None]:
        """`timeout_s` is Redis's safety net for a process that died holding the lock; a thread
        here cannot die and keep it."""
        with self._guard:
            lock, users = self._by_site.get(site_pk) or (threading.Lock(), 0)
            self._by_site[site_pk] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._by_site[site_pk]
                if users == 1:
                    del self._by_site[site_pk]
                else:
                    self._by_site[site_pk] = (lock, users - 1)


class RedisSiteLocks:
    """Across every server and worker sharing the Redis; a lock whose holder died lapses
    after `timeout_s`."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def hold(self, site_pk: int, timeout_s: int = 60) -> contextlib.AbstractContextManager[object]:
        return self._client.lock(f"graylogic:control:{site_pk}", timeout=timeout_s)
