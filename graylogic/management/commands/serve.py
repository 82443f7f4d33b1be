"""`manage.py serve`: the product on one port — admin, API and OCPP WebSockets (daphne)."""

import asyncio
import logging
import os
import sys

import daphne.server  # noqa: F401 (installs the asyncio reactor the embedded jobs need, before twisted's)
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from twisted.internet import defer, reactor, task

from chargers.ocpp.writes import hot_path_writes
from chargers.routing import websocket_path_refusal_counted
from chargers.services import chargers_reset_connections
from energy.rebalance import rebalancer
from graylogic.embedded_jobs import start_embedded_jobs, start_mqtt_bridge
from graylogic.gc_policy import GcPolicy
from graylogic.runtime.daphne_server import CommandLineInterface
from graylogic.server_limits import WEBSOCKET_MESSAGE_HARD_CAP_BYTES


def _prepare_reactor() -> None:
    # Samples received but not yet committed are written before the loop stops.
    reactor.addSystemEventTrigger(
        "before", "shutdown", lambda: defer.Deferred.fromFuture(asyncio.ensure_future(hot_path_writes().drain()))
    )
    # Full garbage collections otherwise stall the loop for seconds with thousands of chargers.
    gc_policy = GcPolicy()
    reactor.callWhenRunning(gc_policy.install)
    reactor.callWhenRunning(task.LoopingCall(gc_policy.reclaim_if_due).start, 60, now=False)
    # The loop thread gives the GIL up at every socket call and then waits for a worker thread
    # (energy control, database writes) to yield it: by default up to 5 ms each time. While
    # the once-a-minute control runs of a thousand sites hold a thread busy for a second, even
    # 1 ms per socket call made the slowest messages wait (bench/README.md, P2).
    sys.setswitchinterval(0.0002)


class Command(BaseCommand):
    help = (
        "Serve the admin and OCPP WebSockets with daphne; run the periodic jobs in-process unless Celery does, "
        "and the MQTT bridge unless `mqtt_bridge` does."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=settings.HOST)
        parser.add_argument("--port", type=int, default=settings.PORT)

    def handle(self, *args, host: str, port: int, **options) -> None:
        if rebalancer().runs_in_server:
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
        frame_cap_bytes = max(WEBSOCKET_MESSAGE_HARD_CAP_BYTES, 4 * settings.OCPP_MAX_FRAME_BYTES)
        self.stdout.write(
            f"Admin: http{scheme[2:]}://{host}:{port}/admin/  OCPP: {scheme}://{host}:{port}/ocpp/<charger_id>"
        )
        CommandLineInterface(websocket_path_refusal=websocket_path_refusal_counted).run(
            [
                *endpoint,
                # daphne drops every WebSocket after 24 h by default; chargers stay for months.
                "--websocket_timeout",
                "-1",
                # Up to the hard cap a frame reaches the consumer, which refuses one over
                # OCPP_MAX_FRAME_BYTES with a CALLERROR; daphne's default cap is 1 MiB.
                "--websocket-max-message-size",
                str(frame_cap_bytes),
                "--websocket-max-frame-size",
                str(frame_cap_bytes),
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
