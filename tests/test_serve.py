"""`manage.py serve` (what bin/run starts): stops promptly on SIGTERM, runs its jobs, frees what requests used."""

import asyncio
import datetime as dt
import json
import os
import subprocess
import threading
import time
import urllib.request

import pytest
from django.db import connection
from django.utils import timezone
from ocpp.v16 import call
from websockets.exceptions import ConnectionClosed

from chargers.models import Charger, ChargerCommand
from tests.conftest import start_server, stop_server
from tests.factories import make_charger
from tests.ocpp_client import AnsweringCharger, eventually, library_charger, open_socket

pytestmark = pytest.mark.django_db(transaction=True)


def test_sigterm_stops_the_server_even_while_a_job_waits_on_a_charger(django_db_setup, tmp_path):
    process, server = start_server(tmp_path)
    charger = make_charger()
    stop_charger = threading.Event()

    async def slow_charger():
        async with library_charger(server, charger.charge_point_id, charge_point_class=AnsweringCharger) as cp:
            cp.delays["SetChargingProfile"] = 60  # energy control's profile waits on this
            await cp.call(call.BootNotification(charge_point_vendor="Slow", charge_point_model="Box"))
            while not stop_charger.is_set():
                await asyncio.sleep(0.1)

    charger_thread = threading.Thread(target=asyncio.run, args=(slow_charger(),), daemon=True)
    charger_thread.start()
    try:
        assert eventually(lambda: ChargerCommand.objects.filter(action="GetConfiguration").exists(), 15)
        time.sleep(1)  # the control run is now waiting for the charger's answer
        started = time.monotonic()
        process.terminate()
        process.wait(timeout=10)
        assert time.monotonic() - started < 10
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    finally:
        stop_charger.set()
        charger_thread.join(timeout=5)


def test_sigterm_right_after_a_charger_connects_stops_busy_chargers(django_db_setup, tmp_path):
    """daphne's shutdown raised KeyError on a WebSocket handshake not yet reaped (it reaps every
    few seconds): no consumer was cancelled, and the final write of meter samples then waited
    for as long as busy chargers kept sending them."""
    process, server = start_server(tmp_path)
    busy = [make_charger() for _ in range(10)]
    arriving = make_charger()
    stopped_at: list[float] = []
    last_answer_at: list[float] = []

    def meter_values(n: int) -> str:
        at = (dt.datetime(2026, 1, 13, tzinfo=dt.UTC) + dt.timedelta(seconds=n)).isoformat()
        sample = {"value": str(n), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
        payload = {"connectorId": 1, "meterValue": [{"timestamp": at, "sampledValue": [sample]}]}
        return json.dumps([2, f"mv{n}", "MeterValues", payload])

    async def send_until_the_server_goes(charger) -> None:
        """In bursts, without waiting for answers: samples are always waiting to be written."""
        ws = await open_socket(server, charger.charge_point_id)

        async def read_answers() -> None:
            async for _ in ws:
                last_answer_at.append(time.monotonic())

        reader = asyncio.create_task(read_answers())
        try:
            for n in range(300):  # 15 s
                for k in range(50):
                    await ws.send(meter_values(n * 50 + k))
                await asyncio.sleep(0.05)
        except ConnectionClosed:  # the server went away
            pass
        reader.cancel()

    async def stop_as_a_charger_arrives() -> None:
        await asyncio.sleep(1)
        await open_socket(server, arriving.charge_point_id)
        process.terminate()
        stopped_at.append(time.monotonic())

    async def scenario() -> None:
        await asyncio.gather(stop_as_a_charger_arrives(), *(send_until_the_server_goes(c) for c in busy))

    try:
        asyncio.run(scenario())
        assert max(last_answer_at) - stopped_at[0] < 2
        assert process.wait(timeout=10) == 0
    finally:
        stop_server(process)


def test_the_embedded_scheduler_runs_the_stale_sweep(django_db_setup, tmp_path):
    silent = make_charger(is_connected=True, last_seen_at=timezone.now() - dt.timedelta(hours=1))
    process, _ = start_server(tmp_path, {"OCPP_STALE_SWEEP_INTERVAL": "1"})
    try:
        # The server resets connection flags at start, so mark it connected again afterwards.
        Charger.objects.filter(pk=silent.pk).update(is_connected=True)
        assert eventually(lambda: not Charger.objects.get(pk=silent.pk).is_connected, 15)
        assert silent.events.filter(kind="stale").exists()
    finally:
        stop_server(process)


def _server_database_connections(process: subprocess.Popen) -> int:
    """Database connections the server process holds open right now."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return cursor.fetchone()[0]
    database_file = os.path.realpath(connection.settings_dict["NAME"])
    fd_dir = f"/proc/{process.pid}/fd"
    open_files = []
    for fd in os.listdir(fd_dir):
        try:
            open_files.append(os.readlink(os.path.join(fd_dir, fd)))
        except FileNotFoundError:
            continue  # the server closed this descriptor after listdir saw it
    return open_files.count(database_file)


def test_http_requests_do_not_leave_database_connections_open(django_db_setup, tmp_path):
    """Each ASGI request runs in a thread of its own; its connection must not outlive it."""
    process, server = start_server(tmp_path)
    try:
        before = _server_database_connections(process)
        for _ in range(40):
            with urllib.request.urlopen(f"{server.http_url}/healthz", timeout=5) as response:
                assert response.status == 200
        assert _server_database_connections(process) <= before + 1
    finally:
        stop_server(process)
