"""OCPP 2.0.1 transactions: a station's TransactionEvents (Started, Updated, Ended) make one
session per transactionId with its meter samples, however the events are replayed
(sessions/ledger.py). The station is tests/chargepoint_sim201.py, hand-written frames checked
against the official 2.0.1 schemas, never the server's own ocpp library."""

import asyncio
import datetime as dt

import pytest
from rest_framework.authtoken.models import Token

from chargers.models import IdTag
from energy.models import Site
from sessions.models import ChargingSession, MeterSample, RejectedSample
from tests.api.helpers import http_json, make_user
from tests.chargepoint_sim201 import CallErrorAnswer, energy_register, meter_value, sim_station, utc_now
from tests.factories import make_charger, make_site
from tests.ocpp_client import in_a_thread

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "garage-secret-201"
TX = "7f0c6a44-5d1e-4c3b-9f7e-2a1d8c0e4b11"


def run(scenario):
    return asyncio.run(scenario())


def power(w: float) -> dict:
    return {"value": w, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"}}


def a_charge(t0: dt.datetime) -> list[tuple[str, int, dict]]:
    """A car's charge on EVSE 2: plugged in at 1000 Wh, charging, 3.5 kWh at the end."""
    return [
        (
            "Started",
            0,
            {
                "timestamp": t0,
                "trigger_reason": "CablePluggedIn",
                "charging_state": "EVConnected",
                "evse_id": 2,
                "id_token": "GrayLogic",
                "remoteStartId": 42,
                "meter_values": [meter_value(t0, energy_register(1000, "Transaction.Begin"))],
            },
        ),
        (
            "Updated",
            1,
            {
                "timestamp": t0 + dt.timedelta(minutes=5),
                "trigger_reason": "ChargingStateChanged",
                "charging_state": "Charging",
                "numberOfPhasesUsed": 3,
                "meter_values": [
                    meter_value(
                        t0 + dt.timedelta(minutes=5),
                        # 1.5 kWh spelt in kWh: the multiplier-free unit is converted like 1.6's.
                        {"value": 1.5, "unitOfMeasure": {"unit": "kWh"}},
                        power(7000),
                    )
                ],
            },
        ),
        (
            "Updated",
            2,
            {
                "timestamp": t0 + dt.timedelta(minutes=10),
                "meter_values": [
                    meter_value(
                        t0 + dt.timedelta(minutes=10),
                        # 2.5 kWh as 25 hWh: unit Wh, multiplier 2.
                        {"value": 25, "unitOfMeasure": {"unit": "Wh", "multiplier": 2}},
                        power(7100),
                    )
                ],
            },
        ),
        (
            "Ended",
            3,
            {
                "timestamp": t0 + dt.timedelta(minutes=15),
                "trigger_reason": "EVCommunicationLost",
                "charging_state": "Idle",
                "stoppedReason": "EVDisconnected",
                "meter_values": [meter_value(t0 + dt.timedelta(minutes=15), energy_register(3500, "Transaction.End"))],
            },
        ),
    ]


def test_a_charge_started_updated_and_ended_is_one_session_with_its_energy_and_samples(ocpp_server):
    charger = make_charger(charge_point_id="ST201-TX", password=PASSWORD)
    token = Token.objects.create(user=make_user(sites=(charger.site,))).key
    t0 = utc_now().replace(microsecond=0) - dt.timedelta(minutes=20)
    answers = []

    async def scenario():
        async with sim_station(ocpp_server, "ST201-TX", password=PASSWORD, evses={1: 1, 2: 1}) as st:
            for event_type, seq_no, options in a_charge(t0):
                answers.append(await st.transaction_event(event_type, TX, seq_no, **options))

    run(scenario)
    # Our own start token is Accepted; events without a token get an empty answer.
    assert answers == [{"idTokenInfo": {"status": "Accepted"}}, {}, {}, {}]

    status, body = http_json(ocpp_server, "GET", "/api/v1/chargers/ST201-TX/sessions", token=token)
    assert status == 200
    assert body["count"] == 1
    listed = body["sessions"][0]
    assert listed["energy_wh"] == 2500
    assert listed["started"].startswith(t0.strftime("%Y-%m-%dT%H:%M:%S"))
    assert listed["ended"].startswith((t0 + dt.timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M:%S"))

    session = ChargingSession.objects.get(charger=charger)
    assert listed["id"] == session.pk
    assert session.charger_transaction_id == TX
    assert session.connector_id == 2  # the evse, sent in the Started only, is remembered
    assert (session.meter_start_wh, session.meter_stop_wh, session.energy_wh) == (1000, 3500, 2500)
    assert (session.stop_reason, session.id_tag) == ("EVDisconnected", "GrayLogic")
    assert (session.last_seq_no, session.ended_seq_no) == (3, 3)
    assert (session.trigger_reason, session.charging_state) == ("EVCommunicationLost", "Idle")
    assert (session.number_of_phases_used, session.remote_start_id) == (3, 42)
    assert not session.start_unseen and not session.offline_events
    # Kept in the unit sent (as 1.6's), the multiplier applied.
    samples = list(session.samples.values_list("measurand", "value", "unit", "context"))
    assert samples == [
        ("Energy.Active.Import.Register", 1000, "Wh", "Transaction.Begin"),
        ("Energy.Active.Import.Register", 1.5, "kWh", "Sample.Periodic"),
        ("Power.Active.Import", 7000, "W", "Sample.Periodic"),
        ("Energy.Active.Import.Register", 2500, "Wh", "Sample.Periodic"),
        ("Power.Active.Import", 7100, "W", "Sample.Periodic"),
        ("Energy.Active.Import.Register", 3500, "Wh", "Transaction.End"),
    ]
    assert MeterSample.objects.filter(charger=charger).count() == 6  # every one linked to its session


def test_a_car_starting_and_its_draw_changing_rerun_energy_control(ocpp_server):
    site = make_site(min_interval_s=0)
    make_charger(site=site, charge_point_id="ST201-CONTROL", password=PASSWORD)

    def last_run():
        return Site.objects.get(pk=site.pk).last_rebalanced_at

    async def settled_last_run(quiet_s: float = 0.5):
        """The last run's stamp once no other run follows (the boot's runs are over)."""
        for _ in range(60):
            stamp = await in_a_thread(last_run)
            await asyncio.sleep(quiet_s)
            if stamp is not None and await in_a_thread(last_run) == stamp:
                return stamp
        raise AssertionError("energy control never settled")

    async def runs_after(before) -> bool:
        for _ in range(100):
            if await in_a_thread(last_run) > before:
                return True
            await asyncio.sleep(0.1)
        return False

    def drawing(w: float) -> dict:
        return {"meter_values": [meter_value(utc_now(), power(w))]}

    async def scenario():
        async with sim_station(ocpp_server, "ST201-CONTROL", password=PASSWORD) as st:
            before = await settled_last_run()
            await st.transaction_event("Started", TX, 0, evse_id=1, charging_state="Charging")
            assert await runs_after(before), "the start ran no energy control"
            # A change in the car's draw re-runs it (as 1.6's MeterValues); a small one does not.
            before = await settled_last_run()
            await st.transaction_event("Updated", TX, 1, **drawing(7000))
            assert await runs_after(before), "a draw of 7 kW ran no energy control"
            before = await settled_last_run()
            await st.transaction_event("Updated", TX, 2, **drawing(7200))
            await asyncio.sleep(1.5)
            assert await in_a_thread(last_run) == before

    run(scenario)


def test_a_replay_out_of_order_offline_and_twice_is_still_one_session_with_every_sample_once(ocpp_server):
    """A station back from hours offline replays its queue with its true timestamps, some
    events twice and out of order: the same session as if they had come once, in order."""
    charger = make_charger(charge_point_id="ST201-REPLAY", password=PASSWORD)
    t0 = utc_now().replace(microsecond=0) - dt.timedelta(hours=6)
    charge = a_charge(t0)
    replay = [charge[i] for i in (1, 0, 0, 3, 2, 1, 3, 2)]

    async def scenario():
        async with sim_station(ocpp_server, "ST201-REPLAY", password=PASSWORD, evses={1: 1, 2: 1}) as st:
            for event_type, seq_no, options in replay:
                await st.transaction_event(event_type, TX, seq_no, offline=True, **options)

    run(scenario)
    session = ChargingSession.objects.get(charger=charger)
    assert session.charger_transaction_id == TX
    assert session.connector_id == 1  # the first event seen (an Updated) named no EVSE
    assert session.started_at == t0  # the late Started corrected the start of the session made by the Updated
    assert not session.start_unseen
    assert session.offline_events
    assert (session.meter_start_wh, session.meter_stop_wh, session.energy_wh) == (1000, 3500, 2500)
    assert session.stopped_at == t0 + dt.timedelta(minutes=15)
    assert (session.last_seq_no, session.ended_seq_no) == (3, 3)
    # The state is the newest event's, not the last to arrive (the Updated of seqNo 1).
    assert (session.trigger_reason, session.charging_state, session.number_of_phases_used) == (
        "EVCommunicationLost",
        "Idle",
        3,
    )
    assert MeterSample.objects.filter(charger=charger).count() == 6
    assert MeterSample.objects.filter(charger=charger, session=session).count() == 6


def test_an_updated_after_the_ended_changes_nothing(ocpp_server):
    charger = make_charger(charge_point_id="ST201-LATE", password=PASSWORD)
    t0 = utc_now().replace(microsecond=0) - dt.timedelta(minutes=30)

    async def scenario():
        async with sim_station(ocpp_server, "ST201-LATE", password=PASSWORD) as st:
            for event_type, seq_no, options in a_charge(t0):
                await st.transaction_event(event_type, TX, seq_no, **{**options, "evse_id": None})
            answer = await st.transaction_event(
                "Updated",
                TX,
                4,
                timestamp=t0 + dt.timedelta(minutes=20),
                trigger_reason="MeterValuePeriodic",
                charging_state="Charging",
                meter_values=[meter_value(t0 + dt.timedelta(minutes=20), energy_register(9000), power(11000))],
            )
            assert answer == {}

    before = list(ChargingSession.objects.filter(charger=charger).values())
    run(scenario)
    session = ChargingSession.objects.get(charger=charger)
    assert before == []
    assert (session.energy_wh, session.charging_state, session.last_seq_no) == (2500, "Idle", 3)
    assert session.stopped_at == t0 + dt.timedelta(minutes=15)
    assert MeterSample.objects.filter(charger=charger).count() == 6
    assert not MeterSample.objects.filter(charger=charger, value=9000).exists()


def test_an_updated_for_an_unknown_transaction_is_answered_and_kept_flagged(ocpp_server):
    """Answered (a station retries what is not answered, for ever) and kept as a session started
    at that event's time; a value outside physics is kept apart, as for 1.6."""
    charger = make_charger(charge_point_id="ST201-UNKNOWN", password=PASSWORD)
    IdTag.objects.create(id_tag="RFID-BLOCKED", status=IdTag.Status.BLOCKED)
    at = utc_now().replace(microsecond=0) - dt.timedelta(minutes=3)

    async def scenario():
        async with sim_station(ocpp_server, "ST201-UNKNOWN", password=PASSWORD) as st:
            answer = await st.transaction_event(
                "Updated",
                TX,
                12,
                timestamp=at,
                id_token="RFID-BLOCKED",
                charging_state="Charging",
                meter_values=[meter_value(at, energy_register(52_000), power(5_000_000_000))],
            )
            assert answer == {"idTokenInfo": {"status": "Blocked"}}
            other = await st.transaction_event("Started", "another-transaction", 0, id_token="RFID-NEVER-SEEN")
            assert other == {"idTokenInfo": {"status": "Invalid"}}

    run(scenario)
    session = ChargingSession.objects.get(charger=charger, charger_transaction_id=TX)
    assert session.start_unseen
    assert session.started_at == at
    # The other transaction, started later on the same EVSE (1: neither named one), closes it.
    assert session.stop_reason == "Superseded"
    assert ChargingSession.objects.get(charger_transaction_id="another-transaction").stopped_at is None
    assert (session.last_seq_no, session.charging_state, session.id_tag) == (12, "Charging", "RFID-BLOCKED")
    assert list(session.samples.values_list("measurand", "value")) == [("Energy.Active.Import.Register", 52_000)]
    assert session.meter_start_wh is None  # an Updated's register is no start reading
    rejected = RejectedSample.objects.get(charger=charger)
    assert (rejected.measurand, rejected.reason) == ("Power.Active.Import", RejectedSample.Reason.OUT_OF_RANGE)


def test_an_empty_transaction_id_is_refused_and_stores_nothing(ocpp_server):
    """The schema allows "" (no minLength); one session per "" would gather every such event."""
    charger = make_charger(charge_point_id="ST201-EMPTY", password=PASSWORD)

    async def scenario():
        async with sim_station(ocpp_server, "ST201-EMPTY", password=PASSWORD) as st:
            with pytest.raises(CallErrorAnswer) as refused:
                await st.transaction_event("Started", "", 0, evse_id=1)
            assert refused.value.code == "PropertyConstraintViolation"

    run(scenario)
    assert not ChargingSession.objects.filter(charger=charger).exists()


def test_samples_of_an_event_delivered_after_the_ended_count_in_its_energy(ocpp_server):
    """An Ended without a register: the energy is the register samples' span, and an Updated
    numbered before the Ended but delivered after it still adds its reading."""
    charger = make_charger(charge_point_id="ST201-LATESAMPLE", password=PASSWORD)
    t0 = utc_now().replace(microsecond=0) - dt.timedelta(hours=2)
    at = [t0 + dt.timedelta(minutes=m) for m in (0, 10, 20)]

    async def scenario():
        async with sim_station(ocpp_server, "ST201-LATESAMPLE", password=PASSWORD) as st:
            await st.transaction_event(
                "Started", TX, 0, timestamp=at[0], meter_values=[meter_value(at[0], energy_register(1000))]
            )
            await st.transaction_event("Ended", TX, 2, timestamp=at[2], stoppedReason="Local")
            assert (await in_a_thread(lambda: ChargingSession.objects.get(charger=charger).energy_wh)) == 0
            await st.transaction_event(
                "Updated", TX, 1, timestamp=at[1], meter_values=[meter_value(at[1], energy_register(4000))]
            )

    run(scenario)
    session = ChargingSession.objects.get(charger=charger)
    assert (session.meter_start_wh, session.meter_stop_wh, session.energy_wh) == (1000, None, 3000)
    assert session.stopped_at == at[2]
