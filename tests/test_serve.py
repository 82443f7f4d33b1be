"""`manage.py serve` (what bin/run starts): it stops promptly on SIGTERM."""

import asyncio
import subprocess
import threading
import time

import pytest
from ocpp.v16 import call

from chargers.models import ChargerCommand
from tests.conftest import start_server
from tests.factories import make_charger
from tests.ocpp_client import AnsweringCharger, eventually, library_charger

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


def test_the_embedded_scheduler_runs_the_stale_sweep(django_db_setup, tmp_path):
    import datetime as dt

    from django.utils import timezone

    from chargers.models import Charger
    from tests.conftest import stop_server

    silent = make_charger(is_connected=True, last_seen_at=timezone.now() - dt.timedelta(hours=1))
    process, _ = start_server(tmp_path, {"OCPP_STALE_SWEEP_INTERVAL": "1"})
    try:
        # The server resets connection flags at start, so mark it connected again afterwards.
        Charger.objects.filter(pk=silent.pk).update(is_connected=True)
        assert eventually(lambda: not Charger.objects.get(pk=silent.pk).is_connected, 15)
        assert silent.events.filter(kind="stale").exists()
    finally:
        stop_server(process)
