"""`manage.py serve`: the product on one port — admin, API and OCPP WebSockets (daphne)."""

import asyncio
import logging
import os
import sys

import daphne.server  # noqa: F401  (installs the asyncio reactor the embedded jobs need)
from daphne.cli import CommandLineInterface
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from chargers.services import chargers_reset_connections
from graylogic.embedded_jobs import start_embedded_jobs, start_mqtt_bridge
from graylogic.gc_policy import GcPolicy
from graylogic.group_commit import drain_all


def _prepare_reactor() -> None:
    from twisted.internet import defer, reactor, task

    # Samples received but not yet committed are written before the loop stops.
    reactor.addSystemEventTrigger(
        "before", "shutdown", lambda: defer.Deferred.fromFuture(asyncio.ensure_future(drain_all()))
    )
    # Full garbage collections otherwise stall the loop for seconds with thousands of chargers.
    gc_policy = GcPolicy()
    reactor.callWhenRunning(gc_policy.install)
    reactor.callWhenRunning(task.LoopingCall(gc_policy.reclaim_if_due).start, 60, now=False)
    # The loop thread gives the GIL up at every socket call and then waits for a worker thread
    # (energy control, database writes) to yield it: by default up to 5 ms each time.
    sys.setswitchinterval(0.001)


class Command(BaseCommand):
    help = (
        "Serve the admin and OCPP WebSockets with daphne; run the periodic jobs in-process unless Celery does, "
        "and the MQTT bridge unless `mqtt_bridge` does."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=settings.HOST)
        parser.add_argument("--port", type=int, default=settings.PORT)

    def handle(self, *args, host: str, port: int, **options) -> None:
        if settings.EMBEDDED_JOBS:
            # One process holds every socket, so nothing can still be connected at start.
            chargers_reset_connections()
            start_embedded_jobs()
        if settings.MQTT_URL and settings.MQTT_EMBEDDED:
            try:
                start_mqtt_bridge()
            except ImproperlyConfigured as error:
                raise CommandError(str(error)) from error
        if settings.TLS_CERT_FILE:
            endpoint = [
                "-e",
                f"ssl:{port}:interface={host}:privateKey={settings.TLS_KEY_FILE}:certKey={settings.TLS_CERT_FILE}",
            ]
            scheme = "wss"
        else:
            endpoint = ["-b", host, "-p", str(port)]
            scheme = "ws"
        _prepare_reactor()
        self.stdout.write(
            f"Admin: http{scheme[2:]}://{host}:{port}/admin/  OCPP: {scheme}://{host}:{port}/ocpp/<charger_id>"
        )
        CommandLineInterface().run(
            [
                *endpoint,
                # daphne drops every WebSocket after 24 h by default; chargers stay for months.
                "--websocket_timeout",
                "-1",
                # Per-request access logs cost real time under load.
                "-v",
                "1" if settings.DEBUG else "0",
                settings.ASGI_APPLICATION.replace(".application", ":application"),
            ]
        )
        # The reactor has stopped: every acknowledged message is already in the database. A job
        # thread still waiting on a charger would wait forever for the stopped loop, and
        # Python joins such threads at exit, so leave without waiting for them.
        logging.shutdown()
        os._exit(0)
