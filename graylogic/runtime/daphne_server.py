"""daphne patched for thousands of long-lived WebSocket connections in one server process.

`manage.py serve` runs `CommandLineInterface` below instead of daphne's. Its server and its
WebSocket connections override daphne's (and autobahn's) methods named in the UPSTREAM
constants; tests/test_runtime_patches.py checks those are still what the patches were written
against. Figures: bench/README.md, at 10,000 chargers unless said.
"""

import asyncio
import functools
from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import unquote

import daphne.cli
import daphne.http_protocol
import daphne.server  # installs the asyncio reactor (before twisted's)
import daphne.ws_protocol
from autobahn.websocket.types import ConnectionDeny
from twisted.internet import defer, reactor

from graylogic.runtime.upstream import Upstream
from graylogic.server_limits import SLOW_PER_ADDRESS, Gate, GatedHTTPFactory, WaitingConnections, waiting_cap
from graylogic.single_reader_queue import SingleReaderQueue

# What a WebSocket path gets: None to go ahead, or the HTTP status refusing it.
PathRefusal = Callable[[str], HTTPStatus | None]

# WebSocketProtocol below replaces or wraps these (daphne 4.2.3, autobahn 26.11.1):
# - onConnect and onClose, wrapped: a path no charger can be at is refused (400 or 404) before
#   daphne makes an application for it (issue 25, docs/security.md), and daphne never hears of it.
# - handle_exception, replaced: it answers a connection once (17679c9).
# - WebSocketAdapterProtocol.dataReceived, skipped for WebSocketProtocol._dataReceived: it formats
#   a debug line with colours for every chunk and drops it, 1.5 % of the server's time (00f0cfe).
WEBSOCKET_PROTOCOL_UPSTREAM = (
    Upstream("daphne.ws_protocol.WebSocketProtocol.onConnect", "b1ce2efc1874b9b5"),
    Upstream("daphne.ws_protocol.WebSocketProtocol.onClose", "4d3b4d7c66afc2ba"),
    Upstream("daphne.ws_protocol.WebSocketProtocol.handle_exception", "ef9a411cd65cd3eb"),
    Upstream("autobahn.twisted.websocket.WebSocketAdapterProtocol.dataReceived", "7997f762de218433"),
    Upstream("autobahn.websocket.protocol.WebSocketProtocol._dataReceived", "b6616694f9d65410"),
)


class WebSocketProtocol(daphne.ws_protocol.WebSocketProtocol):
    refused_at_the_gate = False

    def onConnect(self, request):
        """A path no charger can be at is refused here with its status (400 or 404), before
        daphne makes an application for it."""
        refusal = self.factory.server_class.websocket_path_refusal(unquote(request.path))
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


# Server below replaces or wraps these (daphne 4.2.3):
# - application_checker and timeout_checker, wrapped to run every 10 s instead of every 1 and
#   2 s: their walks over every connection were 5 % and 3 % of the process's time (86bb1ba:
#   5.1 % of the GIL's time for the reap; afdcc78, 00f0cfe).
# - run's http_factory and ws_factory, swapped as run() makes them: connections come in through
#   the gate (graylogic/server_limits.py: slowloris peers had taken all 20,000 file descriptors)
#   and WebSocket connections are WebSocketProtocol above, closing an oversized message with
#   1009 rather than dropping it (the charger saw 1006) (7e5b44d).
# - create_application, replaced: each connection's input queue is a SingleReaderQueue, not an
#   asyncio.Queue (~2.4 KB less; with protocol_disconnected below, 46.2 -> 39.3 KB per
#   connection at 2,000 chargers, p99 428 -> 310 ms, 1bd9f4d). channels_consumer.InboxConsumer
#   reads that queue directly.
# - protocol_disconnected, wrapped: the HTTP request a WebSocket upgraded from leaves at once.
# - kill_all_applications, replaced: daphne's raises KeyError on a connection without an
#   application, and then cancels no consumer at shutdown (chargers were still answered 14.7 s
#   after SIGTERM, 86bb1ba).
# daphne's protocols use a connection's input queue through put_nowait() only, and the
# application through receive (input_queue.get); the tests check the first.
SERVER_UPSTREAM = (
    Upstream("daphne.server.Server.run", "447c6bd42c62e98c"),
    Upstream("daphne.server.Server.application_checker", "ccb688341a7d0bc1"),
    Upstream("daphne.server.Server.timeout_checker", "6b70373a3a77cb2b"),
    Upstream("daphne.server.Server.create_application", "f1e300b4ecf636c8"),
    Upstream("daphne.server.Server.protocol_disconnected", "c1f5fe8cdedc09dc"),
    Upstream("daphne.server.Server.kill_all_applications", "4e1618c6f7871758"),
    Upstream("daphne.cli.CommandLineInterface.run", "039cb21244f402ac"),
)


class Server(daphne.server.Server):
    """daphne walks every connection each second to reap finished ones, and every two seconds
    to check timeouts and pings: with 10,000 chargers that was 5 % and 3 % of the process's
    time (bench/README.md). Every ten seconds is enough for both: a finished connection's
    memory waits that long, a handshake that never completes or a WebSocket ping after 20 s
    of silence up to 10 s more."""

    REAP_EVERY_N_S = 10
    CHECK_TIMEOUTS_EVERY_N_CALLS = 5  # daphne calls it every 2 s
    _reap_ticks = 0
    _timeout_ticks = 0

    def __init__(self, *args, websocket_path_refusal: PathRefusal, **kwargs):
        super().__init__(*args, **kwargs)
        self.websocket_path_refusal = websocket_path_refusal

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
        factory.protocol = WebSocketProtocol
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
        if isinstance(protocol, WebSocketProtocol):
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


class CommandLineInterface(daphne.cli.CommandLineInterface):
    """daphne's command line, serving with Server above; WebSocket paths are first put to
    `websocket_path_refusal`."""

    def __init__(self, *, websocket_path_refusal: PathRefusal):
        super().__init__()
        self.server_class = functools.partial(Server, websocket_path_refusal=websocket_path_refusal)


UPSTREAM = (*WEBSOCKET_PROTOCOL_UPSTREAM, *SERVER_UPSTREAM)
