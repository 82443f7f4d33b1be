"""Commands reach a charger through the channel layer, whichever process holds its socket.

Two server processes share Redis (channels-redis); this test process is a third one."""

import asyncio
import json

import pytest
import redis
from asgiref.sync import async_to_sync
from ocpp.exceptions import NotSupportedError
from ocpp.v16 import call, call_result
from rest_framework.authtoken.models import Token

from chargers.commands import (
    ChargerCallError,
    ChargerNotSupported,
    ChargerOffline,
    ChargerRejected,
    ChargerTimeout,
    charger_command,
)
from chargers.models import HELD_LIMIT_CHECK_REQUESTED_BY, Charger, ChargerCommand
from energy.remote import charger_set_limit
from graylogic.channel_layers import redis_channel_layers
from tests.api.helpers import http_json, make_user
from tests.conftest import start_server, stop_server
from tests.factories import make_charger, make_site
from tests.ocpp_client import AnsweringCharger, RawCharger, eventually, in_a_thread, library_charger, open_socket
from tests.services import require_service

pytestmark = pytest.mark.django_db(transaction=True)

REDIS_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture(scope="module")
def redis_servers(django_db_setup, django_db_blocker, tmp_path_factory):
    require_service("Redis", "127.0.0.1", 6379)
    redis.Redis.from_url(REDIS_URL).flushdb()
    tmp = tmp_path_factory.mktemp("redis-servers")
    extra_env = {"REDIS_URL": REDIS_URL, "OCPP_COMMAND_TIMEOUT": "3"}
    started = [start_server(tmp, extra_env) for _ in range(2)]
    yield [server for _, server in started]
    for process, _ in started:
        stop_server(process)


@pytest.fixture
def redis_layer(settings):
    settings.CHANNEL_LAYERS = redis_channel_layers(REDIS_URL)
    settings.OCPP_COMMAND_TIMEOUT_S = 3


def command(charger: Charger, action: str, payload: dict) -> dict:
    return async_to_sync(charger_command)(
        charge_point_id=charger.charge_point_id, action=action, payload=payload, requested_by="test"
    )


def boot_control_done(charger: Charger) -> bool:
    """The last step after a boot: the check that the charger holds its fuse limit."""
    return ChargerCommand.objects.filter(charger=charger, requested_by=HELD_LIMIT_CHECK_REQUESTED_BY).exists()


def run_with_charger(server, charger: Charger, body, *, configuration=None):
    """Connect an answering charger, boot it, wait for the probe, then run body(cp) in a thread
    (the command path is sync, as in the admin and the API)."""

    async def scenario():
        async with library_charger(server, charger.charge_point_id, charge_point_class=AnsweringCharger) as cp:
            if configuration is not None:
                cp.configuration = configuration
            await cp.call(call.BootNotification(charge_point_vendor="Wallbox", charge_point_model="Pulsar Plus"))
            probed = await in_a_thread(eventually, lambda: Charger.objects.get(pk=charger.pk).probed_at)
            assert probed, "the compatibility probe ran"
            checked = await in_a_thread(eventually, lambda: boot_control_done(charger))
            assert checked, "the boot's limits were sent and checked"
            cp.received_at_boot = len(cp.received)
            result = await in_a_thread(body, cp)
            return cp, result

    return asyncio.run(scenario())


def test_a_command_reaches_a_charger_held_by_another_process_and_is_logged(redis_servers, redis_layer):
    charger = make_charger()

    cp, answer = run_with_charger(redis_servers[0], charger, lambda cp: command(charger, "Reset", {"type": "Soft"}))

    assert answer == {"status": "Accepted"}
    assert ("Reset", {"type": "Soft"}) in cp.received
    logged = ChargerCommand.objects.get(charger=charger, action="Reset")
    assert (logged.outcome, logged.response, logged.requested_by) == ("answered", {"status": "Accepted"}, "test")
    assert logged.latency_ms is not None


def test_get_configuration_returns_the_chargers_table(redis_servers, redis_layer):
    charger = make_charger()

    _, answer = run_with_charger(
        redis_servers[1], charger, lambda cp: command(charger, "GetConfiguration", {"key": ["NumberOfConnectors"]})
    )

    assert answer == {"configurationKey": [{"key": "NumberOfConnectors", "readonly": True, "value": "1"}]}


def test_a_charger_that_does_not_answer_in_time_gives_a_timeout(redis_servers, redis_layer):
    charger = make_charger()

    def body(cp):
        cp.delays["ClearCache"] = 5
        with pytest.raises(ChargerTimeout, match="within 3 s"):
            command(charger, "ClearCache", {})

    run_with_charger(redis_servers[0], charger, body)
    assert ChargerCommand.objects.get(charger=charger, action="ClearCache").outcome == "timeout"


def test_a_callerror_from_the_charger_comes_back_with_its_code(redis_servers, redis_layer):
    charger = make_charger()

    def body(cp):
        cp.errors["UnlockConnector"] = NotSupportedError(description="no lock on this model")
        with pytest.raises(ChargerCallError) as failure:
            command(charger, "UnlockConnector", {"connectorId": 1})
        return failure.value

    _, failure = run_with_charger(redis_servers[0], charger, body)
    assert failure.code == "NotSupported"


def test_a_command_to_an_offline_charger_fails_at_once_and_is_logged():
    charger = make_charger(is_connected=False)

    with pytest.raises(ChargerOffline):
        command(charger, "Reset", {"type": "Hard"})
    assert ChargerCommand.objects.get(charger=charger).outcome == "offline"


def test_an_invalid_request_is_refused_before_it_reaches_the_charger(redis_servers, redis_layer):
    charger = make_charger()

    def body(cp):
        with pytest.raises(Exception, match="not a valid Reset request"):
            command(charger, "Reset", {"type": "Sideways"})

    cp, _ = run_with_charger(redis_servers[0], charger, body)
    assert not [action for action, _ in cp.received if action == "Reset"]


def test_the_probe_stores_the_profile_and_sets_up_metering_as_the_spec_asks(redis_servers, redis_layer):
    charger = make_charger()
    configuration = [
        {"key": "SupportedFeatureProfiles", "readonly": True, "value": "Core,SmartCharging"},
        {"key": "ChargingScheduleAllowedChargingRateUnit", "readonly": True, "value": "Current"},
        {"key": "ChargeProfileMaxStackLevel", "readonly": True, "value": "1"},
        {"key": "MaxChargingProfilesInstalled", "readonly": True, "value": "3"},
        {"key": "MeterValueSampleInterval", "readonly": False, "value": "900"},
        {"key": "MeterValuesSampledData", "readonly": False, "value": "Energy.Active.Import.Register"},
        {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
    ]

    cp, _ = run_with_charger(
        redis_servers[0],
        charger,
        lambda cp: eventually(lambda: len([a for a, _ in cp.received if a == "ChangeConfiguration"]) == 2),
        configuration=configuration,
    )

    charger.refresh_from_db()
    assert charger.supported_feature_profiles == "Core,SmartCharging"
    assert (charger.charging_rate_units, charger.limit_rate_unit) == ("Current", "A")
    assert (charger.max_stack_level, charger.max_charging_profiles, charger.number_of_connectors) == (1, 3, 2)
    assert charger.meter_sample_interval_s == 900
    changes = [payload for action, payload in cp.received if action == "ChangeConfiguration"]
    assert changes == [
        {"key": "MeterValueSampleInterval", "value": "60"},
        {
            "key": "MeterValuesSampledData",
            "value": "Energy.Active.Import.Register,Power.Active.Import,Current.Import",
        },
    ]


@pytest.mark.parametrize(
    ("rate_units", "phases", "limit_w", "expected_unit", "expected_limit"),
    [
        ("Current", 1, 3000, "A", 13.0),
        ("Current", 3, 11000, "A", 15.9),
        ("Power", 1, 3000, "W", 3000),
        ("Current,Power", 1, 3000, "A", 13.0),
        ("Current", 1, 1000, "A", 0),
    ],
)
def test_limits_are_sent_in_the_unit_the_charger_accepts(
    redis_servers, redis_layer, rate_units, phases, limit_w, expected_unit, expected_limit
):
    charger = make_charger(phases=phases, max_power_w=22000)
    configuration = [
        {"key": "SupportedFeatureProfiles", "readonly": True, "value": "Core,SmartCharging"},
        {"key": "ChargingScheduleAllowedChargingRateUnit", "readonly": True, "value": rate_units},
        {"key": "ChargeProfileMaxStackLevel", "readonly": True, "value": "0"},
    ]

    def body(cp):
        charger.refresh_from_db()
        return charger_set_limit(charger=charger, limit_w=limit_w, reason="test", requested_by="test")

    cp, _ = run_with_charger(redis_servers[0], charger, body, configuration=configuration)

    (profile_call,) = [
        payload for action, payload in cp.received[cp.received_at_boot :] if action == "SetChargingProfile"
    ]
    profile = profile_call["cs_charging_profiles"]
    assert profile_call["connector_id"] == 0
    assert profile["charging_profile_purpose"] == "ChargePointMaxProfile"
    assert profile["stack_level"] == 0
    schedule = profile["charging_schedule"]
    assert schedule["charging_rate_unit"] == expected_unit
    (period,) = schedule["charging_schedule_period"]
    assert (period["start_period"], float(period["limit"])) == (0, expected_limit)
    charger.refresh_from_db()
    assert (charger.control.manual_limit_w, charger.control.limit_source) == (limit_w, "manual")
    assert charger.control.limit_w == (limit_w if expected_limit else 0)


def test_a_rejected_limit_is_not_recorded_as_in_force(redis_servers, redis_layer):
    charger = make_charger()

    def body(cp):
        charger.refresh_from_db()
        in_force = (charger.control.limit_w, charger.control.limit_source)  # the fuse share sent at boot
        cp.answers["SetChargingProfile"] = call_result.SetChargingProfile(status="Rejected")
        with pytest.raises(ChargerRejected, match="Rejected"):
            charger_set_limit(charger=charger, limit_w=3000, reason="test", requested_by="test")
        return in_force

    _, in_force = run_with_charger(redis_servers[0], charger, body)
    charger.refresh_from_db()
    assert (charger.control.limit_w, charger.control.limit_source) == in_force != (3000, "manual")


def test_a_smart_charging_call_to_a_charger_without_that_profile_is_not_sent(redis_servers, redis_layer):
    charger = make_charger()
    configuration = [{"key": "SupportedFeatureProfiles", "readonly": True, "value": "Core"}]

    def body(cp):
        with pytest.raises(ChargerNotSupported, match="feature profile"):
            command(charger, "ClearChargingProfile", {})

    cp, _ = run_with_charger(redis_servers[0], charger, body, configuration=configuration)
    assert "ClearChargingProfile" not in [action for action, _ in cp.received]


def test_an_api_request_served_by_one_process_commands_a_charger_held_by_the_other(redis_servers, django_user_model):
    import json
    import urllib.request

    from rest_framework.authtoken.models import Token

    staff = django_user_model.objects.create_user("installer", password="pw-123456789", is_staff=True)
    token = Token.objects.create(user=staff).key
    charger = make_charger()

    def start_through_the_other_server(cp):
        request = urllib.request.Request(
            f"{redis_servers[1].http_url}/api/v1/chargers/{charger.charge_point_id}/start",
            data=b"{}",
            headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())

    cp, (status, body) = run_with_charger(redis_servers[0], charger, start_through_the_other_server)

    assert (status, body["status"]) == (200, "Accepted")
    assert ("RemoteStartTransaction", {"connector_id": 1, "id_tag": "GrayLogic"}) in cp.received


def test_hundreds_of_chargers_connecting_at_once_to_a_redis_backed_server_are_all_accepted(redis_servers):
    """Each connect makes channel-layer calls; redis-py's pool used to refuse the 101st in
    flight, and that charger's handshake failed with HTTP 500."""
    site = make_site()
    chargers = [make_charger(site=site) for _ in range(400)]

    async def connect_and_heartbeat(charger) -> list:
        ws = await open_socket(redis_servers[0], charger.charge_point_id)
        try:
            return await RawCharger(ws).call("Heartbeat", {})
        finally:
            await ws.close()

    async def storm() -> list:
        return await asyncio.gather(*(connect_and_heartbeat(c) for c in chargers), return_exceptions=True)

    answers = asyncio.run(storm())

    failures = [answer for answer in answers if isinstance(answer, BaseException)]
    assert failures == []
    assert all(answer[0] == 3 and "currentTime" in answer[2] for answer in answers)


def test_a_charger_that_hangs_up_before_it_answers_fails_its_command_as_offline_at_once(ocpp_server):
    """Before: the caller (the API here; a control run holding its site's lock elsewhere) waited
    its whole timeout for an answer that could no longer come."""
    charger = make_charger()
    token = Token.objects.create(user=make_user(sites=(charger.site,))).key

    async def scenario():
        ws = await open_socket(ocpp_server, charger.charge_point_id)
        assert await in_a_thread(eventually, lambda: Charger.objects.get(pk=charger.pk).is_connected)
        started = asyncio.ensure_future(
            in_a_thread(
                http_json, ocpp_server, "POST", f"/api/v1/chargers/{charger.charge_point_id}/start", token=token
            )
        )
        first_call = json.loads(await asyncio.wait_for(ws.recv(), 10))
        await ws.close()  # gone without answering
        return first_call, await started

    first_call, (status, body) = asyncio.run(scenario())

    assert first_call[0] == 2  # a call reached the charger
    assert (status, body["error"]) == (409, "charger_offline"), body
    # The call in flight failed as offline: it did not sit out its timeout.
    outcomes = list(ChargerCommand.objects.filter(charger=charger).order_by("pk").values_list("outcome", flat=True))
    assert outcomes[0] == ChargerCommand.Outcome.OFFLINE, outcomes
