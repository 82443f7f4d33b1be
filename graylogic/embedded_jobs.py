"""Runs the beat schedule inside the server process, for the embedded default (no broker)."""

import logging
import threading
import time

from celery import current_app
from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)


def _run_forever(stop: threading.Event) -> None:
    schedule = {name: float(entry["schedule"]) for name, entry in settings.CELERY_BEAT_SCHEDULE.items()}
    next_run = {name: time.monotonic() + interval for name, interval in schedule.items()}
    while not stop.is_set():
        now = time.monotonic()
        for name, due in next_run.items():
            if now < due:
                continue
            next_run[name] = now + schedule[name]
            task = current_app.tasks[settings.CELERY_BEAT_SCHEDULE[name]["task"]]
            try:
                task()  # calling a task object runs it here, synchronously
            except Exception:
                logger.exception("embedded job %s failed", name)
            finally:
                close_old_connections()
        stop.wait(max(0.1, min(next_run.values()) - time.monotonic()))


def start_embedded_jobs() -> threading.Event:
    """Start the job thread; set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(target=_run_forever, args=(stop,), name="embedded-jobs", daemon=True).start()
    return stop
