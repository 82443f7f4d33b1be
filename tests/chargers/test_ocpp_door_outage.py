"""A charger's handshake while the database is down: refused with an HTTP status (403: daphne
cannot send a 503 to a WebSocket), the outage logged once, no traceback, and the next handshake
after the database is back accepted without a restart. Before: a traceback per handshake and
no HTTP answer at all.

The outage is real and bounded: a PostgreSQL database of this test's own refuses connections
and has its open ones cut for the few handshakes in the block (on both suite runs, since SQLite
has no outage to provoke)."""

import asyncio

import websockets

from tests.conftest import start_server, stop_server
from tests.database_outage import database_down, dedicated_database, make_chargers_in
from tests.ocpp_client import TIMEOUT_S, eventually, open_socket
from tests.services import require_service

PASSWORD = "door-outage-password-1"
HANDSHAKES_DURING_OUTAGE = 20


async def handshake_status(server, charge_point_id: str) -> int:
    """101 when accepted; the refusal's HTTP status otherwise (any other failure raises)."""
    try:
        ws = await open_socket(server, charge_point_id, password=PASSWORD)
    except websockets.InvalidStatus as refused:
        return refused.response.status_code
    await asyncio.wait_for(ws.close(), TIMEOUT_S)
    return 101


def test_a_handshake_during_a_database_outage_is_refused_cleanly_and_accepted_after(django_db_setup, tmp_path):
    require_service("PostgreSQL", "127.0.0.1", 5432)
    with dedicated_database("door_outage") as (url, name):
        [(charger_id, _)] = make_chargers_in(url, {"password": PASSWORD})
        process, server = start_server(tmp_path, {"DATABASE_URL": url})
        try:
            assert asyncio.run(handshake_status(server, charger_id)) == 101
            logged_before = len(server.log_path.read_text().splitlines())

            async def during_the_outage() -> list[int]:
                return [await handshake_status(server, charger_id) for _ in range(HANDSHAKES_DURING_OUTAGE)]

            with database_down(name):
                statuses = asyncio.run(during_the_outage())
            assert statuses == [403] * HANDSHAKES_DURING_OUTAGE

            assert asyncio.run(handshake_status(server, charger_id)) == 101
            log = server.log_path.read_text().splitlines()[logged_before:]
            assert not any("Traceback" in line for line in log), "\n".join(log[:40])
            assert len([line for line in log if "database (charger handshakes) unavailable" in line]) == 1
            assert eventually(lambda: "database (charger handshakes) available again" in server.log_path.read_text())
            assert process.poll() is None
        finally:
            stop_server(process)
