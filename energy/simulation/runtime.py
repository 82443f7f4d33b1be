"""The simulated day's rebalance runtime. What the owner or a tariff posts (owner_controls)
asks `rebalancer()` for a run; on the simulated clock the day runs the site every step itself
(day.py), so a request is only noted: the step's own run, at the same instant, covers it. No
Celery task is queued and no run happens outside the steps."""

import contextlib
from asyncio import AbstractEventLoop
from collections.abc import Iterator
from unittest import mock

from django.apps import apps


class StepRebalancer:
    """Notes each request (site, trigger) for the day's next run; runs nothing itself."""

    runs_in_server = False

    def __init__(self) -> None:
        self.requests: list[tuple[int, str]] = []

    def request(self, site_pk: int, trigger: str) -> None:
        self.requests.append((site_pk, trigger))

    async def request_async(self, site_pk: int, trigger: str) -> None:
        self.request(site_pk, trigger)

    async def now_async(self, site_pk: int, trigger: str, *, protection_only: bool = False) -> None:
        """Not reached: the day calls the protection run itself when a car arrives."""
        self.request(site_pk, trigger)

    def run_starting(self, site_pk: int) -> None:
        """Nothing: no queued runs."""

    def run_finished(self, site_pk: int, *, min_interval_s: int) -> None:
        """Nothing: no queued runs."""

    def serve_from(self, loop: AbstractEventLoop) -> None:
        """Nothing: no server loop."""


@contextlib.contextmanager
def step_rebalancer() -> Iterator[StepRebalancer]:
    """`rebalancer()` answers a StepRebalancer until the block ends."""
    runtime = StepRebalancer()
    with mock.patch.object(apps.get_app_config("energy"), "rebalancer", runtime):
        yield runtime
