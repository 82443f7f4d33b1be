"""Profile pacing as a real site has it (issue 28), end to end: a live server with pacing on,
readings over the API whose surplus changes every few seconds, and a charger that is not the
server's own library (tests/chargepoint_sim.py) noting when each profile arrives. It gets at most
one a minute, the solar limit still follows the sun, and the owner's own change goes at once."""

import asyncio
import itertools
import time

import pytest
from rest_framework.authtoken.models import Token

from energy.models import LimitDecision, SolarCharging
from energy.sending import DEFERRED
from energy.sources import LimitSource
from tests.api.helpers import http_json, make_user
from tests.chargepoint_sim import NOMINAL_VOLTAGE_V, sim_charger
from tests.conftest import start_server, stop_server
from tests.factories import make_charger, make_id_tag, make_site
from tests.ocpp_client import eventually, in_a_thread

PASSWORD = "pw-123456"
PROFILE_SPACING_S = 60
# The surplus the readings say, in turn. Any two differ enough that the car's limit must follow
# within the minute (1 kW less, or half as much again), not wait ten minutes as an adjustment.
# Each is whole tenths of an amp on one phase (10.0, 20.0, 31.3 A): the test charger checks frames
# with jsonschema, whose float `multipleOf` check calls 8.6 no multiple of 0.1.
SURPLUS_LEVELS_W = (2300, 4600, 7200)
READING_EVERY_S = 2.5
# Enough for the boot's fuse limit, the car's first solar limit a minute later and one more.
PART_ONE_DEADLINE_S = 150


@pytest.fixture
def paced_server(profile_pacing, django_db_setup, tmp_path):
    """A live server started after `profile_pacing`: it paces as production does."""
    process, server = start_server(tmp_path)
    yield server
    stop_server(process)


def timed(cp) -> list[tuple[float, str, dict]]:
    """(monotonic arrival, action, payload) of every CALL the server sends the charger from now."""
    arrivals: list[tuple[float, str, dict]] = []
    on_call = cp._on_call

    async def noting(unique_id: str, action: str, payload: dict) -> None:
        arrivals.append((time.monotonic(), action, payload))
        await on_call(unique_id, action, payload)

    cp._on_call = noting
    return arrivals


def profile_limits(arrivals, purpose: str) -> list[tuple[float, float]]:
    """(arrival, first period's limit) of each SetChargingProfile of a purpose."""
    return [
        (at, float(payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"]))
        for at, action, payload in arrivals
        if action == "SetChargingProfile" and payload["csChargingProfiles"]["chargingProfilePurpose"] == purpose
    ]


def lowered_fuse_limit(arrivals, index: int) -> bool:
    """Whether the profile at `index` is a ChargePointMaxProfile below the one before it: pacing
    lets that go at once."""
    _, action, payload = arrivals[index]
    if action != "SetChargingProfile":
        return False
    profile = payload["csChargingProfiles"]
    if profile["chargingProfilePurpose"] != "ChargePointMaxProfile":
        return False
    earlier = profile_limits(arrivals[:index], "ChargePointMaxProfile")
    limit = float(profile["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"])
    return not earlier or limit < earlier[-1][1]


@pytest.mark.timeout(240)
@pytest.mark.django_db(transaction=True)
def test_a_paced_charger_gets_a_profile_a_minute_follows_the_sun_and_the_owner_goes_at_once(paced_server):
    site = make_site(circuit_limit_a=32, min_interval_s=1)
    SolarCharging.objects.create(
        site=site, enabled=True, mode="solar_only", start_delay_s=0, update_interval_s=1, window_s=1
    )
    charger = make_charger(site=site, password=PASSWORD, phases=1, max_power_w=7400)
    make_id_tag(id_tag="RFID1")
    token = Token.objects.create(user=make_user(sites=(site,))).key

    async def scenario():
        async with sim_charger(paced_server, charger.charge_point_id, password=PASSWORD, phases=1, boot=False) as cp:
            arrivals = timed(cp)
            began = time.monotonic()
            await cp.boot()
            await cp.start()
            # Part 1: the surplus changes every few seconds until the solar limit has changed
            # once after the car's first one (bounded).
            step = 0
            while time.monotonic() - began < PART_ONE_DEADLINE_S:
                # Never the level the car's limit holds: each reading is a change for it.
                levels = list(SURPLUS_LEVELS_W)
                if held := profile_limits(arrivals, "TxProfile")[-1:]:
                    levels.remove(min(levels, key=lambda w: abs(w / NOMINAL_VOLTAGE_V - held[0][1])))
                surplus_w = levels[step % len(levels)]
                status, body = await in_a_thread(
                    http_json,
                    paced_server,
                    "POST",
                    "/api/v1/energy/readings",
                    token=token,
                    body={"grid_w": -surplus_w},
                )
                assert status == 201, body
                step += 1
                if len({limit for _, limit in profile_limits(arrivals, "TxProfile")}) >= 2:
                    break
                await asyncio.sleep(READING_EVERY_S)
            part_one = list(arrivals)
            # Part 2: right after a profile, the owner turns the car off over HTTP.
            asked = time.monotonic()
            off = await in_a_thread(
                http_json,
                paced_server,
                "PUT",
                f"/api/v1/chargers/{charger.charge_point_id}/mode",
                token=token,
                body={"mode": "off"},
            )
            await cp.wait_for(lambda: cp.effective_limit_a() == 0, timeout=10, what="the owner's pause")
            paused_after_s = time.monotonic() - asked
            return began, part_one, asked, off, paused_after_s, cp.effective_limit_a()

    began, part_one, asked, (off_status, off_body), paused_after_s, limit_a = asyncio.run(scenario())

    profile_calls = [
        i for i, (_, action, _) in enumerate(part_one) if action in ("SetChargingProfile", "ClearChargingProfile")
    ]
    timeline = [
        (round(part_one[i][0] - began, 1), part_one[i][1], profile_limits(part_one[i : i + 1], "TxProfile"))
        for i in profile_calls
    ]
    # No two profiles within a minute, but for a lowered fuse limit (or the boot's first).
    for before, after in itertools.pairwise(profile_calls):
        gap_s = part_one[after][0] - part_one[before][0]
        assert gap_s >= PROFILE_SPACING_S - 1 or lowered_fuse_limit(part_one, after), timeline
    # Pacing slows the solar limit; it does not freeze it.
    solar = profile_limits(part_one, "TxProfile")
    assert len({limit for _, limit in solar}) >= 2, timeline
    # The readings that came faster than the minute were recorded as waiting.
    assert LimitDecision.objects.filter(charger=charger, outcome=DEFERRED).exists()
    # The owner's change did not wait for the minute since the last profile.
    assert asked - part_one[profile_calls[-1]][0] < PROFILE_SPACING_S / 2, timeline
    assert (off_status, off_body["mode"]) == (200, "off")
    assert limit_a == 0
    assert paused_after_s < 5, paused_after_s
    # Recorded once the charger answered; the pause is the mode's.
    assert eventually(
        lambda: LimitDecision.objects.filter(charger=charger, limit_w=0, source=LimitSource.MODE).exists()
    )
