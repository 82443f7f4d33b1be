"""The one place the runtime is chosen, from settings, once per process (energy/apps.py)."""

import redis
from celery import current_app
from django.conf import settings

from energy.rebalance import Rebalancer
from energy.rebalance.in_process import InProcessRebalancer
from energy.rebalance.locks import LocalSiteLocks, RedisSiteLocks
from energy.rebalance.marks import LocalMarks, RedisMarks
from energy.rebalance.scaled import CeleryRebalancer


def rebalancer_from_settings() -> Rebalancer:
    """EMBEDDED_JOBS: runs in the server's loop; otherwise Celery tasks. REDIS_URL: the locks
    and marks are Redis's, shared with every other process; without it (one process, a memory
    broker: bench/control_bench.py) they are the process's own."""
    # One client, and so one connection pool, per process: a batch takes a lock per site.
    client = redis.Redis.from_url(settings.REDIS_URL) if settings.REDIS_URL else None
    locks = RedisSiteLocks(client) if client else LocalSiteLocks()
    if settings.EMBEDDED_JOBS:
        return InProcessRebalancer(locks=locks)
    marks = RedisMarks(client) if client else LocalMarks()
    return CeleryRebalancer(locks=locks, marks=marks, send_task=current_app.send_task)
