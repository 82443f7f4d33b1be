"""Meter samples are written in group commits (graylogic/group_commit.py): none may be lost when
a charger hangs up, when the server stops, or when it crashes."""

import asyncio
import datetime as dt
import json
import signal

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from sessions.models import MeterSample
from tests.conftest import start_server, stop_server
from tests.factories import make_charger, make_site
from tests.ocpp_client import eventually, open_socket

pytestmark = pytest.mark.django_db(transaction=True)

T0 = dt.datetime(2026, 1, 13, 10, 0, tzinfo=dt.UTC)


def meter_values_frame(unique_id: str, n: int) -> str:
    at = (T0 + dt.timedelta(seconds=n)).isoformat().replace("+00:00", "Z")
    payload = {
        "connectorId": 1,
        "meterValue": [
            {
                "timestamp": at,
                "sampledValue": [
                    {"value": str(1000 + n), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                    {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"},
                ],
            }
        ],
    }
    return json.dumps([2, unique_id, "MeterValues", payload])


async def boot(ws) -> None:
    await ws.send(json.dumps([2, "boot", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]))
    while json.loads(await ws.recv())[1] != "boot":
        pass


def stored_timestamps(charger) -> set[dt.datetime]:
    return set(MeterSample.objects.filter(charger=charger).values_list("timestamp", flat=True))


def test_meter_values_sent_just_before_the_charger_hangs_up_are_stored(ocpp_server):
    site = make_site()
    chargers = [make_charger(site=site) for _ in range(10)]

    async def send_and_hang_up(charger) -> None:
        ws = await open_socket(ocpp_server, charger.charge_point_id)
        await boot(ws)
        for n in range(5):
            await ws.send(meter_values_frame(f"mv{n}", n))
        await ws.close()  # without waiting for a single answer

    async def scenario() -> None:
        await asyncio.gather(*(send_and_hang_up(c) for c in chargers))

    asyncio.run(scenario())

    assert eventually(lambda: MeterSample.objects.filter(charger__site=site).count() == 10 * 5 * 2, 10)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["graceful stop", "crash"])
def test_every_acknowledged_sample_survives_the_server_stopping_under_load(django_db_setup, tmp_path, stop):
    site = make_site()
    chargers = [make_charger(site=site) for _ in range(20)]
    process, server = start_server(tmp_path)
    acknowledged: dict[str, set[dt.datetime]] = {c.charge_point_id: set() for c in chargers}

    async def send_until_the_server_goes(charger) -> None:
        try:
            ws = await open_socket(server, charger.charge_point_id)
            await boot(ws)
            for n in range(100_000):
                await ws.send(meter_values_frame(f"mv{n}", n))
                while (answer := json.loads(await ws.recv()))[0] == 2:
                    await ws.send(json.dumps([4, answer[1], "NotSupported", "test charger", {}]))
                assert answer == [3, f"mv{n}", {}]
                acknowledged[charger.charge_point_id].add(T0 + dt.timedelta(seconds=n))
        except (OSError, ConnectionClosed, InvalidStatus):  # the server went away
            pass

    async def scenario() -> None:
        loops = asyncio.gather(*(send_until_the_server_goes(c) for c in chargers))
        await asyncio.sleep(2)
        process.send_signal(stop)
        await asyncio.wait_for(loops, 30)

    try:
        asyncio.run(scenario())
        exit_code = process.wait(timeout=15)
    finally:
        stop_server(process)

    assert sum(map(len, acknowledged.values())) > 200  # the load was real
    for charger in chargers:
        missing = acknowledged[charger.charge_point_id] - stored_timestamps(charger)
        assert not missing, f"{charger}: acknowledged but not stored: {sorted(missing)[:5]}"
    if stop == signal.SIGTERM:
        assert exit_code == 0
