"""Runs the periodic jobs inside the server's event loop, for the embedded default (no
broker). The schedule is django-celery-beat's (editable in the admin), seeded from
CELERY_BEAT_SCHEDULE; each job runs in a worker thread like a sync view, so it can reach
chargers through the in-memory channel layer."""

import asyncio
import logging
import time
from importlib import import_module
from typing import TYPE_CHECKING

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

if TYPE_CHECKING:
    from graylogic.mqtt.bridge import MqttBridge

logger = logging.getLogger(__name__)
# Tasks started with the server; held here so they are never garbage-collected.
_background: set[asyncio.Future] = set()
# The MQTT bridge this process runs, if any: /healthz reports its broker connection.
mqtt_bridge: "MqttBridge | None" = None


def schedule_install() -> None:
    """Create the schedule's rows once; later edits in the admin are kept."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        every, _ = IntervalSchedule.objects.get_or_create(every=int(entry["schedule"]), period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": entry["task"], "interval": every})


def schedule_entries() -> list[tuple[str, str, float]]:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

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


def _run_task(task_name: str) -> None:
    try:
        # By import path: Celery registers tasks only when their modules are imported, which
        # a worker does at start and this process may never have done.
        module, _, name = task_name.rpartition(".")
        getattr(import_module(module), name)()  # calling a task object runs it here, synchronously
    except Exception:
        logger.exception("embedded job %s failed", task_name)
    finally:
        close_old_connections()


async def run_jobs_forever() -> None:
    from energy import triggers

    triggers.server_loop = asyncio.get_running_loop()
    await sync_to_async(schedule_install)()
    next_run: dict[str, float] = {}
    while True:
        now = time.monotonic()
        for name, task_name, interval in await sync_to_async(schedule_entries)():
            due = next_run.setdefault(name, now + interval)
            if now >= due:
                next_run[name] = now + interval
                await sync_to_async(_run_task, thread_sensitive=False)(task_name)
        await asyncio.sleep(1)


def start_embedded_jobs() -> None:
    """Call before the reactor runs: the jobs start with the server's event loop."""
    from twisted.internet import reactor

    reactor.callWhenRunning(lambda: asyncio.ensure_future(run_jobs_forever()))


def start_mqtt_bridge() -> None:
    """Call before the reactor runs: the MQTT bridge starts with the server's event loop, so
    its commands reach chargers through the in-memory channel layer, and says goodbye on
    shutdown. Raises ImproperlyConfigured for bad MQTT settings."""
    from twisted.internet import reactor

    from graylogic.mqtt.bridge import MqttBridge
    from graylogic.mqtt.config import mqtt_config

    global mqtt_bridge
    bridge = mqtt_bridge = MqttBridge(mqtt_config())
    reactor.callWhenRunning(lambda: _background.add(asyncio.ensure_future(bridge.run())))
    reactor.addSystemEventTrigger("before", "shutdown", bridge.close)
