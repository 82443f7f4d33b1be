"""What the domain asks of a connected charger, in words of no protocol version: set or clear a
limit, start, stop, read its configuration or the schedule it follows.

Each call is built first (pure, by the module of the charger's protocol: chargers/protocols/
ocpp16.py or ocpp201.py), then sent down the command path (chargers.commands), which waits
for the answer. Building apart from sending lets energy control decide every call of a run
under its sites' locks and send them after.
"""

import datetime as dt
from types import ModuleType

from asgiref.sync import async_to_sync

from chargers.commands import ChargerRejected, charger_command
from chargers.models import OCPP16, OCPP201, Charger
from chargers.protocols import ChargerCall, LimitPeriod, LimitPurpose, ocpp16, ocpp201

PROTOCOLS: dict[str, ModuleType] = {OCPP16: ocpp16, OCPP201: ocpp201}
# The ID tag our own remote starts carry: a transaction under it was started by this server.
REMOTE_ID_TAG = "GrayLogic"


def _protocol(charger: Charger) -> ModuleType:
    return PROTOCOLS[charger.connection_protocol or charger.protocol]


def limit_set_call(
    *,
    charger: Charger,
    purpose: LimitPurpose,
    limit_w: float,
    now: dt.datetime,
    duration_s: int | None = None,
    phases: int | None = None,
    number_phases: int | None = None,
    connector_id: int = 0,
    transaction_id: int | str | None = None,
) -> ChargerCall:
    """At most limit_w from now on (for duration_s, or until replaced). `phases`: what the car
    charges on when that is not how the charger is wired; `number_phases`: the phases a charger
    that can switch is told to use; a transaction's limit goes on its connector."""
    return _protocol(charger).limit_set(
        charger=charger,
        purpose=purpose,
        limit_w=limit_w,
        now=now,
        duration_s=duration_s,
        phases=phases,
        number_phases=number_phases,
        connector_id=connector_id,
        transaction_id=transaction_id,
    )


def schedule_set_call(
    *, charger: Charger, purpose: LimitPurpose, periods: list[LimitPeriod], start: dt.datetime, duration_s: int | None
) -> ChargerCall:
    """A plan of several limits over time for the whole charger."""
    return _protocol(charger).schedule_set(
        charger=charger, purpose=purpose, periods=periods, start=start, duration_s=duration_s
    )


def limit_clear_call(*, charger: Charger, purpose: LimitPurpose) -> ChargerCall:
    return _protocol(charger).limit_clear(charger=charger, purpose=purpose)


def start_call(*, charger: Charger, connector_id: int, id_tag: str = REMOTE_ID_TAG) -> ChargerCall:
    return _protocol(charger).start(connector_id=connector_id, id_tag=id_tag)


def stop_call(*, charger: Charger, transaction_id: int | str) -> ChargerCall:
    """transaction_id as the charger knows it: our session id for 1.6, the station's own
    string for 2.0.1 (ChargingSession.charger_transaction_id)."""
    return _protocol(charger).stop(transaction_id=transaction_id)


def configuration_read_call(*, charger: Charger, keys: list[str] | None = None) -> ChargerCall:
    """Every key the charger reports, or just these."""
    return _protocol(charger).configuration_read(keys=keys)


def composite_schedule_read_call(*, charger: Charger, connector_id: int, duration_s: int) -> ChargerCall:
    """The limits the charger will apply over the next duration_s, all its profiles combined."""
    return _protocol(charger).composite_schedule_read(connector_id=connector_id, duration_s=duration_s)


def composite_schedule_answer(*, charger: Charger, answer: dict) -> dict:
    """A GetCompositeSchedule answer in one shape whatever the version: {"status", "chargingSchedule"}."""
    return _protocol(charger).composite_answer(answer)


def meter_values_request_call(*, charger: Charger, connector_id: int) -> ChargerCall:
    """Ask for one MeterValues of an outlet now (TriggerMessage), rather than at the next sample."""
    if (charger.connection_protocol or charger.protocol) == OCPP201:
        return ocpp201.message_trigger(requested_message="MeterValues", evse_id=connector_id)
    return ocpp16.message_trigger(requested_message="MeterValues", connector_id=connector_id)


async def charger_call(*, charger: Charger, call: ChargerCall, requested_by: str) -> dict:
    """Send a built call and return the charger's answer; raises CommandFailed."""
    return await charger_command(
        charge_point_id=charger.charge_point_id, action=call.action, payload=call.payload, requested_by=requested_by
    )


charger_call_sync = async_to_sync(charger_call)


def answer_accepted(action: str, answer: dict) -> dict:
    """The answer, if the charger agreed; ChargerRejected naming what it said otherwise."""
    if answer.get("status") != "Accepted":
        raise ChargerRejected(f"the charger answered {answer.get('status')} to {action}", code=answer.get("status", ""))
    return answer
