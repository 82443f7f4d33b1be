"""OCPP 2.0.1 Authorize and MeterValues outside transactions, through a real WebSocket: tokens
answered by 1.6's ID tag rules but matched without regard to case (sessions.services
.id_tag_spelling); samples stored as 1.6's MeterValues without a transactionId. The station is
tests/chargepoint_sim201.py, hand-written frames checked against the official 2.0.1 schemas."""

import asyncio
import datetime as dt
import json

import pytest
from django.urls import reverse

from chargers.models import IdTag
from sessions.models import ChargingSession, MeterSample, RejectedSample
from tests.chargepoint_sim201 import energy_register, meter_value, sim_station, utc_now
from tests.factories import make_charger, make_id_tag

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "garage-secret-201"


def test_authorize_answers_by_the_id_tag_rules_without_regard_to_case(ocpp_server, admin_client):
    charger = make_charger(charge_point_id="ST201-AUTH", password=PASSWORD)
    family = make_id_tag(id_tag="FAMILY")
    make_id_tag(id_tag="04A2B3C4", name="Anna's card", parent=family)
    make_id_tag(id_tag="RFID-BLOCKED", status=IdTag.Status.BLOCKED)
    make_id_tag(id_tag="RFID-OLD", expiry_date=utc_now() - dt.timedelta(days=1))
    presented = [
        ("04A2B3C4", "ISO14443"),
        ("04a2b3c4", "ISO14443"),  # the same card's UID from a reader spelling hex in lower case
        ("rfid-blocked", "ISO15693"),
        ("RFID-OLD", "ISO14443"),
        ("UNKNOWN-CARD", "ISO14443"),
        ("GrayLogic", "Central"),  # our own start token
        ("", "NoAuthorization"),
        ("", "ISO14443"),  # the schema allows it; it names no tag
    ]

    async def scenario():
        async with sim_station(ocpp_server, "ST201-AUTH", password=PASSWORD) as st:
            return [(await st.authorize(token, token_type))["idTokenInfo"] for token, token_type in presented]

    answers = asyncio.run(scenario())
    anna = {"status": "Accepted", "groupIdToken": {"idToken": "FAMILY", "type": "Central"}}
    assert answers == [
        anna,
        anna,
        {"status": "Blocked"},
        {"status": "Expired", "cacheExpiryDateTime": answers[3]["cacheExpiryDateTime"]},
        {"status": "Invalid"},
        {"status": "Accepted"},
        {"status": "Accepted"},
        {"status": "Invalid"},
    ]
    # The lower-case UID found Anna's card; no second tag was made from it.
    assert IdTag.objects.get(id_tag="04A2B3C4").last_seen_charger == charger
    assert not IdTag.objects.filter(id_tag="04a2b3c4").exists()
    # An unknown card is remembered as Invalid for the installer to accept in the admin, as 1.6's.
    unknown = IdTag.objects.get(id_tag="UNKNOWN-CARD")
    assert (unknown.status, unknown.last_seen_charger) == (IdTag.Status.INVALID, charger)
    page = admin_client.get(reverse("admin:chargers_idtag_changelist") + "?status__exact=Invalid")
    assert "UNKNOWN-CARD" in page.content.decode()
    # Our own token, a NoAuthorization one and an empty one are never listed.
    assert set(IdTag.objects.values_list("id_tag", flat=True)) == {
        "FAMILY",
        "04A2B3C4",
        "RFID-BLOCKED",
        "RFID-OLD",
        "UNKNOWN-CARD",
    }


def test_authorize_accepts_any_token_on_a_charger_that_accepts_any(ocpp_server):
    make_charger(charge_point_id="ST201-ANY", password=PASSWORD, accept_any_id_tag=True)

    async def scenario():
        async with sim_station(ocpp_server, "ST201-ANY", password=PASSWORD) as st:
            return await st.authorize("NEVER-SEEN")

    assert asyncio.run(scenario()) == {"idTokenInfo": {"status": "Accepted"}}
    assert IdTag.objects.get(id_tag="NEVER-SEEN").status == IdTag.Status.INVALID


def test_meter_values_outside_a_transaction_are_stored_on_the_evse_with_their_units(ocpp_server):
    """Units, multipliers, phases, locations and contexts kept; a value outside physics and one
    dated off the server's clock kept apart as rejected; EVSE 0 is the station's own meter."""
    charger = make_charger(charge_point_id="ST201-METER", password=PASSWORD)
    at = utc_now().replace(microsecond=0) - dt.timedelta(minutes=2)
    long_ago = at - dt.timedelta(days=3650)

    async def scenario():
        async with sim_station(ocpp_server, "ST201-METER", password=PASSWORD, evses={1: 1, 2: 1}) as st:
            answers = [
                await st.meter_values(
                    2,
                    meter_value(
                        at,
                        # 12.345 kWh as 12345 Wh: unit Wh, multiplier 0 (the default), spelt out.
                        energy_register(12345, "Sample.Clock", unitOfMeasure={"unit": "Wh", "multiplier": 0}),
                        {
                            "value": 2.3145,
                            "measurand": "Voltage",
                            "phase": "L1-N",
                            "location": "Inlet",
                            "unitOfMeasure": {"unit": "V", "multiplier": 2},
                        },
                        {"value": 5_000_000_000, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"}},
                    ),
                    meter_value(long_ago, energy_register(1)),
                ),
                await st.meter_values(0, meter_value(at, {"value": 48.2, "unitOfMeasure": {"unit": "kWh"}})),
            ]
            return answers

    assert asyncio.run(scenario()) == [{}, {}]
    stored = list(
        MeterSample.objects.filter(charger=charger)
        .order_by("connector_id", "measurand")
        .values_list("connector_id", "session", "measurand", "value", "unit", "phase", "location", "context")
    )
    assert stored == [
        (0, None, "Energy.Active.Import.Register", 48.2, "kWh", "", "Outlet", "Sample.Periodic"),
        (2, None, "Energy.Active.Import.Register", 12345, "Wh", "", "Outlet", "Sample.Clock"),
        (2, None, "Voltage", pytest.approx(231.45), "V", "L1-N", "Inlet", "Sample.Periodic"),
    ]
    assert MeterSample.objects.get(charger=charger, measurand="Voltage").timestamp == at
    rejected = sorted(
        RejectedSample.objects.filter(charger=charger).values_list("connector_id", "measurand", "value_text", "reason")
    )
    assert rejected == [
        (2, "Energy.Active.Import.Register", "1", RejectedSample.Reason.CLOCK),
        (2, "Power.Active.Import", "5000000000", RejectedSample.Reason.OUT_OF_RANGE),
    ]


def test_meter_values_while_a_session_runs_on_the_evse_stay_outside_it(ocpp_server):
    """As 1.6's MeterValues without a transactionId: on the connector, in no session (a
    transaction's samples come in its TransactionEvents)."""
    charger = make_charger(charge_point_id="ST201-METER-TX", password=PASSWORD)

    async def scenario():
        async with sim_station(ocpp_server, "ST201-METER-TX", password=PASSWORD) as st:
            await st.transaction_event("Started", "tx-1", 0, evse_id=1, charging_state="Charging")
            await st.meter_values(1, meter_value(utc_now(), energy_register(2000)))

    asyncio.run(scenario())
    session = ChargingSession.objects.get(charger=charger)
    assert session.stopped_at is None
    sample = MeterSample.objects.get(charger=charger)
    assert (sample.connector_id, sample.session, sample.value) == (1, None, 2000)
    assert not session.samples.exists()


@pytest.mark.parametrize(
    ("action", "payload", "code"),
    [
        (
            "MeterValues",
            {"evseId": -1, "meterValue": [meter_value(utc_now(), energy_register(1))]},
            "PropertyConstraintViolation",
        ),
        (
            "MeterValues",
            {"evseId": 1, "meterValue": [meter_value(utc_now(), energy_register(1, unitOfMeasure={"multiplier": 99}))]},
            "PropertyConstraintViolation",
        ),
        (
            "MeterValues",
            {"evseId": 1, "meterValue": [{"timestamp": "yesterday", "sampledValue": [{"value": 1}]}]},
            "TypeConstraintViolation",
        ),
        ("Authorize", {"idToken": {"idToken": "04A2B3C4"}}, "OccurrenceConstraintViolation"),
    ],
    ids=["negative-evse", "absurd-multiplier", "bad-timestamp", "token-without-type"],
)
def test_malformed_authorize_and_meter_values_get_their_callerror_and_store_nothing(ocpp_server, action, payload, code):
    charger = make_charger(charge_point_id="ST201-BAD", password=PASSWORD)

    async def scenario():
        async with sim_station(ocpp_server, "ST201-BAD", password=PASSWORD) as st:
            return await st.send_frame(json.dumps([2, "bad-1", action, payload]), "bad-1")

    assert asyncio.run(scenario())[:3] == [4, "bad-1", code]
    assert not MeterSample.objects.filter(charger=charger).exists()
    assert not RejectedSample.objects.filter(charger=charger).exists()
    assert not IdTag.objects.exists()
