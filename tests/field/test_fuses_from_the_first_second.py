"""Fuses hold from the first second: chargers that are not the server's own library (tests/
chargepoint_sim.py) boot, start together on a small main fuse, and draw what their profiles allow."""

import asyncio
import os
import subprocess
import sys
import time
import urllib.request

import pytest
from asgiref.sync import sync_to_async
from rest_framework.authtoken.models import Token

from tests.api.helpers import http_json, make_user
from tests.chargepoint_sim import SiteMeter, sim_charger
from tests.conftest import ROOT, LiveServer, _database_url, _free_port, stop_server
from tests.factories import make_charger, make_id_tag, make_site

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def plain_daphne(django_db_setup, tmp_path_factory):
    """The product started the other way a Django user would: `daphne graylogic.asgi:application`
    instead of `manage.py serve`. Fuses must hold the same."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("daphne") / "daphne.log"
    env = {**os.environ, "DATABASE_URL": _database_url(), "ENERGY_CONTROL_TICK": "3600"}
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "graylogic.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{server.http_url}/healthz", timeout=1)
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
    yield server
    stop_server(process)


@pytest.fixture(params=["serve", "daphne"])
def any_server(request):
    return request.getfixturevalue("ocpp_server" if request.param == "serve" else "plain_daphne")


def two_22kw_chargers_on_a_16a_fuse():
    """What an installer types: a site with a 16 A main fuse, two 3-phase 22 kW chargers, an owner."""
    site = make_site(circuit_limit_a=16)
    for n in (1, 2):
        make_charger(site=site, charge_point_id=f"FUSE-{n}", password="pw-123456", max_power_w=22000, phases=3)
    return Token.objects.create(user=make_user(sites=(site,))).key


def test_a_booted_charger_holds_a_limit_within_the_fuse_before_it_can_start(any_server):
    two_22kw_chargers_on_a_16a_fuse()

    async def scenario():
        async with sim_charger(any_server, "FUSE-1", password="pw-123456") as cp:
            await cp.wait_for(lambda: cp.profile_of("ChargePointMaxProfile") is not None, timeout=5)
            assert cp.limit_a(floor=False) <= 16
            # ... and the server made sure the charger holds it, before anything else it asks.
            await cp.wait_for(lambda: cp.sent("GetCompositeSchedule"), timeout=5)
            actions = [action for action, _ in cp.calls]
            assert actions.index("SetChargingProfile") < actions.index("GetCompositeSchedule")
            assert "ChangeConfiguration" not in actions[: actions.index("GetCompositeSchedule")]

    asyncio.run(scenario())


def test_two_chargers_started_together_over_the_api_never_exceed_the_main_fuse(any_server):
    token = two_22kw_chargers_on_a_16a_fuse()

    async def scenario():
        meter = SiteMeter(fuse_a=16)
        async with (
            sim_charger(any_server, "FUSE-1", password="pw-123456") as one,
            sim_charger(any_server, "FUSE-2", password="pw-123456") as two,
        ):
            meter.attach(one, two)
            await one.plug_in()
            await two.plug_in()
            answers = await asyncio.gather(
                *(
                    sync_to_async(http_json)(any_server, "POST", f"/api/v1/chargers/{cp.id}/start", token=token)
                    for cp in (one, two)
                )
            )
            assert [status for status, _ in answers] == [200, 200], answers
            for cp in (one, two):
                await cp.wait_for(lambda cp=cp: cp.draw_a >= 6, timeout=15, what="the car charging")
            await asyncio.sleep(1)
            assert meter.peak_a <= 16, (
                "\n".join(map(str, meter.moments)) + "\n" + str(one.calls) + "\n" + str(two.calls)
            )
            assert one.transaction is not None and two.transaction is not None
            assert one.draw_a + two.draw_a <= 16

    asyncio.run(scenario())


def test_a_car_starting_on_a_busy_site_is_answered_after_the_other_car_was_lowered(ocpp_server):
    two_22kw_chargers_on_a_16a_fuse()
    make_id_tag(id_tag="RFID1")  # the household's card, added by the installer

    async def scenario():
        meter = SiteMeter(fuse_a=16)
        async with (
            sim_charger(ocpp_server, "FUSE-1", password="pw-123456") as busy,
            sim_charger(ocpp_server, "FUSE-2", password="pw-123456") as new,
        ):
            meter.attach(busy, new)
            # A car arrives after the boot is over (the server's check of what each charger holds
            # is its last step); a start within milliseconds of a boot is test-only timing.
            for cp in (busy, new):
                await cp.wait_for(lambda cp=cp: cp.sent("GetCompositeSchedule"), what="the boot's end")
            await busy.start()
            await busy.wait_for(lambda: busy.draw_a == 16, what="the first car on the whole fuse")
            await new.start()  # plugs in and starts at once: no time for a scheduled run
            answered_at = next(t for t, what, _ in new.history if what == "answered StartTransaction")
            lowered_at = next(t for t, what, draw in busy.history if what.startswith("set ") and draw < 16)
            assert lowered_at < answered_at
            await new.wait_for(lambda: new.draw_a >= 6, what="the second car charging")
            assert busy.draw_a + new.draw_a <= 16
            assert meter.peak_a <= 16, "\n".join(map(str, meter.moments))

    asyncio.run(scenario())
