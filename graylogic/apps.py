import asyncio
from collections.abc import Callable

from django.apps import AppConfig
from django.core import checks
from django.core.handlers.asgi import ASGIHandler
from django.core.signals import request_finished
from django.db import connections
from django.db.backends.signals import connection_created

from graylogic.checks import development_secret_key_check
from graylogic.outages import OutageLog


def _tune_sqlite(sender, connection, **kwargs) -> None:
    """WAL lets the server write while readers (admin, jobs, tests) read."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")


def _close_request_connections(sender, **kwargs) -> None:
    """Close the connections an HTTP request opened, in the request's own thread.

    Under ASGI each request runs its sync code in a thread of its own, so a persistent
    connection (CONN_MAX_AGE) is never reused by a later request: it stays open until the
    garbage collector happens to free it, and the database runs out of connections first.
    """
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


class GraylogicConfig(AppConfig):
    name = "graylogic"
    verbose_name = "Gray Logic"
    # What `serve` starts beside the server, set at its start-up (graylogic/embedded_jobs.py):
    # the tasks, held so they are never garbage-collected, and whether the MQTT bridge it runs
    # is connected, which /healthz asks (None: no bridge in this process).
    server_tasks: set[asyncio.Future]
    mqtt_connected: Callable[[], bool] | None
    # One log per health check (graylogic/health.py): a failing dependency is logged once per
    # outage and interval, not once per poll.
    health_outage_logs: dict[str, OutageLog]

    def ready(self) -> None:
        connection_created.connect(_tune_sqlite)
        request_finished.connect(_close_request_connections, sender=ASGIHandler)
        checks.register(development_secret_key_check)
        self.server_tasks, self.mqtt_connected, self.health_outage_logs = set(), None, {}
