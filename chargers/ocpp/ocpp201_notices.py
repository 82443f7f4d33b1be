"""OCPP 2.0.1: what a station tells of the car, its device and the limits it holds, a mixin of
ChargePoint201 (chargers/ocpp/ocpp201.py). NotifyEVChargingNeeds puts the car's departure time
and energy need on its session (energy control's target for that charger); NotifyEvent goes
into the event log and a fault on an EVSE onto its row, as 1.6's Faulted does;
NotifyChargingLimit, ClearedChargingLimit and ReportChargingProfiles go into the event log in
words (chargers/device_notices.py), and a limit set on the station outside this server is
counted by energy control until it is cleared or ends."""

import datetime as dt

from channels.db import database_sync_to_async
from ocpp.exceptions import PropertyConstraintViolationError
from ocpp.routing import on
from ocpp.v201 import call_result
from ocpp.v201.enums import Action, ChargingLimitSourceEnumType, NotifyEVChargingNeedsStatusEnumType

from chargers import device_notices, events
from chargers import services as charger_services
from chargers.models import ChargerEvent
from chargers.ocpp.base import check_int32, parse_ocpp_datetime
from sessions import services as session_services
from sessions.charger_clock import server_time_if_off

db = database_sync_to_async

# A Connector row's column holds EVSE ids up to this (chargers.services.evse_status_update).
EVSE_ID_MAX = 32767
# No car's battery takes more in one charge: a larger energyAmount is a broken value.
EV_ENERGY_MAX_WH = 1_000_000


def _evse_id(value: int, field: str, *, minimum: int) -> int:
    check_int32(value, field)
    if not minimum <= value <= EVSE_ID_MAX:
        raise PropertyConstraintViolationError(description=f"{field} must be {minimum} to {EVSE_ID_MAX}")
    return value


class StationNotices:
    """The handlers; self is a ChargePoint201 (id, charger_pk, remote_address, rebalance)."""

    async def _notice_record(self, kind: ChargerEvent.Kind, message: str, payload: dict) -> None:
        await db(charger_services.charger_event_record)(
            charge_point_id=self.id,
            charger_pk=self.charger_pk,
            kind=kind,
            message=message,
            remote_address=self.remote_address,
            payload=payload,
        )

    @on(Action.notify_ev_charging_needs, skip_schema_validation=True)
    async def on_notify_ev_charging_needs(self, evse_id: int, charging_needs: dict, **kwargs):
        """The car's departure time and the energy it asks for, on the session running on its
        EVSE: time-of-use plans that charger by them (energy.tou.charger_target). With no session
        there it is Rejected (no schedule will follow) and kept in the event log."""
        _evse_id(evse_id, "evseId", minimum=1)
        departure = charging_needs.get("departure_time")
        departure_at = parse_ocpp_datetime(departure, "chargingNeeds/departureTime") if departure else None
        parameters = charging_needs.get("ac_charging_parameters") or charging_needs.get("dc_charging_parameters") or {}
        energy_wh = parameters.get("energy_amount")
        if energy_wh is not None and not 0 <= check_int32(energy_wh, "energyAmount") <= EV_ENERGY_MAX_WH:
            raise PropertyConstraintViolationError(description=f"energyAmount must be 0 to {EV_ENERGY_MAX_WH} Wh")
        session_pk = await db(session_services.ev_needs_store)(
            charger_pk=self.charger_pk, evse_id=evse_id, departure_at=departure_at, energy_wh=energy_wh
        )
        if session_pk is None:
            await self._notice_record(
                ChargerEvent.Kind.NOTIFY_EVENT,
                f"NotifyEVChargingNeeds for EVSE {evse_id} with no session running there: "
                f"departure {departure or '-'}, {energy_wh if energy_wh is not None else '-'} Wh",
                {"evseId": evse_id, "chargingNeeds": charging_needs},
            )
            return call_result.NotifyEVChargingNeeds(status=NotifyEVChargingNeedsStatusEnumType.rejected)
        await self.rebalance(f"EVSE {evse_id}: the car's charging needs")
        return call_result.NotifyEVChargingNeeds(status=NotifyEVChargingNeedsStatusEnumType.accepted)

    @on(Action.notify_event, skip_schema_validation=True)
    async def on_notify_event(self, generated_at: str, seq_no: int, event_data: list, **kwargs):
        """Each event into the event log; a fault on an EVSE (or the station) onto its status
        and error code, and its end taken off, as 1.6's StatusNotification Faulted."""
        parse_ocpp_datetime(generated_at, "generatedAt")
        received_at = dt.datetime.now(dt.UTC)
        faults = []
        for i, event in enumerate(event_data):
            if evse := event["component"].get("evse"):
                _evse_id(evse["id"], f"eventData/{i}/component/evse/id", minimum=0)
            event_at, _ = server_time_if_off(
                parse_ocpp_datetime(event["timestamp"], f"eventData/{i}/timestamp"), received_at=received_at
            )
            if (fault := device_notices.fault_change(event)) is not None:
                faults.append((fault, event_at))
        for event in event_data:
            await self._notice_record(ChargerEvent.Kind.NOTIFY_EVENT, device_notices.event_text(event), event)
        changed = [
            fault
            for fault, event_at in faults
            if await db(charger_services.evse_fault_update)(charger_pk=self.charger_pk, fault=fault, timestamp=event_at)
        ]
        if faults:
            events.charger_changed(charger_pk=self.charger_pk)
        for fault in changed:
            await self.rebalance(f"EVSE {fault.evse_id} {'faulted' if fault.faulted else 'fault cleared'}")
        return call_result.NotifyEvent()

    @on(Action.notify_charging_limit, skip_schema_validation=True)
    async def on_notify_charging_limit(self, charging_limit: dict, **kwargs):
        """A limit an EMS, the grid operator or another party set on the station, in the event
        log in words. Energy control counts the one in force (the station obeys it anyway), so
        what this charger cannot take goes to the others; on one EVSE it caps the station."""
        evse_id = kwargs.get("evse_id")
        if evse_id is not None:
            _evse_id(evse_id, "evseId", minimum=0)
        schedules = kwargs.get("charging_schedule") or []
        if schedules:
            now = dt.datetime.now(dt.UTC)
            start = schedules[0].get("start_schedule")
            kept_w = await db(charger_services.charger_external_limit_record)(
                charger_pk=self.charger_pk,
                source=charging_limit["charging_limit_source"],
                schedule=schedules[0],
                start=parse_ocpp_datetime(start, "chargingSchedule/0/startSchedule") if start else now,
                now=now,
            )
            if kept_w is None:
                raise PropertyConstraintViolationError(description="chargingSchedulePeriod/limit must be 0 or more")
            await self.rebalance(f"limit set on the charger by {charging_limit['charging_limit_source']}")
        message = device_notices.charging_limit_text(
            source=charging_limit["charging_limit_source"],
            evse_id=evse_id,
            schedules=kwargs.get("charging_schedule") or [],
            grid_critical=charging_limit.get("is_grid_critical"),
        )
        payload = {
            "chargingLimit": charging_limit,
            "evseId": evse_id,
            "chargingSchedule": kwargs.get("charging_schedule"),
        }
        await self._notice_record(ChargerEvent.Kind.EXTERNAL_LIMIT, message, payload)
        return call_result.NotifyChargingLimit()

    @on(Action.cleared_charging_limit, skip_schema_validation=True)
    async def on_cleared_charging_limit(self, charging_limit_source: str, **kwargs):
        evse_id = kwargs.get("evse_id")
        if evse_id is not None:
            _evse_id(evse_id, "evseId", minimum=0)
        await self._notice_record(
            ChargerEvent.Kind.EXTERNAL_LIMIT,
            device_notices.limit_cleared_text(source=charging_limit_source, evse_id=evse_id),
            {"chargingLimitSource": charging_limit_source, "evseId": evse_id},
        )
        if await db(charger_services.charger_external_limit_clear)(
            charger_pk=self.charger_pk, source=charging_limit_source
        ):
            await self.rebalance(f"{charging_limit_source}'s limit on the charger cleared")
        return call_result.ClearedChargingLimit()

    @on(Action.report_charging_profiles, skip_schema_validation=True)
    async def on_report_charging_profiles(
        self, request_id: int, charging_limit_source: str, evse_id: int, charging_profile: list, **kwargs
    ):
        """The profiles the station holds, in the event log in words, each part of a report
        (tbc) as it comes: those an outside party set as a limit set outside this server."""
        _evse_id(evse_id, "evseId", minimum=0)
        kind = (
            ChargerEvent.Kind.NOTIFY_EVENT
            if charging_limit_source == ChargingLimitSourceEnumType.cso
            else ChargerEvent.Kind.EXTERNAL_LIMIT
        )
        message = device_notices.profiles_text(
            source=charging_limit_source, evse_id=evse_id, profiles=charging_profile, request_id=request_id
        )
        payload = {
            "requestId": request_id,
            "chargingLimitSource": charging_limit_source,
            "evseId": evse_id,
            "chargingProfile": charging_profile,
            "tbc": kwargs.get("tbc", False),
        }
        await self._notice_record(kind, message, payload)
        return call_result.ReportChargingProfiles()
