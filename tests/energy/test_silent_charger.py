"""A control run decides its batch of sites together, then each site sends its own calls beside
the others': a charger that keeps a run waiting for its answer holds up its own site only. Real
chargers on sockets (tests/chargepoint_sim.py, not the server's ocpp library); the run is made
from this process over Redis, as a Celery worker does."""

import asyncio
import contextlib

import pytest
import redis
from django.db import connections

from chargers.models import HELD_LIMIT_CHECK_REQUESTED_BY, Charger, ChargerCommand
from energy.models import ChargerControl, LimitDecision, Site
from energy.services import site_control_run, sites_control_run
from graylogic.channel_layers import redis_channel_layers
from tests.chargepoint_sim import SimCharger, sim_charger
from tests.conftest import start_server, stop_server
from tests.factories import make_charger, make_site
from tests.ocpp_client import eventually, in_a_thread
from tests.services import require_service

pytestmark = pytest.mark.django_db(transaction=True)

REDIS_URL = "redis://127.0.0.1:6379/10"
# Far longer than any wait below: the held charger's call must still be pending when the other
# site is checked, whatever the machine's speed.
COMMAND_TIMEOUT_S = 60
WAIT_S = 20


@pytest.fixture(scope="module")
def redis_server(django_db_setup, django_db_blocker, tmp_path_factory):
    require_service("Redis", "127.0.0.1", 6379)
    redis.Redis.from_url(REDIS_URL).flushdb()
    process, server = start_server(tmp_path_factory.mktemp("silent-charger"), {"REDIS_URL": REDIS_URL})
    yield server
    stop_server(process)


class HeldCharger(SimCharger):
    """Answers SetChargingProfile only once `release` is set, while `holding` is on; meanwhile it
    keeps reading (and answering) the server's other frames."""

    holding = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.release = asyncio.Event()
        self.held: list[dict] = []  # SetChargingProfile payloads received while holding

    async def _on_call(self, unique_id: str, action: str, payload: dict) -> None:
        if action == "SetChargingProfile" and self.holding:
            self.held.append(payload)
            self._spawn(self._answer_when_released(unique_id, action, payload))
            return
        await super()._on_call(unique_id, action, payload)

    async def _answer_when_released(self, unique_id: str, action: str, payload: dict) -> None:
        await self.release.wait()
        await SimCharger._on_call(self, unique_id, action, payload)


def profile_limits(payloads: list[dict]) -> list[float]:
    return [
        float(payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"])
        for payload in payloads
        if payload["csChargingProfiles"]["chargingProfilePurpose"] == "ChargePointMaxProfile"
    ]


def received_limits(cp: SimCharger) -> list[float]:
    """What the charger was sent, the calls it holds unanswered included."""
    return profile_limits(cp.sent("SetChargingProfile") + getattr(cp, "held", []))


@contextlib.asynccontextmanager
async def held_charger(server, charge_point_id: str):
    """Connected, not yet booted (the test boots it), like sim_charger(boot=False)."""
    charger = HeldCharger(charge_point_id, phases=1)
    await charger.connect(server)
    try:
        yield charger
    finally:
        charger.release.set()
        await charger.close()


def boot_control_done(charger: Charger) -> bool:
    return ChargerCommand.objects.filter(charger=charger, requested_by=HELD_LIMIT_CHECK_REQUESTED_BY).exists()


async def wait_until(check) -> bool:
    return await in_a_thread(eventually, check, WAIT_S)


def two_sites() -> tuple[Site, Site, Charger, Charger]:
    """The silent charger's site comes first: one site after the other, the other would wait."""
    silent_site, other_site = make_site(circuit_limit_a=32), make_site(circuit_limit_a=32)
    silent = make_charger(site=silent_site, phases=1, max_power_w=7400)
    other = make_charger(site=other_site, phases=1, max_power_w=7400)
    return silent_site, other_site, silent, other


async def booted_then_fuses_lowered(held_cp, other_cp, silent: Charger, other: Charger) -> None:
    """Both chargers booted and hold 32 A; then both sites' main fuses go down to 10 A, so that
    the next run gives each charger a lower limit, and the held charger stops answering it."""
    for cp in (held_cp, other_cp):
        await cp.call("BootNotification", {"chargePointVendor": "Wallbox", "chargePointModel": "Pulsar Plus"})
    assert await wait_until(lambda: boot_control_done(silent) and boot_control_done(other))
    assert received_limits(held_cp)[-1:] == received_limits(other_cp)[-1:] == [32.0]
    await Site.objects.filter(pk__in=[silent.site_id, other.site_id]).aupdate(circuit_limit_a=10)
    held_cp.holding = True


def test_a_silent_charger_holds_up_neither_the_other_sites_of_its_batch_nor_their_locks(redis_server, settings):
    settings.CHANNEL_LAYERS = redis_channel_layers(REDIS_URL)
    settings.OCPP_COMMAND_TIMEOUT_S = COMMAND_TIMEOUT_S
    silent_site, other_site, silent, other = two_sites()

    async def scenario():
        async with (
            held_charger(redis_server, silent.charge_point_id) as held_cp,
            sim_charger(redis_server, other.charge_point_id, boot=False, phases=1) as other_cp,
        ):
            await booted_then_fuses_lowered(held_cp, other_cp, silent, other)
            run = asyncio.ensure_future(
                in_a_thread(sites_control_run, site_pks=[silent_site.pk, other_site.pk], trigger="test")
            )
            assert await wait_until(lambda: received_limits(held_cp)[-1:] == [10.0])
            assert await wait_until(lambda: received_limits(other_cp)[-1:] == [10.0]), (
                "the other site's charger got its limit while the silent one's call was pending"
            )
            # The other site's lock is free again: a run of it alone does not wait either.
            alone = await asyncio.wait_for(in_a_thread(site_control_run, site=other_site, trigger="test"), WAIT_S)
            assert not run.done(), "the silent charger's call is still pending"

            held_cp.release.set()
            return await run, alone

    outcomes, alone = asyncio.run(scenario())
    connections.close_all()

    assert [outcomes[pk].outcomes for pk in (silent_site.pk, other_site.pk)] == [
        {str(silent.pk): "ChargePointMaxProfile Accepted"},
        {str(other.pk): "ChargePointMaxProfile Accepted"},
    ]
    assert alone.outcomes == {}, "the batch's run of that site had sent and recorded its limit"
    for charger in (silent, other):
        charger.refresh_from_db()
        assert charger.control.protection_w == 2300
        assert charger.control.limit_w == 2300
        assert LimitDecision.objects.filter(charger=charger).latest("pk").outcome == "ChargePointMaxProfile Accepted"


def test_a_charger_that_never_answers_keeps_its_old_limit_on_record_and_the_next_run_sends_the_new_one(
    redis_server, settings
):
    settings.CHANNEL_LAYERS = redis_channel_layers(REDIS_URL)
    settings.OCPP_COMMAND_TIMEOUT_S = 2
    silent_site, other_site, silent, other = two_sites()

    async def scenario():
        async with (
            held_charger(redis_server, silent.charge_point_id) as held_cp,
            sim_charger(redis_server, other.charge_point_id, boot=False, phases=1) as other_cp,
        ):
            await booted_then_fuses_lowered(held_cp, other_cp, silent, other)
            held = await ChargerControl.objects.aget(pk=silent.pk)
            outcomes = await in_a_thread(sites_control_run, site_pks=[silent_site.pk, other_site.pk], trigger="test")
            after_timeout = await ChargerControl.objects.aget(pk=silent.pk)

            held_cp.holding = False
            held_cp.release.set()  # its late answer to the call that timed out is dropped
            again = await in_a_thread(site_control_run, site=silent_site, trigger="test")
            return held, outcomes, after_timeout, again

    held, outcomes, after_timeout, again = asyncio.run(scenario())
    connections.close_all()

    assert outcomes[silent_site.pk].outcomes == {str(silent.pk): "timeout"}
    assert outcomes[other_site.pk].outcomes == {str(other.pk): "ChargePointMaxProfile Accepted"}
    # What the charger holds is unknown beyond what it last took: the record says that.
    assert after_timeout.protection_w == held.protection_w
    assert after_timeout.limit_w == held.limit_w != 2300
    timed_out = LimitDecision.objects.filter(charger=silent).order_by("pk")
    assert [(d.limit_w, d.outcome) for d in timed_out][-2:] == [
        (2300, "timeout"),
        (2300, "ChargePointMaxProfile Accepted"),
    ]
    assert again.outcomes == {str(silent.pk): "ChargePointMaxProfile Accepted"}
    silent.refresh_from_db()
    assert (silent.control.protection_w, silent.control.limit_w) == (2300, 2300)
