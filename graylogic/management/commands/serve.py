"""`manage.py serve`: the product on one port — admin, API and OCPP WebSockets (daphne)."""

import asyncio
import functools
import logging
import os
import sys
from urllib.parse import unquote

import daphne.http_protocol
import daphne.server  # installs the asyncio reactor the embedded jobs need (before twisted's)
import daphne.ws_protocol
from autobahn.websocket.types import ConnectionDeny
from daphne.cli import CommandLineInterface
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from twisted.internet import defer, reactor, task

from chargers.routing import websocket_path_refusal
from chargers.services import chargers_reset_connections
from graylogic.embedded_jobs import start_embedded_jobs, start_mqtt_bridge
from graylogic.gc_policy import GcPolicy
from graylogic.group_commit import drain_all
from graylogic.server_limits import (
    SLOW_PER_ADDRESS,
    WEBSOCKET_MESSAGE_HARD_CAP_BYTES,
    Gate,
    GatedHTTPFactory,
    WaitingConnections,
    waiting_cap,
)
from graylogic.single_reader_queue import SingleReaderQueue


def _prepare_reactor() -> None:
    # Samples received but not yet committed are written before the loop stops.
    reactor.addSystemEventTrigger(
        "before", "shutdown", lambda: defer.Deferred.fromFuture(asyncio.ensure_future(drain_all()))
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


class _WebSocketProtocol(daphne.ws_protocol.WebSocketProtocol):
    refused_at_the_gate = False

    def onConnect(self, request):
        """A path no charger can be at is refused here with its status (400 or 404), before
        daphne makes an application for it."""
        refusal = websocket_path_refusal(unquote(request.path))
        if refusal is None:
            return super().onConnect(request)
        self.refused_at_the_gate = True
        raise ConnectionDeny(refusal.value, refusal.phrase)

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        if not self.refused_at_the_gate:  # daphne never heard of a refused one
            super().onClose(wasClean, code, reason)

    def application_finished(self, application: asyncio.Future) -> None:
        """An application that failed during the handshake is answered 500 now: daphne answers
        at its next reap (every 10 s here), after the charger's 5 s handshake timeout has
        dropped the connection without any HTTP status. The reap still logs the exception."""
        if not application.cancelled() and application.exception() is not None:
            self.handle_exception(application.exception())

    def handle_exception(self, exception: BaseException) -> None:
        """daphne's own, but answering a connection once: after application_finished, daphne's
        reap calls it again, and a second answer would raise there and stop the reaper."""
        if self.state == self.STATE_CONNECTING and hasattr(self, "handshake_deferred"):
            handshake, self.muted = self.handshake_deferred, True
            del self.handshake_deferred
            handshake.errback(ConnectionDeny(code=500, reason="Internal server error"))
        elif self.state == self.STATE_OPEN:
            self.sendCloseFrame(code=1011)

    def dataReceived(self, data: bytes) -> None:
        """autobahn's own first formats a debug line for every chunk it receives, with colours,
        and then drops it: 1.5 % of the server's time at 10,000 chargers (bench/README.md)."""
        self._dataReceived(data)


class _Server(daphne.server.Server):
    """daphne walks every connection each second to reap finished ones, and every two seconds
    to check timeouts and pings: with 10,000 chargers that was 5 % and 3 % of the process's
    time (bench/README.md). Every ten seconds is enough for both: a finished connection's
    memory waits that long, a handshake that never completes or a WebSocket ping after 20 s
    of silence up to 10 s more."""

    REAP_EVERY_N_S = 10
    CHECK_TIMEOUTS_EVERY_N_CALLS = 5  # daphne calls it every 2 s
    _reap_ticks = 0
    _timeout_ticks = 0

    def application_checker(self) -> None:
        self._reap_ticks += 1
        if self._reap_ticks % self.REAP_EVERY_N_S:
            reactor.callLater(1, self.application_checker)
            return
        super().application_checker()

    def timeout_checker(self) -> None:
        self._timeout_ticks += 1
        if self._timeout_ticks % self.CHECK_TIMEOUTS_EVERY_N_CALLS:
            reactor.callLater(2, self.timeout_checker)
            return
        super().timeout_checker()

    @property
    def http_factory(self) -> GatedHTTPFactory:
        return self._http_factory

    @http_factory.setter
    def http_factory(self, factory: daphne.http_protocol.HTTPFactory) -> None:
        # daphne makes its factory in run(); connections are to come in through the gate.
        self._http_factory = GatedHTTPFactory(self, Gate(WaitingConnections(SLOW_PER_ADDRESS, waiting_cap())))

    @property
    def ws_factory(self) -> daphne.ws_protocol.WebSocketFactory:
        return self._ws_factory

    @ws_factory.setter
    def ws_factory(self, factory: daphne.ws_protocol.WebSocketFactory) -> None:
        # daphne makes its factory in run(); its connections are to be ours.
        factory.protocol = _WebSocketProtocol
        # A message over the hard cap is answered with a close frame (1009, too big): by
        # default autobahn drops the TCP connection and the charger sees only 1006.
        factory.setProtocolOptions(failByDrop=False)
        self._ws_factory = factory

    def create_application(self, protocol, scope) -> SingleReaderQueue | None:
        """daphne's own, with a connection's input queue ~2.4 KB smaller (an asyncio.Queue)."""
        input_queue = SingleReaderQueue()
        scope.setdefault("asgi", {"version": "3.0"})
        application_instance = self.application(
            scope=scope, receive=input_queue.get, send=functools.partial(self.handle_reply, protocol)
        )
        if protocol not in self.connections:
            return None
        application = asyncio.ensure_future(application_instance)
        self.connections[protocol]["application_instance"] = application
        if isinstance(protocol, _WebSocketProtocol):
            application.add_done_callback(protocol.application_finished)
        return input_queue

    def protocol_disconnected(self, protocol) -> None:
        """A connection that never had an application (the HTTP request a WebSocket upgraded
        from) goes at once, not at the next reap: alive at a full collection, its reference
        cycles would be frozen (graylogic/gc_policy.py) and kept until the next reclaim."""
        details = self.connections.get(protocol)
        if details is not None and "application_instance" not in details:
            del self.connections[protocol]
        else:
            super().protocol_disconnected(protocol)

    def kill_all_applications(self) -> defer.Deferred:
        """daphne's own version raises KeyError on a connection that has no application, such as
        a WebSocket handshake not reaped yet: the shutdown then cancels no consumer, and busy
        chargers keep the final write of samples going for as long as they send."""
        running = [
            application
            for details in self.connections.values()
            if (application := details.get("application_instance")) is not None and not application.done()
        ]
        for application in running:
            application.cancel()
        return defer.Deferred.fromFuture(asyncio.gather(*running, return_exceptions=True))


class _CommandLineInterface(CommandLineInterface):
    server_class = _Server


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
        frame_cap_bytes = max(WEBSOCKET_MESSAGE_HARD_CAP_BYTES, 4 * settings.OCPP_MAX_FRAME_BYTES)
        self.stdout.write(
            f"Admin: http{scheme[2:]}://{host}:{port}/admin/  OCPP: {scheme}://{host}:{port}/ocpp/<charger_id>"
        )
        _CommandLineInterface().run(
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
