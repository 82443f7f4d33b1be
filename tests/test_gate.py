"""The server's gate (`manage.py serve`): hostile handshakes, paths and frame sizes get a clear
answer, and half-open connections cannot keep a real charger or the health check out."""

import asyncio
import json
import socket
import time
import urllib.error
import urllib.request

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from graylogic.server_limits import REQUEST_DEADLINE_S, SLOW_AFTER_S, SLOW_PER_ADDRESS, WaitingConnections, address_key
from tests.chargepoint_sim import sim_charger
from tests.chargers.test_tls import tls_server  # noqa: F401  (a fixture)
from tests.conftest import (
    start_server,
    stop_server,
)
from tests.factories import make_charger
from tests.field.test_fuses_from_the_first_second import plain_daphne  # noqa: F401  (a fixture)
from tests.ocpp_client import open_socket, raw_frames_then_heartbeat

MIB = 1024 * 1024
ATTACKER = "127.0.0.2"  # another loopback address, so the charger's own address keeps its budget

REFUSED_PATHS = [
    # (what, path, status from `manage.py serve`)
    ("a dot-dot with an encoded slash", "/ocpp/..%2Fadmin", 404),
    ("an encoded slash inside the id", "/ocpp/a%2Fb", 404),
    ("an encoded NUL inside the id", "/ocpp/a%00b", 400),
    ("an encoded control character", "/ocpp/a%0Ab", 400),
    ("a path that is not /ocpp/", "/elsewhere", 404),
]


async def _handshake_status(server, path: str) -> int:
    with pytest.raises(InvalidStatus) as refused:
        await websockets.connect(f"{server.ws_url}{path}", subprotocols=["ocpp1.6"], open_timeout=10)
    return refused.value.response.status_code


def _raw_handshake_status_line(server, path: str) -> bytes:
    """What comes back to a hand-written handshake: an HTTP status line, not a dropped socket."""
    port = int(server.http_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n".encode()
        )
        return sock.makefile("rb").readline()


@pytest.fixture(scope="module")
def quiet_server(django_db_setup, django_db_blocker, tmp_path_factory):
    """A server of this module's own: its log holds only what these tests did (the shared one
    may still be finishing another test's work)."""
    process, server = start_server(tmp_path_factory.mktemp("gate"))
    yield server
    stop_server(process)


@pytest.mark.parametrize(("what", "path", "status"), REFUSED_PATHS, ids=[p[0] for p in REFUSED_PATHS])
def test_a_path_no_charger_can_be_at_is_refused_with_its_status(quiet_server, what, path, status):
    assert asyncio.run(_handshake_status(quiet_server, path)) == status
    assert _raw_handshake_status_line(quiet_server, path).startswith(f"HTTP/1.1 {status} ".encode())


def test_paths_no_charger_can_be_at_leave_no_traceback(quiet_server):
    logged_before = quiet_server.log_path.stat().st_size
    for _, path, _ in REFUSED_PATHS:
        asyncio.run(_handshake_status(quiet_server, path))
    time.sleep(11)  # daphne logs a failed application when it reaps it: every 10 s under serve
    with quiet_server.log_path.open() as log:
        log.seek(logged_before)
        assert "Traceback" not in log.read()


@pytest.mark.django_db(transaction=True)
def test_plain_daphne_refuses_such_paths_too_without_a_traceback(plain_daphne):  # noqa: F811
    logged_before = plain_daphne.log_path.stat().st_size
    for _, path, _ in REFUSED_PATHS:
        assert asyncio.run(_handshake_status(plain_daphne, path)) == 403  # all daphne can answer
    time.sleep(1.5)  # plain daphne reaps every second
    with plain_daphne.log_path.open() as log:
        log.seek(logged_before)
        assert "Traceback" not in log.read()


@pytest.mark.django_db(transaction=True)
def test_a_frame_over_the_ocpp_limit_but_under_the_hard_cap_gets_a_callerror(ocpp_server):
    """daphne's default 1 MiB cap used to drop such a frame with 1006 before the consumer saw it."""
    charger = make_charger()
    frame = json.dumps([2, "big1", "DataTransfer", {"vendorId": "x", "data": "A" * (2 * MIB)}])

    answer, after = raw_frames_then_heartbeat(ocpp_server, charger.charge_point_id, frame)
    assert answer[:3] == [4, "big1", "FormationViolation"]
    assert after[0] == 3, "the charger stays connected"


@pytest.mark.django_db(transaction=True)
def test_a_frame_over_the_hard_cap_is_closed_with_1009_message_too_big(ocpp_server):
    charger = make_charger()
    frame = json.dumps([2, "huge1", "DataTransfer", {"vendorId": "x", "data": "A" * (5 * MIB)}])

    async def scenario():
        ws = await open_socket(ocpp_server, charger.charge_point_id)
        await ws.send(frame)
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(10):
                while True:
                    await ws.recv()  # the server may send a profile first
        return closed.value.rcvd

    received_close = asyncio.run(scenario())
    assert received_close is not None, "the server sent a close frame, not a dropped connection (1006)"
    assert received_close.code == 1009


async def _trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, first: bytes, line: bytes) -> float:
    """Sends `first`, then `line` every second; returns when the server closes the connection,
    with how long that took."""
    started = time.monotonic()
    writer.write(first)
    try:
        while True:
            try:
                if await asyncio.wait_for(reader.read(1024), timeout=1.0) == b"":
                    break
            except TimeoutError:
                writer.write(line)
                await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()
    return time.monotonic() - started


async def _kept_alive_then_trickled(port: int) -> float:
    """One whole request on a kept-alive connection, then the next one trickled: returns how
    long after the first response the server closed the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    length = int(
        next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")).split(b":")[1]
    )
    await reader.readexactly(length)
    return await _trickle(reader, writer, b"GET /healthz HTTP/1.1\r\n", b"X-Slow: 1\r\n")


@pytest.mark.django_db(transaction=True)
def test_half_open_connections_keep_neither_a_charger_nor_the_health_check_out(django_db_setup, tmp_path):
    """300 connections from one address trickle their request a line a second (slowloris): those
    over the per-address cap are closed once they turn slow, new ones from that address at once,
    the rest at the request deadline; meanwhile a charger from another address connects and
    boots, /healthz answers, and a kept-alive connection also has a deadline for its next request."""
    make_charger(charge_point_id="GATE-1", password="pw-123456")
    process, server = start_server(tmp_path)
    port = int(server.http_url.rsplit(":", 1)[1])
    trickling_headers = b"GET /ocpp/GATE-1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    trickling_body = b"POST /api/v1/chargers HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n"

    async def closed_at_once() -> float:
        return 0.0

    async def attacker_connection(first: bytes, line: bytes) -> asyncio.Task:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(ATTACKER, 0))
        except ConnectionResetError:  # refused before the connect returned: the address is at its cap
            return asyncio.create_task(closed_at_once())
        return asyncio.create_task(_trickle(reader, writer, first, line))

    async def scenario() -> dict:
        kept_alive = asyncio.create_task(_kept_alive_then_trickled(port))
        half_open = [await attacker_connection(trickling_body, b"x") for _ in range(10)]
        half_open += [await attacker_connection(trickling_headers, b"X-Slow: 1\r\n") for _ in range(290)]
        await asyncio.sleep(SLOW_AFTER_S + 2)
        seen = {"closed once slow or at once": sum(task.done() for task in half_open)}
        late = await attacker_connection(trickling_headers, b"X-Slow: 1\r\n")
        try:
            async with asyncio.timeout(SLOW_AFTER_S):
                await late
            seen["late one closed at once"] = True
        except TimeoutError:
            seen["late one closed at once"] = False
        seen["still waiting"] = sum(not task.done() for task in half_open)
        async with sim_charger(server, "GATE-1", password="pw-123456", boot=False) as cp:
            seen["boot"] = await cp.boot()
        seen["health"] = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"{server.http_url}/healthz", timeout=5).status
        )
        async with asyncio.timeout(30):
            seen["lifetimes"] = await asyncio.gather(*half_open)
            seen["kept alive"] = await kept_alive
        return seen

    try:
        seen = asyncio.run(scenario())
    finally:
        stop_server(process)
    assert seen["closed once slow or at once"] == 300 - SLOW_PER_ADDRESS
    assert seen["late one closed at once"]
    assert seen["still waiting"] == SLOW_PER_ADDRESS
    assert seen["boot"]["status"] == "Accepted"
    assert seen["health"] == 200
    assert min(sorted(seen["lifetimes"])[-SLOW_PER_ADDRESS:]) >= REQUEST_DEADLINE_S - 1, "closed at the deadline"
    assert seen["kept alive"] >= REQUEST_DEADLINE_S - 1
    log = server.log_path.read_text()
    assert log.count("without a request after") == 1, "one line for the burst, not one per connection"
    assert log.count("no whole request within") == 1
    assert "Traceback" not in log


async def _one_request(port: int, host: str, keep: list | None = None) -> bytes:
    """GET /healthz from `host`; the connection is kept open in `keep` if given."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(host, 0))
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    if keep is None:
        writer.close()
    else:
        keep.append(writer)
    return head


def test_idle_kept_alive_connections_are_not_slow(ocpp_server):
    """A browser's or a proxy's pool of kept-alive connections idles between requests: 60 of them
    from one address must not get that address's new connections refused."""
    port = int(ocpp_server.http_url.rsplit(":", 1)[1])
    pool_address = "127.0.0.3"

    async def scenario() -> bytes:
        pool: list = []
        for _ in range(SLOW_PER_ADDRESS + 10):
            await _one_request(port, pool_address, keep=pool)
        await asyncio.sleep(SLOW_AFTER_S + 1)
        try:
            return await _one_request(port, pool_address)
        finally:
            for writer in pool:
                writer.close()

    assert asyncio.run(scenario()).startswith(b"HTTP/1.1 200 ")


@pytest.mark.django_db(transaction=True)
def test_a_tls_connection_that_never_finishes_its_handshake_is_closed_at_the_deadline(tls_server):  # noqa: F811
    server, _ = tls_server
    port = int(server.http_url.rsplit(":", 1)[1])

    async def silent_then_trickled() -> float:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        async with asyncio.timeout(30):
            # A handshake record of 512 bytes, a byte a second: a ClientHello that never ends.
            return await _trickle(reader, writer, b"\x16\x03\x01\x02\x00", b"\x01")

    assert asyncio.run(silent_then_trickled()) >= REQUEST_DEADLINE_S - 1


@pytest.mark.django_db(transaction=True)
def test_a_burst_from_many_addresses_leaves_the_connected_chargers_their_file_descriptors(django_db_setup, tmp_path):
    """With 1,024 file descriptors at most 256 connections wait for a request: a burst of 400
    from eight addresses (none slow yet) gets the rest closed at once, and a charger that was
    connected keeps being answered."""
    make_charger(charge_point_id="GATE-3", password="pw-123456")
    process, server = start_server(tmp_path, file_descriptors=1024)
    port = int(server.http_url.rsplit(":", 1)[1])

    async def scenario() -> tuple[int, dict]:
        async with sim_charger(server, "GATE-3", password="pw-123456") as cp:
            connections = []
            for n in range(400):
                try:
                    connections.append(
                        await asyncio.open_connection("127.0.0.1", port, local_addr=(f"127.0.0.{10 + n % 8}", 0))
                    )
                except ConnectionResetError:  # refused before the connect returned
                    continue
            await asyncio.sleep(0.5)
            refused = 400 - len(connections)
            for reader, _ in connections:
                try:
                    if await asyncio.wait_for(reader.read(1), timeout=0.01) == b"":
                        refused += 1
                except TimeoutError:
                    pass  # still open, waiting for its request
                except ConnectionError:
                    refused += 1
            heartbeat = await cp.call("Heartbeat", {})
            for _, writer in connections:
                writer.close()
            return refused, heartbeat

    try:
        refused, heartbeat = asyncio.run(scenario())
    finally:
        stop_server(process)
    assert 400 - refused <= 1024 // 4
    assert refused >= 400 - 1024 // 4 - 1  # the charger's own connection is not waiting
    assert "currentTime" in heartbeat


ADDRESS_KEYS = [
    # (peer address, whom it counts against)
    ("192.0.2.7", "192.0.2.7"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
    ("::ffff:192.0.2.7", "192.0.2.7"),
    ("", ""),  # a UNIX socket's peer
]


@pytest.mark.parametrize(("host", "key"), ADDRESS_KEYS)
def test_a_limit_counts_against_an_ipv4_address_or_an_ipv6_prefix(host, key):
    assert address_key(host) == key


def test_an_address_is_refused_at_its_slow_cap_and_everyone_at_the_waiting_cap():
    waiting = WaitingConnections(slow_per_address=2, cap=3)
    assert [waiting.turn_slow("a"), waiting.turn_slow("a"), waiting.turn_slow("a")] == [True, True, False]
    assert not waiting.admits("a") and waiting.admits("b")
    waiting.slow_one_gone("a")
    assert waiting.admits("a")
    waiting.count = 3  # three connections wait for their request, slow or not
    assert not waiting.admits("b")
    waiting.count = 2
    assert waiting.admits("b")
