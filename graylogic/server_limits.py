"""The server's gate: what a peer that has not yet sent a whole request may hold.

A slowloris peer opens thousands of connections and trickles one header line every few seconds:
twisted's idle timeout restarts at every byte, so each connection lived for ever and 20,000 of
them took every file descriptor. Here a connection must deliver each whole request (headers and
body) within `REQUEST_DEADLINE_S` of connecting or of its previous response. One still waiting
for its request after `SLOW_AFTER_S` is slow, and an address may hold `SLOW_PER_ADDRESS` slow
connections: beyond that, each one that turns slow is closed, and while the address is at its
cap its new connections are closed as they arrive.

Only slow connections count: real chargers send a request in one go, and when a reconnect storm
makes the server's loop lag, a burst from one address (a NAT, a proxy, the bench's 1,000
chargers) is accepted long before it is read, so counting every waiting connection refused
most of such a burst. Once a request is in, daphne's handshake timeout bounds the rest.
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
SLOW_AFTER_S = 2.0
SLOW_PER_ADDRESS = 50
# At most a quarter of the process's file descriptors wait for a request, whoever holds them
# (a burst of connections from many addresses): the rest stay for chargers, the database and logs.
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


def waiting_cap() -> int:
    soft_limit, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(SLOW_PER_ADDRESS, soft_limit // WAITING_SHARE_OF_FILE_DESCRIPTORS)


@dataclass
class WaitingConnections:
    """Connections waiting for a whole request: how many in all, and how many slow per address."""

    slow_per_address: int
    cap: int
    count: int = 0
    slow_by_address: Counter = field(default_factory=Counter)

    def admits(self, key: str) -> bool:
        """Whether a new connection from `key` is read at all."""
        return self.count < self.cap and self.slow_by_address[key] < self.slow_per_address

    def turn_slow(self, key: str) -> bool:
        """Counts one more slow connection for `key`, unless the address is at its cap."""
        if self.slow_by_address[key] >= self.slow_per_address:
            return False
        self.slow_by_address[key] += 1
        return True

    def slow_one_gone(self, key: str) -> None:
        self.slow_by_address[key] -= 1
        if self.slow_by_address[key] <= 0:
            del self.slow_by_address[key]


class BurstLog:
    """One line when a burst of one kind of event starts, then at most one per interval while it
    lasts, with counts per address: a flood must not become a flood of log lines."""

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
        if self._logged_at == float("-inf"):
            logger.warning("%s: from %s", self.message, worst)
        else:
            since_s = now - self._logged_at
            logger.warning("%s: %d in the last %.0f s, from %s", self.message, self._counts.total(), since_s, worst)
        self._counts.clear()
        self._logged_at = now


class Gate:
    """The server's one account of waiting connections, with its two burst logs."""

    def __init__(
        self, waiting: WaitingConnections, *, slow_after_s: float = SLOW_AFTER_S, deadline_s: float = REQUEST_DEADLINE_S
    ):
        self.waiting = waiting
        self.slow_after_s = slow_after_s
        self.deadline_s = deadline_s
        self.refused_log = BurstLog(
            f"connections closed: over {waiting.slow_per_address} from the address without a request after "
            f"{slow_after_s:.0f} s, or {waiting.cap} waiting in all"
        )
        self.expired_log = BurstLog(f"connections closed: no whole request within {deadline_s:.0f} s")


class _Refused(Protocol):
    """A connection from an address at its cap: closed at once, before it is read."""

    def connectionMade(self) -> None:
        self.transport.abortConnection()


class GatedHTTPChannel(http.HTTPChannel):
    """An HTTP/1.1 connection that has `deadline_s` to deliver each whole request, from its
    start and, kept alive, from its previous response; slow after `slow_after_s` without one."""

    gate: Gate
    gate_key: str
    _slow = False
    _turns_slow = None  # the pending calls while this connection waits for a request
    _deadline = None

    def connectionMade(self) -> None:
        super().connectionMade()
        self._start_waiting()
        self._turns_slow = self.callLater(self.gate.slow_after_s, self._turned_slow)

    def dataReceived(self, data: bytes) -> None:
        # A kept-alive connection idles between requests (a browser's, a proxy's pool): it
        # turns slow only if its next request, once begun, takes too long.
        if self._deadline is not None and self._turns_slow is None and not self._slow:
            self._turns_slow = self.callLater(self.gate.slow_after_s, self._turned_slow)
        super().dataReceived(data)

    def allContentReceived(self) -> None:
        self._stop_waiting()
        super().allContentReceived()

    def requestDone(self, request) -> None:
        if self.persistent:  # before the buffered rest of a pipeline is read
            self._start_waiting()
        super().requestDone(request)

    def connectionLost(self, reason) -> None:
        self._stop_waiting()
        super().connectionLost(reason)

    def _start_waiting(self) -> None:
        self.gate.waiting.count += 1
        self._deadline = self.callLater(self.gate.deadline_s, self._deadline_passed)

    def _stop_waiting(self) -> None:
        if self._deadline is None:
            return  # not waiting
        for call in (self._turns_slow, self._deadline):
            if call is not None and call.active():
                call.cancel()
        self._turns_slow = self._deadline = None
        self.gate.waiting.count -= 1
        if self._slow:
            self._slow = False
            self.gate.waiting.slow_one_gone(self.gate_key)

    def _turned_slow(self) -> None:
        self._turns_slow = None
        if self.gate.waiting.turn_slow(self.gate_key):
            self._slow = True
            return
        self.gate.refused_log.add(self.gate_key)
        self._stop_waiting()
        self.timeoutConnection()  # closes, and aborts if the peer does not let go

    def _deadline_passed(self) -> None:
        self.gate.expired_log.add(self.gate_key)
        self._stop_waiting()
        self.timeoutConnection()


class GatedHTTPFactory(HTTPFactory):
    """daphne's HTTP factory with every connection admitted through the gate. HTTP/1.1 only:
    chargers never speak HTTP/2, and the gate follows HTTP/1.1 requests."""

    protocol = GatedHTTPChannel

    def __init__(self, server, gate: Gate):
        super().__init__(server)
        self.gate = gate

    def buildProtocol(self, addr) -> Protocol:
        key = address_key(str(getattr(addr, "host", "")))
        if not self.gate.waiting.admits(key):
            self.gate.refused_log.add(key)
            return _Refused()
        channel = super().buildProtocol(addr)
        channel.gate, channel.gate_key = self.gate, key
        return channel

    def acceptableProtocols(self) -> list[bytes]:
        return [b"http/1.1"]
