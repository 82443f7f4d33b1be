"""The scaled runtime (Celery workers): a site's event run is a Celery task, queued once at a
time through marks in Redis that every server and worker shares."""

import math
from asyncio import AbstractEventLoop
from collections.abc import Callable

from asgiref.sync import sync_to_async

from energy.rebalance.marks import MARK_SPARE_S, LocalMarks, RedisMarks
from energy.rebalance.runs import run_alone_async, run_now_reporting_failures, seconds_to_wait

# The task that runs one site (energy/tasks.py), queued by name: energy control does not
# import the entry points that call it.
SITE_RUN_TASK = "energy.tasks.rebalance_site"


class CeleryRebalancer:
    runs_in_server = False

    def __init__(
        self,
        *,
        marks: LocalMarks | RedisMarks,
        send_task: Callable[..., object],
    ) -> None:
        self._marks = marks
        self._send_task = send_task

    def serve_from(self, loop: AbstractEventLoop) -> None:
        """Nothing: no run happens in the server's loop."""

    def request(self, site_pk: int, trigger: str) -> None:
        wait_s = seconds_to_wait(site_pk)
        if wait_s is None:
            return
        if self._marks.request(site_pk, trigger, hold_s=math.ceil(wait_s) + MARK_SPARE_S) is not None:
            self._queue(site_pk, trigger, wait_s)

    async def request_async(self, site_pk: int, trigger: str) -> None:
        await sync_to_async(self.request)(site_pk, trigger)

    async def now_async(self, site_pk: int, trigger: str, *, protection_only: bool = False) -> None:
        await run_now_reporting_failures(site_pk, run_alone_async(site_pk, trigger, protection_only=protection_only))

    def run_starting(self, site_pk: int) -> None:
        self._marks.starting(site_pk)

    def run_finished(self, site_pk: int, *, min_interval_s: int) -> None:
        trigger = self._marks.finished(site_pk, hold_s=min_interval_s + MARK_SPARE_S)
        if trigger is None:
            return
        if (wait_s := seconds_to_wait(site_pk)) is None:
            self._marks.forget(site_pk)
        else:
            self._queue(site_pk, trigger, wait_s)

    def _queue(self, site_pk: int, trigger: str, wait_s: float) -> None:
        self._send_task(SITE_RUN_TASK, args=[site_pk, trigger], countdown=wait_s)
