"""One-off jobs that outlast a request (a commissioning test waits a minute for a charger; an
admin POST behind nginx may not). One runner per process, chosen with the rebalance runtime
(energy/rebalance/choice.py): in the server's loop for the embedded default, a Celery task for
the scaled deployment. Callers reach it through `jobs()` and name the job by its Celery task's
name, which is also its import path."""

import asyncio
import contextvars
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from asgiref.sync import sync_to_async
from django.apps import apps
from django.db import close_old_connections
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

# Threads of their own for the embedded runner's jobs: a job mostly waits for a charger, for up
# to a few minutes, and must not hold the loop's default threads, which the control runs and
# periodic jobs use. More jobs than this wait for a thread.
JOB_THREADS = 8


class Jobs(Protocol):
    """What callers ask of the runner; the process's one instance is `jobs()`."""

    def run_soon(self, task: str, **kwargs: object) -> None:
        """From sync code (the admin): run the task (its name, "energy.tasks.x") with these
        JSON-able keyword arguments soon, elsewhere; return at once."""

    def serve_from(self, loop: asyncio.AbstractEventLoop) -> None:
        """The server's event loop, once its jobs start there."""


class InProcessJobs:
    """Embedded: a job runs in a thread started from the server's loop, like a sync view's, so it
    reaches chargers through the in-memory channel layer, which is bound to that loop."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._threads = ThreadPoolExecutor(max_workers=JOB_THREADS, thread_name_prefix="job")
        # Each running job, held so that it is not garbage-collected; gone once done.
        self._running: set[asyncio.Task] = set()

    def serve_from(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def run_soon(self, task: str, **kwargs: object) -> None:
        """Needs the server's loop; elsewhere (a shell, a test client) no charger is reachable
        and the job is not run."""
        if self._loop is None:
            logger.warning("no server loop in this process; job %s is not run", task)
            return
        self._loop.call_soon_threadsafe(self._start, task, kwargs, context=contextvars.Context())

    def _start(self, task: str, kwargs: dict) -> None:
        """In the server's loop. An empty context: a request's holds asgiref's per-request
        executor, which is gone by the time the job runs."""
        job = asyncio.get_running_loop().create_task(
            sync_to_async(_run, thread_sensitive=False, executor=self._threads)(task, kwargs),
            context=contextvars.Context(),
        )
        self._running.add(job)
        job.add_done_callback(self._running.discard)


def _run(task: str, kwargs: dict) -> None:
    try:
        import_string(task)(**kwargs)  # calling a Celery task object runs it here, synchronously
    except Exception:
        logger.exception("job %s failed", task)
    finally:
        close_old_connections()


class CeleryJobs:
    """Scaled: a job is a Celery task, run by a worker; it reaches chargers over the Redis
    channel layer."""

    def __init__(self, *, send_task: Callable[..., object]) -> None:
        self._send_task = send_task

    def serve_from(self, loop: asyncio.AbstractEventLoop) -> None:
        """Nothing: no job runs in the server's loop."""

    def run_soon(self, task: str, **kwargs: object) -> None:
        self._send_task(task, kwargs=kwargs)


def jobs() -> Jobs:
    """The process's runner, made at start-up (EnergyConfig.ready())."""
    return apps.get_app_config("energy").jobs
