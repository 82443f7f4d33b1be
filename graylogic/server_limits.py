"""The server's gate: what a peer that has not yet sent a whole request may hold.

A slowloris peer opens thousands of connections and trickles one header line every few seconds:
twisted's idle timeout restarts at every byte, so each connection lived for ever and 20,000 of
them took every file descriptor. Here a connection must deliver each whole request (headers and
body) within `REQUEST_DEADLINE_S` of connecting or of its previous response, and an address may
have only `WAITING_PER_ADDRESS` connections waiting for a request at once; the excess is closed
as it arrives. Real chargers and browsers send a request in one go, so they wait milliseconds.
Once a request is in, its WebSocket handshake is bounded by daphne's own handshake timeout.
"""

import ipaddress
import logging
import resource
import time
from collections import Counter
from dataclasses import dataclass, field

from daphne.http_protocol import HTTPFactory
from twisted.internet.protocol import Protocol
from twisted.web import http

logger = logging.getLogger(__name__)

REQUEST_DEADLINE_S = 10.0
WAITING_PER_ADDRESS = 50
# A quarter of the process's file descriptors at most wait for a request, whoever sends them:
# the rest stay for chargers, the database and logs.
WAITING_SHARE_OF_FILE_DESCRIPTORS = 4
# The largest WebSocket message read at all. Up to it, the consumer answers a frame over
# OCPP_MAX_FRAME_BYTES with a CALLERROR; beyond it the server closes with 1009 (too big).
WEBSOCKET_MESSAGE_HARD_CAP_BYTES = 4 * 1024 * 1024
LOG_INTERVAL_S = 60.0


def address_key(host: str) -> str:
    """Whom a limit counts against: an IPv4 address, or an IPv6 /64 (one subscriber's prefix:
    counting single IPv6 addresses would give an attacker 2**64 budgets)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host  # a UNIX socket's peer: all such peers share one budget
    if address.version == 4:
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.ip_network(f"{address}/64", strict=False))


def waiting_total_cap() -> int:
    soft_limit, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(WAITING_PER_ADDRESS, soft_limit // WAITING_SHARE_OF_FILE_DESCRIPTORS)


@dataclass
class WaitingConnections:
    """How many connections wait for a whole request, per address and in total."""

    per_address: int
    total: int
    by_address: Counter = field(default_factory=Counter)
    count: int = 0

    def enter(self, key: str) -> bool:
        """Counts one more waiting connection for `key`, unless a cap is reached."""
        if self.by_address[key] >= self.per_address or self.count >= self.total:
            return False
        self.by_address[key] += 1
        self.count += 1
        return True

    def leave(self, key: str) -> None:
        self.count -= 1
        self.by_address[key] -= 1
        if self.by_address[key] <= 0:
            del self.by_address[key]


class BurstLog:
    """One line when a burst of one kind of event starts, then one per interval while it lasts,
    with the count per address: a flood must not become a flood of log lines."""

    def __init__(self, message: str, *, interval_s: float = LOG_INTERVAL_S):
        self.message = message
        self.interval_s = interval_s
        self._counts: Counter = Counter()
        self._logged_at = float("-inf")

    def add(self, key: str) -> None:
        self._counts[key] += 1
        now = time.monotonic()
        if now - self._logged_at < self.interval_s:
            return
        worst = ", ".join(f"{key} ({count})" for key, count in self._counts.most_common(5))
        logger.warning("%s: %d in the last %.0f s, from %s", self.message, self._counts.total(), self.interval_s, worst)
        self._counts.clear()
        self._logged_at = now


class Gate:
    """The server's one account of waiting connections, with its two burst logs."""

    def __init__(self, waiting: WaitingConnections, *, deadline_s: float = REQUEST_DEADLINE_S):
        self.waiting = waiting
        self.deadline_s = deadline_s
        self.refused_log = BurstLog(f"connections refused: {waiting.per_address} from the address wait already")
        self.expired_log = BurstLog(f"connections closed: no whole request within {deadline_s:.0f} s")

    def enter(self, key: str) -> bool:
        if self.waiting.enter(key):
            return True
        self.refused_log.add(key)
        return False


class _Refused(Protocol):
    """A connection over the cap: closed at once, before it is read."""

    def connectionMade(self) -> None:
        self.transport.abortConnection()


class GatedHTTPChannel(http.HTTPChannel):
    """An HTTP/1.1 connection that has `deadline_s` to deliver each whole request: from its
    start, and on a kept-alive connection from its previous response."""

    gate: Gate
    gate_key: str
    _deadline = None  # the pending expiry while this connection waits for a request

    def connectionMade(self) -> None:
        super().connectionMade()
        self._deadline = self.callLater(self.gate.deadline_s, self._deadline_passed)  # entered in buildProtocol

    def allContentReceived(self) -> None:
        self._stop_waiting()
        super().allContentReceived()

    def requestDone(self, request) -> None:
        # Waits for the next request before the buffered rest of a pipeline is read.
        if self.persistent and not self._start_waiting():
            self.persistent = False  # over the cap: closed after this response
        super().requestDone(request)

    def connectionLost(self, reason) -> None:
        self._stop_waiting()
        super().connectionLost(reason)

    def _start_waiting(self) -> bool:
        if not self.gate.enter(self.gate_key):
            return False
        self._deadline = self.callLater(self.gate.deadline_s, self._deadline_passed)
        return True

    def _stop_waiting(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
            self.gate.waiting.leave(self.gate_key)

    def _deadline_passed(self) -> None:
        self._deadline = None
        self.gate.waiting.leave(self.gate_key)
        self.gate.expired_log.add(self.gate_key)
        self.timeoutConnection()  # closes, and aborts if the peer does not let go


class GatedHTTPFactory(HTTPFactory):
    """daphne's HTTP factory with every connection admitted through the gate. HTTP/1.1 only:
    chargers never speak HTTP/2, and the gate counts requests of HTTP/1.1 connections."""

    protocol = GatedHTTPChannel

    def __init__(self, server, gate: Gate):
        super().__init__(server)
        self.gate = gate

    def buildProtocol(self, addr) -> Protocol:
        key = address_key(str(getattr(addr, "host", "")))
        if not self.gate.enter(key):
            return _Refused()
        channel = super().buildProtocol(addr)
        channel.gate, channel.gate_key = self.gate, key
        return channel

    def acceptableProtocols(self) -> list[bytes]:
        return [b"http/1.1"]
