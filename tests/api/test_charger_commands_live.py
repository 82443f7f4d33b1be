"""The REST API over real HTTP against the live server, with a real WebSocket charge point
that answers: each command reaches the charger and comes back with its real answer."""

import asyncio
import datetime as dt

import pytest
from ocpp.exceptions import InternalError
from ocpp.v16 import call, call_result
from rest_framework.authtoken.models import Token

from chargers.models import Charger
from tests.api.conftest import COMMAND_TIMEOUT_S
from tests.api.helpers import http_json, make_user
from tests.factories import make_charger, make_site
from tests.ocpp_client import RECENT_DAY, AnsweringCharger, eventually, in_a_thread, library_charger

pytestmark = pytest.mark.django_db(transaction=True)

T0 = dt.datetime.fromisoformat(f"{RECENT_DAY}T09:00:00+00:00")


def iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def rate_units(units: str) -> list[dict]:
    """AnsweringCharger's configuration, but taking only these ChargingScheduleAllowedChargingRateUnit."""
    configuration = AnsweringCharger("x", None).configuration
    return [
        {**item, "value": units} if item["key"] == "ChargingScheduleAllowedChargingRateUnit" else item
        for item in configuration
    ]


def owner_token(charger: Charger) -> str:
    return Token.objects.create(user=make_user(sites=(charger.site,))).key


def with_charger(server, charger: Charger, body, *, configuration: list[dict] | None = None, before=None):
    """Connect an answering charger, boot it, wait for the compatibility probe, run `before(cp)`
    on the socket, then `body(cp)` in a thread: HTTP calls block, the charger must keep answering."""

    async def scenario():
        async with library_charger(server, charger.charge_point_id, charge_point_class=AnsweringCharger) as cp:
            if configuration is not None:
                cp.configuration = configuration
            await cp.call(
                call.BootNotification(
                    charge_point_vendor="Wallbox", charge_point_model="Pulsar Plus", firmware_version="5.2.1"
                )
            )
            probed = await in_a_thread(eventually, lambda: Charger.objects.get(pk=charger.pk).probed_at)
            assert probed, "the compatibility probe ran"
            extra = await before(cp) if before is not None else None
            return cp, await in_a_thread(body, cp, extra)

    return asyncio.run(scenario())


def received(cp, action: str) -> list[dict]:
    return [payload for name, payload in cp.received if name == action]


def test_start_reaches_the_charger_as_remote_start_with_the_gray_logic_tag(ocpp_server):
    charger = make_charger()
    token = owner_token(charger)

    cp, (status, body) = with_charger(
        ocpp_server,
        charger,
        lambda cp, _: http_json(ocpp_server, "POST", f"/api/v1/chargers/{charger.charge_point_id}/start", token=token),
    )

    assert (status, body) == (200, {"status": "Accepted", "charger_response": {"status": "Accepted"}})
    assert received(cp, "RemoteStartTransaction") == [{"connector_id": 1, "id_tag": "GrayLogic"}]


def test_stop_ends_the_running_transaction_by_its_id(ocpp_server):
    charger = make_charger()
    token = owner_token(charger)

    async def start_a_transaction(cp):
        started = await cp.call(
            call.StartTransaction(connector_id=1, id_tag="GrayLogic", meter_start=1000, timestamp=iso(T0))
        )
        return started.transaction_id

    def stop(cp, transaction_id):
        return transaction_id, http_json(
            ocpp_server, "POST", f"/api/v1/chargers/{charger.charge_point_id}/stop", token=token
        )

    cp, (transaction_id, (status, body)) = with_charger(ocpp_server, charger, stop, before=start_a_transaction)

    assert (status, body["status"]) == (200, "Accepted")
    assert received(cp, "RemoteStopTransaction") == [{"transaction_id": transaction_id}]


def set_limits(server, charger: Charger, token: str, *limits: int):
    def body(cp, _):
        path = f"/api/v1/chargers/{charger.charge_point_id}/limit"
        return [http_json(server, "POST", path, token=token, body={"limit_w": w, "reason": "test"}) for w in limits]

    return body


def sent_schedules(cp) -> list[tuple[str, float]]:
    """(unit, limit) of each SetChargingProfile the charger received."""
    schedules = [p["cs_charging_profiles"]["charging_schedule"] for p in received(cp, "SetChargingProfile")]
    return [(s["charging_rate_unit"], s["charging_schedule_period"][0]["limit"]) for s in schedules]


def test_a_limit_goes_out_in_amps_to_a_charger_that_takes_only_current(ocpp_server):
    charger = make_charger(phases=1, max_power_w=7400)
    token = owner_token(charger)

    cp, answers = with_charger(
        ocpp_server, charger, set_limits(ocpp_server, charger, token, 3000, 1000), configuration=rate_units("Current")
    )

    (status, body), (paused_status, _) = answers
    assert (status, paused_status) == (200, 200), answers
    assert body["status"] == "Accepted"
    assert body["limits"]["max_power_w"] == 7400
    # 3000 W / 230 V = 13.04 A, rounded down; 1000 W is under 6 A: pause, not a trickle.
    assert ("A", 13.0) in sent_schedules(cp)
    assert sent_schedules(cp)[-1] == ("A", 0.0)


def test_a_limit_goes_out_in_watts_to_a_charger_that_takes_only_power(ocpp_server):
    charger = make_charger(phases=1, max_power_w=7400)
    token = owner_token(charger)

    cp, [(status, body)] = with_charger(
        ocpp_server, charger, set_limits(ocpp_server, charger, token, 3000), configuration=rate_units("Power")
    )

    assert status == 200, body
    assert body["limits"] == {
        "max_power_w": 7400,
        "current_limit_w": 3000,
        "limit_source": "manual",
        "reason": "limited by hand to 3,000 W",
    }
    assert ("W", 3000.0) in sent_schedules(cp)
    assert Charger.objects.get(pk=charger.pk).control.limit_w == 3000


def test_a_charger_that_rejects_gives_a_502_with_its_status(ocpp_server):
    charger = make_charger()
    token = owner_token(charger)

    def body(cp, _):
        cp.answers["RemoteStartTransaction"] = call_result.RemoteStartTransaction(status="Rejected")
        return http_json(ocpp_server, "POST", f"/api/v1/chargers/{charger.charge_point_id}/start", token=token)

    _, (status, answer) = with_charger(ocpp_server, charger, body)

    assert status == 502
    assert answer == {
        "error": "charger_rejected",
        "detail": "the charger answered Rejected to RemoteStartTransaction",
        "charger_status": "Rejected",
    }


def test_a_charger_that_answers_a_callerror_gives_a_502_with_the_code(ocpp_server):
    charger = make_charger()
    token = owner_token(charger)

    def body(cp, _):
        cp.errors["RemoteStartTransaction"] = InternalError(description="relay stuck")
        return http_json(ocpp_server, "POST", f"/api/v1/chargers/{charger.charge_point_id}/start", token=token)

    _, (status, answer) = with_charger(ocpp_server, charger, body)

    assert status == 502
    assert answer == {"error": "charger_call_error", "detail": "relay stuck", "call_error_code": "InternalError"}


def test_a_limit_to_a_charger_without_smart_charging_gives_a_502(ocpp_server):
    charger = make_charger()
    token = owner_token(charger)
    core_only = [
        {**item, "value": "Core"} if item["key"] == "SupportedFeatureProfiles" else item
        for item in rate_units("Current,Power")
    ]

    cp, [(status, answer)] = with_charger(
        ocpp_server, charger, set_limits(ocpp_server, charger, token, 3000), configuration=core_only
    )

    assert status == 502
    assert answer["error"] == "charger_not_supported"
    assert not received(cp, "SetChargingProfile")


def test_a_charger_too_slow_to_answer_gives_a_504(impatient_ocpp_server):
    charger = make_charger()
    token = owner_token(charger)

    def body(cp, _):
        cp.delays["RemoteStartTransaction"] = COMMAND_TIMEOUT_S + 3
        return http_json(
            impatient_ocpp_server, "POST", f"/api/v1/chargers/{charger.charge_point_id}/start", token=token
        )

    _, (status, answer) = with_charger(impatient_ocpp_server, charger, body)

    assert status == 504
    assert answer == {
        "error": "charger_timeout",
        "detail": f"no answer from the charger within {COMMAND_TIMEOUT_S} s",
    }


def test_the_detail_and_list_reflect_what_the_charger_reports(ocpp_server):
    charger = make_charger(charge_point_id="charger-garage", name="Garage Charger", site=make_site())
    token = owner_token(charger)

    async def charge(cp):
        await cp.call(call.Heartbeat())
        # Kept within a second (chargers/ocpp/writes.py).
        assert await in_a_thread(eventually, lambda: Charger.objects.get(pk=charger.pk).last_heartbeat_at)
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
        started = await cp.call(
            call.StartTransaction(connector_id=1, id_tag="GrayLogic", meter_start=12345, timestamp=iso(T0))
        )
        await cp.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=started.transaction_id,
                meter_value=[
                    {
                        "timestamp": iso(T0 + dt.timedelta(minutes=30)),
                        "sampledValue": [
                            {"value": "15678", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                            {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"},
                        ],
                    }
                ],
            )
        )
        return started.transaction_id

    def read(cp, transaction_id):
        detail = http_json(ocpp_server, "GET", "/api/v1/chargers/charger-garage", token=token)
        listed = http_json(ocpp_server, "GET", "/api/v1/chargers", token=token)
        return transaction_id, detail, listed

    _, (transaction_id, (status, detail), (_, listed)) = with_charger(ocpp_server, charger, read, before=charge)

    assert status == 200
    assert detail["connection"]["status"] == "connected"
    assert detail["connection"]["protocol"] == "ocpp1.6"
    assert detail["connection"]["last_heartbeat"] is not None
    assert (detail["vendor"], detail["model"], detail["firmware"]) == ("Wallbox", "Pulsar Plus", "5.2.1")
    assert detail["connector"] == {"id": 1, "status": "Charging", "error": "NoError"}
    assert detail["transaction"] == {
        "id": transaction_id,
        "started": iso(T0),
        "energy_wh": 3333,
        "power_w": 7200,
    }
    assert listed == {
        "chargers": [
            {
                "id": "charger-garage",
                "name": "Garage Charger",
                "model": "Wallbox Pulsar Plus",
                "status": "connected",
                "connector_status": "Charging",
            }
        ]
    }
    assert eventually(lambda: not Charger.objects.get(pk=charger.pk).is_connected)
    _, after = http_json(ocpp_server, "GET", "/api/v1/chargers/charger-garage", token=token)
    assert after["connection"]["status"] == "disconnected"
