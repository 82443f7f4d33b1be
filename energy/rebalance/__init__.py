"""Event-driven control runs (spec: rebalance on_charger_change / on_power_change): run a
site's control soon, one run at a time, never more often than its min_interval_s.

One runtime does it per process, picked once at start-up from settings (energy/apps.py): in
the server's event loop (in_process.py) or as Celery tasks marked in Redis (scaled.py). Both
follow the one rule in rule.py. Callers reach the runtime through `rebalancer()`; a run holds
its site's lock (energy/locks.py)."""

from asyncio import AbstractEventLoop
from typing import Protocol

from django.apps import apps

# Sites run together in one control run, scheduled and event runs alike, sharing its reads: a
# site run alone costs 3.6 times its share of a batch of ten (bench/control_bench.py). Small
# batches keep each stretch the server's loop waits through short.
SITES_PER_RUN = 10


class Rebalancer(Protocol):
    """What callers ask of the runtime; the process's one instance is `rebalancer()`."""

    # True when control runs in the server's process, beside its event loop (the periodic jobs
    # too): such a run shares the GIL with the loop that answers chargers.
    runs_in_server: bool

    def request(self, site_pk: int, trigger: str) -> None:
        """From sync code (API views, the admin): run the site's control soon."""

    async def request_async(self, site_pk: int, trigger: str) -> None:
        """From the server's loop (a charger's frame, an MQTT reading): run it soon."""

    async def now_async(self, site_pk: int, trigger: str, *, protection_only: bool = False) -> None:
        """Decide the site now, not after min_interval_s, and return once its profiles are
        answered: a charger that booted or a car that is starting must not draw before its
        share is sent. `protection_only`: just the fuse limits, in a run of its own."""

    def run_starting(self, site_pk: int) -> None:
        """A queued run (a Celery task), before it reads anything: requests until now are
        covered by it."""

    def run_finished(self, site_pk: int, *, min_interval_s: int) -> None:
        """A queued run, done: one more run if the site was asked for meanwhile."""

    def serve_from(self, loop: AbstractEventLoop) -> None:
        """The server's event loop, once its jobs start there."""


def rebalancer() -> Rebalancer:
    """The process's runtime, made at start-up (EnergyConfig.ready())."""
    return apps.get_app_config("energy").rebalancer
