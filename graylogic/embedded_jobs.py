"""Runs the periodic jobs inside the server's event loop, for the embedded default (no
broker). The schedule is django-celery-beat's (editable in the admin), seeded from
CELERY_BEAT_SCHEDULE; each job runs in a worker thread like a sync view, so it can reach
chargers through the in-memory channel layer."""

import asyncio
import logging
import time
from importlib import import_module

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.apps import apps
from django.conf import settings
from django.db import close_old_connections
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from energy.jobs import jobs
from energy.rebalance import rebalancer
from graylogic.outages import DATABASE_ERRORS, database_outage
from integrations.mqtt.bridge import MqttBridge
from integrations.mqtt.config import mqtt_config

logger = logging.getLogger(__name__)


def schedule_install() -> None:
    """Create the schedule's rows once; later edits in the admin are kept."""
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        every, _ = IntervalSchedule.objects.get_or_create(every=int(entry["schedule"]), period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": entry["task"], "interval": every})


def schedule_entries() -> list[tuple[str, str, float]]:
    seconds = {
        IntervalSchedule.DAYS: 86400,
        IntervalSchedule.HOURS: 3600,
        IntervalSchedule.MINUTES: 60,
        IntervalSchedule.SECONDS: 1,
        IntervalSchedule.MICROSECONDS: 1e-6,
    }
    return [
        (t.name, t.task, t.interval.every * seconds[t.interval.period])
        for t in PeriodicTask.objects.filter(enabled=True, interval__isnull=False).select_related("interval")
    ]


# While the database is down the loop waits longer each round, up to this (and so notices
# within this long that it is back).
MAX_OUTAGE_WAIT_S = 8.0


def next_wait_s(previous_s: float, *, database_down: bool) -> float:
    """Once a second normally; doubling up to MAX_OUTAGE_WAIT_S while the database is down."""
    if not database_down:
        return 1.0
    return min(previous_s * 2, MAX_OUTAGE_WAIT_S)


def _run_task(task_name: str) -> None:
    try:
        # By import path: Celery registers tasks only when their modules are imported, which
        # a worker does at start and this process may never have done.
        module, _, name = task_name.rpartition(".")
        getattr(import_module(module), name)()  # calling a task object runs it here, synchronously
    except DATABASE_ERRORS as error:
        database_outage.failed(error)
    except Exception:
        logger.exception("embedded job %s failed", task_name)
    finally:
        close_old_connections()


def _read_schedule(installed: bool) -> list[tuple[str, str, float]]:
    if not installed:
        schedule_install()
    entries = schedule_entries()
    database_outage.recovered()
    return entries


async def run_jobs_forever() -> None:
    rebalancer().serve_from(asyncio.get_running_loop())
    jobs().serve_from(asyncio.get_running_loop())
    installed = False
    next_run: dict[str, float] = {}
    wait_s = 1.0
    while True:
        try:
            # database_sync_to_async: a connection the outage broke is replaced, not reused.
            entries = await database_sync_to_async(_read_schedule)(installed)
            installed = True
        except DATABASE_ERRORS as error:
            database_outage.failed(error)
            entries = []
        now = time.monotonic()
        for name, task_name, interval in entries:
            due = next_run.setdefault(name, now + interval)
            if now >= due:
                next_run[name] = now + interval
                await sync_to_async(_run_task, thread_sensitive=False)(task_name)
        wait_s = next_wait_s(wait_s, database_down=database_outage.ongoing)
        await asyncio.sleep(wait_s)


def start_embedded_jobs() -> None:
    """Call before the reactor runs: the jobs start with the server's event loop."""
    from twisted.internet import reactor

    tasks = apps.get_app_config("graylogic").server_tasks
    reactor.callWhenRunning(lambda: tasks.add(asyncio.ensure_future(run_jobs_forever())))


def start_mqtt_bridge() -> None:
    """Call before the reactor runs: the MQTT bridge starts with the server's event loop, so
    its commands reach chargers through the in-memory channel layer, and says goodbye on
    shutdown; /healthz asks about its broker connection. Raises ImproperlyConfigured for bad
    MQTT settings."""
    from twisted.internet import reactor

    platform = apps.get_app_config("graylogic")
    bridge = MqttBridge(mqtt_config())
    platform.mqtt_connected = bridge.client.is_connected
    reactor.callWhenRunning(lambda: platform.server_tasks.add(asyncio.ensure_future(bridge.run())))
    reactor.addSystemEventTrigger("before", "shutdown", bridge.close)
