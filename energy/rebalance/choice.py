"""The one place the runtime is chosen, from settings, once per process (energy/apps.py)."""

from dataclasses import dataclass

import redis
from celery import current_app
from django.conf import settings

from energy.jobs import CeleryJobs, InProcessJobs, Jobs
from energy.locks import LocalSiteLocks, RedisSiteLocks
from energy.rebalance import Rebalancer
from energy.rebalance.in_process import InProcessRebalancer
from energy.rebalance.marks import LocalMarks, RedisMarks
from energy.rebalance.scaled import CeleryRebalancer


@dataclass(frozen=True)
class Runtime:
    rebalancer: Rebalancer
    site_locks: LocalSiteLocks | RedisSiteLocks
    jobs: Jobs


def runtime_from_settings() -> Runtime:
    """EMBEDDED_JOBS: control runs and one-off jobs (energy/jobs.py) run in the server's loop;
    otherwise as Celery tasks. REDIS_URL: the locks and marks are Redis's, shared with every
    other process; without it (one process, a memory broker: bench/control_bench.py) they are
    the process's own."""
    # One client, and so one connection pool, per process: a batch takes a lock per site.
    client = redis.Redis.from_url(settings.REDIS_URL) if settings.REDIS_URL else None
    site_locks = RedisSiteLocks(client) if client else LocalSiteLocks()
    if settings.EMBEDDED_JOBS:
        return Runtime(InProcessRebalancer(), site_locks, InProcessJobs())
    marks = RedisMarks(client) if client else LocalMarks()
    rebalancer = CeleryRebalancer(marks=marks, send_task=current_app.send_task)
    return Runtime(rebalancer, site_locks, CeleryJobs(send_task=current_app.send_task))
