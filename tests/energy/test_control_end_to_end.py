"""Energy control end to end: real chargers on sockets, inputs over the REST API, the limits
they receive. Embedded (jobs in the server) and scaled (Redis, a Celery worker and beat)."""

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest
import redis
from django.contrib.auth.models import User
from django.utils import timezone
from ocpp.v16 import call
from rest_framework.authtoken.models import Token

from chargers.models import Charger
from energy.models import GridResponse, LimitDecision, Site, SolarCharging
from energy.scheduling import slot_offset_s
from energy.tasks import MAX_SITE_INTERVAL_S
from tests.conftest import ROOT, _database_url, start_server, stop_server
from tests.factories import make_charger, make_circuit, make_site
from tests.ocpp_client import RECENT_DAY, AnsweringCharger, eventually, in_a_thread, library_charger
from tests.services import require_service

pytestmark = pytest.mark.django_db(transaction=True)

AMPS_ONLY = [
    {"key": "SupportedFeatureProfiles", "readonly": True, "value": "Core,SmartCharging"},
    {"key": "ChargingScheduleAllowedChargingRateUnit", "readonly": True, "value": "Current"},
    {"key": "ChargeProfileMaxStackLevel", "readonly": True, "value": "8"},
    {"key": "MeterValueSampleInterval", "readonly": False, "value": "60"},
    {
        "key": "MeterValuesSampledData",
        "readonly": False,
        "value": "Energy.Active.Import.Register,Power.Active.Import,Current.Import",
    },
]


def post(server, token: str, path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{server.http_url}{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def profiles(cp, purpose: str) -> list[dict]:
    """(limit, unit) of every SetChargingProfile of a purpose the charger received, in order."""
    found = []
    for action, payload in cp.received:
        if action == "SetChargingProfile":
            profile = payload["cs_charging_profiles"]
            if profile["charging_profile_purpose"] == purpose:
                period = profile["charging_schedule"]["charging_schedule_period"][0]
                found.append(float(period["limit"]))
    return found


async def boot_and_charge(cp, *, connector_status="Charging", transaction=True):
    cp.configuration = AMPS_ONLY
    await cp.call(call.BootNotification(charge_point_vendor="SimVendor", charge_point_model="Sim 22"))
    await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status=connector_status))
    if transaction:
        await cp.call(
            call.StartTransaction(connector_id=1, id_tag="RFID1", meter_start=0, timestamp=f"{RECENT_DAY}T10:00:00Z")
        )


async def wait_until(check, timeout_s: float = 30.0):
    return await in_a_thread(eventually, check, timeout_s)


def test_two_chargers_share_their_circuit_and_readings_move_the_limits(ocpp_server, django_user_model):
    owner = django_user_model.objects.create_user("homeowner", password="pw-123456789")
    token = Token.objects.create(user=owner).key
    site = make_site(name="Home", circuit_limit_a=63, min_interval_s=1)
    site.owners.add(owner)
    garage = make_circuit(site=site, name="garage", max_current_a=32, phases=3)
    first = make_charger(charge_point_id="charger-garage", site=site, circuit=garage, phases=3, max_power_w=22000)
    second = make_charger(charge_point_id="charger-driveway", site=site, circuit=garage, phases=3, max_power_w=22000)

    async def scenario():
        async with (
            library_charger(ocpp_server, first.charge_point_id, charge_point_class=AnsweringCharger) as cp1,
            library_charger(ocpp_server, second.charge_point_id, charge_point_class=AnsweringCharger) as cp2,
        ):
            await boot_and_charge(cp1)
            await boot_and_charge(cp2)
            # The spec's two 32 A chargers on a 32 A circuit: 16 A each.
            assert await wait_until(
                lambda: (
                    profiles(cp1, "ChargePointMaxProfile")[-1:] == [16.0]
                    and profiles(cp2, "ChargePointMaxProfile")[-1:] == [16.0]
                )
            )

            # The main meter sees 47 A on L1 of which the cars draw nothing yet: 16 A left on L1.
            status, body = await in_a_thread(
                post, ocpp_server, token, "/api/v1/energy/readings", {"grid_l1_a": 47, "grid_l2_a": 5, "grid_l3_a": 5}
            )
            assert status == 201, body
            assert await wait_until(
                lambda: (
                    profiles(cp1, "ChargePointMaxProfile")[-1:] == [8.0]
                    and profiles(cp2, "ChargePointMaxProfile")[-1:] == [8.0]
                )
            )

            # The grid operator asks for less: moderate = 50 % of each charger's 31.9 A (22 kW).
            await in_a_thread(GridResponse.objects.update_or_create, site=site, defaults={"enabled": True})
            await in_a_thread(post, ocpp_server, token, "/api/v1/energy/readings", {"grid_l1_a": 0})
            status, body = await in_a_thread(
                post, ocpp_server, token, "/api/v1/energy/grid-signal", {"level": "moderate"}
            )
            assert (status, body["limit_percent"]) == (200, 50), body
            assert await wait_until(lambda: profiles(cp1, "ChargePointMaxProfile")[-1:] == [15.9])
            status, body = await in_a_thread(post, ocpp_server, token, "/api/v1/energy/grid-signal", {"level": "high"})
            assert await wait_until(
                lambda: (
                    profiles(cp1, "ChargePointMaxProfile")[-1:] == [0.0]
                    and profiles(cp2, "ChargePointMaxProfile")[-1:] == [0.0]
                )
            )

    asyncio.run(scenario())
    # The limit in force is recorded right after the charger's answer.
    assert eventually(
        lambda: Charger.objects.filter(pk=first.pk, control__limit_w=0, control__limit_source="grid").exists()
    )
    sources = list(LimitDecision.objects.filter(charger=first).order_by("id").values_list("source", flat=True))
    assert sources[0] == "circuit" and sources[-1] == "grid"


def test_lowered_limits_are_sent_before_raised_ones(ocpp_server):
    site = make_site(circuit_limit_a=32, min_interval_s=1)
    a = make_charger(site=site, phases=1, supply_phase="L1", max_power_w=7400)
    b = make_charger(site=site, phases=1, supply_phase="L1", max_power_w=7400)

    async def scenario():
        async with library_charger(ocpp_server, a.charge_point_id, charge_point_class=AnsweringCharger) as cp_a:
            await boot_and_charge(cp_a)
            assert await wait_until(lambda: profiles(cp_a, "ChargePointMaxProfile")[-1:] == [32.0])
            async with library_charger(ocpp_server, b.charge_point_id, charge_point_class=AnsweringCharger) as cp_b:
                await boot_and_charge(cp_b)
                assert await wait_until(
                    lambda: (
                        profiles(cp_a, "ChargePointMaxProfile")[-1:] == [16.0]
                        and profiles(cp_b, "ChargePointMaxProfile")[-1:] == [16.0]
                    )
                )

    asyncio.run(scenario())
    commands = list(
        Charger.objects.get(pk=a.pk).commands.filter(action="SetChargingProfile").values_list("created_at", flat=True)
    )
    raised = Charger.objects.get(pk=b.pk).commands.filter(action="SetChargingProfile").order_by("created_at").last()
    assert commands[-1] <= raised.created_at, "A was lowered (and answered) before B was raised"


def test_a_change_in_a_cars_draw_reruns_energy_control(ocpp_server):
    """The main meter's 28 A on L1 include the car: once the car says it draws 16 A of them,
    the other load is 12 A and the car may have 20 A. A draw reported outside a transaction
    is not what energy control reads, so it runs nothing."""
    site = make_site(circuit_limit_a=32, min_interval_s=0)
    charger = make_charger(site=site, phases=1, supply_phase="L1", max_power_w=7400)
    token = Token.objects.create(user=User.objects.create_user("installer", is_staff=True)).key

    def meter_values(current_a: float, **transaction) -> call.MeterValues:
        sampled = [
            {"value": str(current_a * 230), "measurand": "Power.Active.Import", "unit": "W"},
            {"value": str(current_a), "measurand": "Current.Import", "unit": "A"},
        ]
        return call.MeterValues(
            connector_id=1,
            # Energy control reads the last minutes' samples: this one is taken now.
            meter_value=[{"timestamp": dt.datetime.now(dt.UTC).isoformat(), "sampled_value": sampled}],
            **transaction,
        )

    def last_run():
        return Site.objects.get(pk=site.pk).last_rebalanced_at

    async def settled_last_run(quiet_s: float = 0.5):
        """The last run's stamp once no other run follows: the reading may have been posted
        while the charger's own events still had a run under way, and a site asked for during
        a run runs once more right after it."""
        for _ in range(60):
            stamp = await in_a_thread(last_run)
            await asyncio.sleep(quiet_s)
            if await in_a_thread(last_run) == stamp:
                return stamp
        raise AssertionError("energy control never settled")

    async def scenario():
        async with library_charger(ocpp_server, charger.charge_point_id, charge_point_class=AnsweringCharger) as cp:
            await boot_and_charge(cp)
            assert await wait_until(lambda: profiles(cp, "ChargePointMaxProfile")[-1:] == [32.0])
            posted_at = timezone.now()
            status, _ = await in_a_thread(
                post, ocpp_server, token, "/api/v1/energy/readings", {"site": site.name, "grid_l1_a": 28}
            )
            assert status == 201
            assert await wait_until(lambda: profiles(cp, "ChargePointMaxProfile")[-1:] == [0.0])
            # The reading's run is over once it has stamped the site (with the time it started).
            assert await wait_until(lambda: last_run() >= posted_at)
            before = await settled_last_run()
            await cp.call(meter_values(16.0))
            await asyncio.sleep(1.5)
            assert await in_a_thread(last_run) == before

            started = await in_a_thread(
                lambda: Charger.objects.get(pk=charger.pk).charging_sessions.get().transaction_id
            )
            await cp.call(meter_values(16.0, transaction_id=started))
            assert await wait_until(lambda: profiles(cp, "ChargePointMaxProfile")[-1:] == [20.0])

    asyncio.run(scenario())
    raised = Charger.objects.get(pk=charger.pk).commands.filter(action="SetChargingProfile").latest("created_at")
    assert raised.requested_by == f"energy:{charger.charge_point_id}: drawing 3680 W"


CELERY_REDIS_URL = "redis://127.0.0.1:6379/12"


def no_rebalance_queued(site: Site) -> bool:
    """The worker has run every rebalance the server queued for the site (energy/rebalance/marks.py)."""
    return not redis.Redis.from_url(CELERY_REDIS_URL).exists(f"graylogic:rebalance-queued:{site.pk}")


@pytest.fixture
def celery_stack(django_db_setup, tmp_path):
    """A server on Redis plus a real Celery worker and beat: nothing runs the jobs in-process."""
    require_service("Redis", "127.0.0.1", 6379)
    redis_url = CELERY_REDIS_URL
    redis.Redis.from_url(redis_url).flushdb()
    env = {"REDIS_URL": redis_url, "ENERGY_CONTROL_TICK": "1", "OCPP_COMMAND_TIMEOUT": "5"}
    server_process, server = start_server(tmp_path, env)
    full_env = {**os.environ, **env, "DATABASE_URL": _database_url()}
    log = (tmp_path / "celery.log").open("w")
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "graylogic", "worker", "--pool", "solo", "--loglevel", "INFO"],
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "graylogic",
                "beat",
                "--loglevel",
                "INFO",
                "--scheduler",
                "django_celery_beat.schedulers:DatabaseScheduler",
            ],
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        ),
    ]
    yield server
    for process in [*workers, server_process]:
        stop_server(process)


def test_a_celery_worker_and_beat_steer_a_charger_by_solar_surplus(celery_stack):
    site = make_site(circuit_limit_a=63, min_interval_s=1)
    SolarCharging.objects.create(
        site=site, enabled=True, mode="solar_only", start_delay_s=0, update_interval_s=1, window_s=30
    )
    charger = make_charger(site=site, phases=1, max_power_w=7400)

    async def scenario():
        async with library_charger(celery_stack, charger.charge_point_id, charge_point_class=AnsweringCharger) as cp:
            await boot_and_charge(cp)
            # No surplus reading yet: solar_only keeps the car paused.
            assert await wait_until(lambda: profiles(cp, "TxProfile")[-1:] == [0.0], 30)
            from django.utils import timezone

            from energy.services import energy_reading_record

            await in_a_thread(energy_reading_record, site=site, measured_at=timezone.now(), source="test", grid_w=-3000)
            # 3000 W on one phase is 13.0 A; beat's tick runs the site, the worker sends it.
            assert await wait_until(lambda: profiles(cp, "TxProfile")[-1:] == [13.0], 30)

    asyncio.run(scenario())
    assert eventually(
        lambda: LimitDecision.objects.filter(
            charger=charger, source="solar", reason__startswith="solar surplus is "
        ).exists()
    )


def seconds_clear_of_the_scheduled_run(site: Site, needed_s: float = 25.0) -> float:
    """How long to wait until the next `needed_s` hold no scheduled run of the site: beat's run
    at the site's slot would answer the readings too, and this test is about the events."""
    to_next_slot_s = (
        slot_offset_s(site_pk=site.pk, interval_s=MAX_SITE_INTERVAL_S) - time.time()
    ) % MAX_SITE_INTERVAL_S
    return to_next_slot_s + 2 if to_next_slot_s < needed_s else 0.0


@pytest.mark.parametrize("min_interval_s", [0, 3])
def test_in_the_scaled_deployment_a_burst_of_readings_is_followed_to_its_last_one(
    celery_stack, django_user_model, min_interval_s
):
    """Rebalances are queued for the Celery worker one per site: a reading that arrives while
    one waits is covered by it, and one that arrives after it started gets a run of its own."""
    owner = django_user_model.objects.create_user("homeowner", password="pw-123456789")
    token = Token.objects.create(user=owner).key
    site = make_site(circuit_limit_a=32, min_interval_s=min_interval_s)
    site.owners.add(owner)
    charger = make_charger(site=site, phases=3, max_power_w=22000)

    async def scenario():
        async with library_charger(celery_stack, charger.charge_point_id, charge_point_class=AnsweringCharger) as cp:
            await boot_and_charge(cp)
            assert await wait_until(lambda: profiles(cp, "ChargePointMaxProfile")[-1:] == [31.8])
            # The boot and the start are decided in the server at once; the connector's status
            # change is queued for the worker: the burst must come after that run.
            assert await wait_until(lambda: no_rebalance_queued(site))
            await asyncio.sleep(max(min_interval_s, seconds_clear_of_the_scheduled_run(site)))
            before = len(profiles(cp, "ChargePointMaxProfile"))
            # The main meter sees 10 A, 11 A, ... 19 A on L1: the last leaves 32 - 19 = 13 A.
            for grid_l1_a in range(10, 20):
                status, body = await in_a_thread(
                    post, celery_stack, token, "/api/v1/energy/readings", {"grid_l1_a": grid_l1_a}
                )
                assert status == 201, body
            assert await wait_until(lambda: profiles(cp, "ChargePointMaxProfile")[-1:] == [13.0], 15)
            await asyncio.sleep(min_interval_s + 1)
            return profiles(cp, "ChargePointMaxProfile")[before:]

    sent = asyncio.run(scenario())

    assert sent[-1] == 13.0
    if min_interval_s:  # the first reading at once, all the others in one run an interval later
        assert len(sent) <= 2, sent
    last = charger.commands.filter(action="SetChargingProfile").latest("created_at")
    assert last.requested_by == "energy:energy reading"
