"""A charger's messages while the database is down (issue 25, item 10): each is answered with
a CALLERROR InternalError (the charger retries its transaction messages later), the outage is
a few log lines instead of a traceback per message, the connection stays, and once the
database is back the same connection's messages are stored again.

The outage is real and bounded, as in tests/database_outage.py: a PostgreSQL database
of this test's own refuses connections for a few seconds (on both suite runs)."""

import asyncio
import datetime as dt
import json
import uuid

import psycopg
import pytest

from tests.conftest import start_server, stop_server
from tests.database_outage import database_down, dedicated_database, make_chargers_in
from tests.ocpp_client import RawCharger, open_socket
from tests.services import require_service

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "outage-messages-password-1"
MESSAGES_DURING = 30


def frame(action: str, payload: dict) -> str:
    return json.dumps([2, str(uuid.uuid4()), action, payload])


def meter_values(transaction_id: int, register_wh: int) -> str:
    at = dt.datetime.now(dt.UTC).isoformat()
    sample = {"value": str(register_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
    payload = {
        "connectorId": 1,
        "transactionId": transaction_id,
        "meterValue": [{"timestamp": at, "sampledValue": [sample]}],
    }
    return frame("MeterValues", payload)


def test_messages_during_a_database_outage_get_internal_error_and_the_connection_recovers(django_db_setup, tmp_path):
    require_service("PostgreSQL", "127.0.0.1", 5432)
    with dedicated_database("outage_messages") as (url, name):
        [(charger_id, _)] = make_chargers_in(url, {"password": PASSWORD})
        process, server = start_server(tmp_path, {"DATABASE_URL": url})
        try:

            async def scenario():
                raw = RawCharger(await open_socket(server, charger_id, password=PASSWORD))
                now = dt.datetime.now(dt.UTC).isoformat()
                start = {"connectorId": 1, "idTag": "RFID1", "meterStart": 1000, "timestamp": now}
                transaction_id = (await raw.send_frame(frame("StartTransaction", start)))[2]["transactionId"]
                logged_before = server.log_path.read_text().count("\n")
                with database_down(name):
                    during = [
                        await raw.send_frame(meter_values(transaction_id, 1000 + n)) for n in range(MESSAGES_DURING)
                    ]
                    stop = {"transactionId": transaction_id, "meterStop": 2000, "timestamp": now}
                    during.append(await raw.send_frame(frame("StopTransaction", stop)))
                    logged = server.log_path.read_text().splitlines()[logged_before:]
                # Back: the charger retries, on the same connection, until it is answered.
                for attempt in range(50):
                    after = await raw.send_frame(meter_values(transaction_id, 5000 + attempt))
                    if after[0] == 3:
                        break
                    await asyncio.sleep(0.2)
                stopped = await raw.send_frame(frame("StopTransaction", {**stop, "meterStop": 6000}))
                await raw.ws.close()
                return during, logged, after, stopped

            during, logged, after, stopped = asyncio.run(scenario())

            assert [(a[0], a[2]) for a in during] == [(4, "InternalError")] * (MESSAGES_DURING + 1), during[:3]
            assert not any("Traceback" in line for line in logged), "\n".join(logged[:40])
            outage_lines = [line for line in logged if "database" in line.lower()]
            assert 1 <= len(outage_lines) <= 5, "\n".join(logged[:40])
            assert after[0] == 3 and stopped[0] == 3, (after, stopped)
            with psycopg.connect(url, autocommit=True) as db:
                register = db.execute(
                    "SELECT max(value) FROM charging_sessions_metersample WHERE reported_transaction_id IS NOT NULL"
                ).fetchone()[0]
                energy = db.execute("SELECT energy_wh FROM charging_sessions_chargingsession").fetchone()[0]
            assert register >= 5000, "the retried MeterValues is stored"
            assert energy == 5000, "the retried StopTransaction closed the session"
            assert process.poll() is None
        finally:
            stop_server(process)
