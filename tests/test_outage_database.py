"""The database goes away under a running server (`manage.py serve`) and comes back: the log
stays short, the process keeps running, and chargers' messages and the periodic jobs are
stored and run again without a restart. Before: ~300 tracebacks a second, 13 MB in 7 s.

The outage is real and bounded: a PostgreSQL database of this test's own refuses new
connections and has its open ones terminated for a few seconds, then is opened again (on both
suite runs, since SQLite has no outage to provoke)."""

import asyncio
import contextlib
import datetime as dt
import json
import time
import urllib.error
import urllib.request
import uuid

import psycopg
import pytest
from asgiref.sync import sync_to_async
from websockets.exceptions import ConnectionClosed

from tests.conftest import start_server, stop_server
from tests.database_outage import database_down, dedicated_database, make_chargers_in
from tests.ocpp_client import eventually, open_socket
from tests.services import require_service

pytestmark = pytest.mark.django_db(transaction=True)

OUTAGE_S = 5
PASSWORD = "outage-test-password-1"


def meter_values(value: float) -> str:
    at = dt.datetime.now(dt.UTC).isoformat()
    sample = {"value": str(value), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
    payload = {"connectorId": 1, "meterValue": [{"timestamp": at, "sampledValue": [sample]}]}
    return json.dumps([2, str(uuid.uuid4()), "MeterValues", payload])


def health_status(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def send_for(ws, seconds: float, first_value: float) -> None:
    """Send MeterValues every 0.1 s over an open socket; answers (or their absence) during an
    outage are not this test's business (the handshake and message paths have tests of their own)."""
    deadline = time.monotonic() + seconds
    value = first_value
    with contextlib.suppress(ConnectionClosed):
        while time.monotonic() < deadline:
            await ws.send(meter_values(value))
            value += 1
            with contextlib.suppress(TimeoutError):
                while True:  # whatever came back
                    await asyncio.wait_for(ws.recv(), 0.1)


def test_a_database_outage_is_logged_briefly_and_the_server_recovers_by_itself(django_db_setup, tmp_path):
    require_service("PostgreSQL", "127.0.0.1", 5432)
    require_service("Mosquitto", "127.0.0.1", 1883)
    with dedicated_database("outage") as (url, name):
        (charger_id, _), (_, silent_pk) = make_chargers_in(url, {"password": PASSWORD}, {})
        # The stale sweep every second: the jobs loop reads its schedule and runs a job each
        # second through the outage. (Energy control every second would, after it, wait on the
        # test's vanished chargers for its command timeout.)
        # The MQTT bridge re-reads every charger's state each second too.
        mqtt = {"MQTT_URL": "mqtt://127.0.0.1:1883", "MQTT_PREFIX": f"outage-{name}", "MQTT_REFRESH_INTERVAL": "1"}
        process, server = start_server(
            tmp_path, {"DATABASE_URL": url, "OCPP_STALE_SWEEP_INTERVAL": "1", "MQTT_HA_DISCOVERY": "false", **mqtt}
        )
        try:
            with psycopg.connect(url, autocommit=True) as db:

                def samples() -> int:
                    return db.execute(
                        "SELECT count(*) FROM charging_sessions_metersample s JOIN chargers_charger c "
                        "ON c.id = s.charger_id WHERE c.charge_point_id = %s",
                        [charger_id],
                    ).fetchone()[0]

                async def before_and_during_the_outage() -> list[str]:
                    ws = await open_socket(server, charger_id, password=PASSWORD)
                    await send_for(ws, 1, 1000)
                    assert await sync_to_async(eventually)(lambda: samples() > 0, 10)
                    logged_before = server.log_path.read_text().count("\n")
                    with database_down(name):
                        await send_for(ws, OUTAGE_S, 2000)
                        status, body = await sync_to_async(health_status)(server.http_url)
                        assert status == 503 and "database" in body["failed"]
                        logged = server.log_path.read_text().splitlines()[logged_before:]
                    await ws.close()
                    return logged

                during = asyncio.run(before_and_during_the_outage())

            assert process.poll() is None
            # Each MeterValues answered during the outage is recorded by the message path (its
            # own business and tests); everything else is the background paths' log.
            background = [line for line in during if "protocol_error: MeterValues" not in line]
            assert len(background) < 20, "\n".join(background[:40])
            assert not any("Traceback" in line for line in during), "\n".join(during[:40])

            with psycopg.connect(url, autocommit=True) as db:
                stored_before = samples()

                async def after_the_outage() -> None:
                    async with await open_socket(server, charger_id, password=PASSWORD) as ws:
                        await send_for(ws, 2, 3000)

                asyncio.run(after_the_outage())
                # Messages are stored again, without a restart.
                assert eventually(lambda: samples() > stored_before, 20)
                # The periodic jobs run again: the stale sweep notices a charger gone silent.
                db.execute(
                    "UPDATE chargers_charger SET is_connected = true, last_seen_at = now() - interval '1 hour' "
                    "WHERE id = %s",
                    [silent_pk],
                )
                is_connected = "SELECT is_connected FROM chargers_charger WHERE id = %s"
                assert eventually(lambda: not db.execute(is_connected, [silent_pk]).fetchone()[0], 20)
            assert health_status(server.http_url) == (200, {"status": "ok"})
            assert process.poll() is None
        finally:
            stop_server(process)
