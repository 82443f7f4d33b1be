"""OCPP 1.6-J: one handler per charger→central system action."""

import datetime as dt

from channels.db import database_sync_to_async
from ocpp.exceptions import (
    FormationViolationError,
    OccurenceConstraintViolationError,
    PropertyConstraintViolationError,
)
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint as V16ChargePoint
from ocpp.v16 import call_result, datatypes
from ocpp.v16.enums import Action, DataTransferStatus

from chargers import events
from chargers import services as charger_services
from chargers.models import PROBE_REQUESTED_BY
from chargers.ocpp.base import CentralSystemChargePoint, check_int32, parse_ocpp_datetime
from chargers.ocpp.ocpp16_security import SecurityHandlers16
from chargers.ocpp.writes import hot_path_writes
from chargers.profiles import configuration_changes, profile_from_configuration
from chargers.protocols import ocpp16 as ocpp16_calls
from graylogic.datetimes import iso_utc
from sessions import services as session_services
from sessions.charger_clock import charger_time_believable, server_time_if_off
from sessions.measurands import ENERGY_REGISTER_MAX_WH, sample_rejection
from sessions.models import RejectedSample
from sessions.services import ChargerRating, RejectedSampleData, SampleData

db = database_sync_to_async

# connectorId's column (PositiveSmallIntegerField) holds up to this on every database.
CONNECTOR_ID_MAX = 32767


def _id_tag_info(info: dict | None) -> datatypes.IdTagInfo | None:
    return datatypes.IdTagInfo(**info) if info else None


def check_connector_id(connector_id: int, *, rating: ChargerRating, minimum: int = 0) -> None:
    """The spec's range is 0.. (1.. for transactions), up to the charger's connectors when known."""
    check_int32(connector_id, "connectorId")
    maximum = min(CONNECTOR_ID_MAX, rating.number_of_connectors or CONNECTOR_ID_MAX)
    if not minimum <= connector_id <= maximum:
        raise PropertyConstraintViolationError(description=f"connectorId must be {minimum} to {maximum}")


def check_meter_wh(meter_wh: int, field: str) -> int:
    """A register reading in Wh: OCPP's integer, and what a meter can hold."""
    meter_wh = check_int32(meter_wh, field)
    if not 0 <= meter_wh <= ENERGY_REGISTER_MAX_WH:
        raise PropertyConstraintViolationError(description=f"{field} {meter_wh} Wh is not a meter reading")
    return meter_wh


def samples_from_meter_values(
    meter_values: list[dict],
    field: str = "meterValue",
    *,
    received_at: dt.datetime,
    max_power_w: int | None = None,
) -> tuple[list[SampleData], list[RejectedSampleData]]:
    """Turn MeterValues' sampledValue lists into samples, filling the spec's defaults; values
    outside physics or dated off the server's clock come back apart, as rejected."""
    samples, rejected = [], []
    for i, meter_value in enumerate(meter_values):
        timestamp = parse_ocpp_datetime(meter_value["timestamp"], f"{field}/{i}/timestamp")
        believable = charger_time_believable(timestamp, received_at=received_at)
        for sampled in meter_value["sampled_value"]:
            measurand = sampled.get("measurand", "Energy.Active.Import.Register")
            unit = sampled.get("unit", "Wh" if measurand.startswith("Energy") else "")
            value, signed_data, reason = None, "", None
            if sampled.get("format") == "SignedData":
                signed_data = sampled["value"]
            else:
                try:
                    value = float(sampled["value"])
                except ValueError:
                    raise PropertyConstraintViolationError(
                        description=f"{field}/{i}: {measurand} value {sampled['value'][:40]!r} is not a number"
                    ) from None
                reason = sample_rejection(measurand=measurand, unit=unit, value=value, max_power_w=max_power_w)
            sample = SampleData(
                timestamp=timestamp,
                value=value,
                measurand=measurand,
                phase=sampled.get("phase", ""),
                unit=unit,
                context=sampled.get("context", "Sample.Periodic"),
                location=sampled.get("location", "Outlet"),
                signed_data=signed_data,
            )
            reason = reason or (None if believable else RejectedSample.Reason.CLOCK)
            if reason is None:
                samples.append(sample)
            else:
                rejected.append(RejectedSampleData(sample=sample, value_text=sampled["value"], reason=reason))
    return samples, rejected


class ChargePoint16(SecurityHandlers16, CentralSystemChargePoint, V16ChargePoint):
    format_error = FormationViolationError
    occurrence_error = OccurenceConstraintViolationError
    known_actions = frozenset(action.value for action in Action)
    answered_in_a_task = frozenset({"StartTransaction"})
    calls = ocpp16_calls

    @on(Action.boot_notification, skip_schema_validation=True)
    async def on_boot_notification(self, charge_point_vendor: str, charge_point_model: str, **kwargs):
        """Store the charger's identity and answer Accepted, Pending or Rejected."""
        boot_info = {
            "vendor": charge_point_vendor,
            "model": charge_point_model,
            "serial_number": kwargs.get("charge_point_serial_number", ""),
            "charge_box_serial_number": kwargs.get("charge_box_serial_number", ""),
            "firmware_version": kwargs.get("firmware_version", ""),
            "iccid": kwargs.get("iccid", ""),
            "imsi": kwargs.get("imsi", ""),
            "meter_type": kwargs.get("meter_type", ""),
            "meter_serial_number": kwargs.get("meter_serial_number", ""),
        }
        result = await self.boot_record(boot_info)
        return call_result.BootNotification(
            current_time=iso_utc(dt.datetime.now(dt.UTC)), interval=result.interval_s, status=result.status
        )

    @after(Action.boot_notification)
    async def after_boot_notification(self, **kwargs):
        """Once accepted: learn what the charger can do, give it its share of the fuses at once
        (before a car can start), check that it holds it, then set up metering."""
        if not self.registration_accepted:
            return
        probe = PROBE_REQUESTED_BY
        reply = await self.call_and_record(self.calls.configuration_read(), probe)
        profile = None
        if reply["outcome"] == "answered":
            keys = reply["response"].get("configurationKey", [])
            profile = profile_from_configuration(keys)
            await db(charger_services.charger_store_profile)(
                charger_pk=self.charger_pk, profile=profile, configuration=keys
            )
            self._rating = None
        await self.control_after_boot()
        for key, value in configuration_changes(profile).items() if profile else ():
            await self.call_and_record(self.calls.configuration_change(key=key, value=value), probe)

    @on(Action.heartbeat, skip_schema_validation=True)
    async def on_heartbeat(self):
        """Record liveness and give the charger the time."""
        hot_path_writes().heartbeats.write_later(self.charger_pk)
        return call_result.Heartbeat(current_time=iso_utc(dt.datetime.now(dt.UTC)))

    @on(Action.status_notification, skip_schema_validation=True)
    async def on_status_notification(self, connector_id: int, error_code: str, status: str, **kwargs):
        """Store a connector's (or, for connector 0, the charger's) status and error."""
        check_connector_id(connector_id, rating=await self.rating())
        status_at = None
        if timestamp := kwargs.get("timestamp"):
            # A status dated by a clock far off is dated when it arrived.
            status_at, _ = server_time_if_off(
                parse_ocpp_datetime(timestamp, "timestamp"), received_at=dt.datetime.now(dt.UTC)
            )
        changed = await db(charger_services.connector_status_update)(
            charger_pk=self.charger_pk,
            connector_id=connector_id,
            status=status,
            error_code=error_code,
            info=kwargs.get("info", ""),
            vendor_id=kwargs.get("vendor_id", ""),
            vendor_error_code=kwargs.get("vendor_error_code", ""),
            timestamp=status_at,
        )
        events.charger_changed(charger_pk=self.charger_pk)
        if changed:
            await self.rebalance(f"connector {connector_id} {status}")
        return call_result.StatusNotification()

    @on(Action.authorize, skip_schema_validation=True)
    async def on_authorize(self, id_tag: str):
        """Check an RFID tag against the ID tags (expiry, blocked parent, accept-any)."""
        info = await db(charger_services.id_tag_info)(charger_pk=self.charger_pk, id_tag=id_tag)
        return call_result.Authorize(id_tag_info=_id_tag_info(info))

    @on(Action.start_transaction, skip_schema_validation=True)
    async def on_start_transaction(self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **kwargs):
        """Open a session and allocate its transaction id (the same id for a replay)."""
        check_connector_id(connector_id, rating=await self.rating(), minimum=1)
        meter_start = check_meter_wh(meter_start, "meterStart")
        reservation_id = kwargs.get("reservation_id")
        if reservation_id is not None:
            reservation_id = check_int32(reservation_id, "reservationId")
        started_at, charger_started_at = server_time_if_off(
            parse_ocpp_datetime(timestamp, "timestamp"), received_at=dt.datetime.now(dt.UTC)
        )
        transaction_id, info = await db(session_services.session_start)(
            charger_pk=self.charger_pk,
            connector_id=connector_id,
            id_tag=id_tag,
            meter_start_wh=meter_start,
            started_at=started_at,
            charger_started_at=charger_started_at,
            reservation_id=reservation_id,
        )
        events.transaction_started(
            charger_pk=self.charger_pk,
            charge_point_id=self.id,
            transaction_id=transaction_id,
            connector_id=connector_id,
            id_tag=id_tag,
            meter_start_wh=meter_start,
            timestamp=started_at,
        )
        # Answered once the fuse limits fit the new car, lowered ones first (answered_in_a_task).
        await self.rebalance_now("transaction started", protection_only=True)
        return call_result.StartTransaction(transaction_id=transaction_id, id_tag_info=_id_tag_info(info))

    @after(Action.start_transaction)
    async def after_start_transaction(self, **kwargs):
        """Now that the charger knows its transaction id: its solar and time-of-use profiles."""
        await self.rebalance_now("transaction started")

    @on(Action.stop_transaction, skip_schema_validation=True)
    async def on_stop_transaction(self, meter_stop: int, timestamp: str, transaction_id: int, **kwargs):
        """Close a session with its final meter reading and the samples sent with it."""
        transaction_id = check_int32(transaction_id, "transactionId")
        meter_stop = check_meter_wh(meter_stop, "meterStop")
        received_at = dt.datetime.now(dt.UTC)
        samples, rejected = samples_from_meter_values(
            kwargs.get("transaction_data") or [],
            field="transactionData",
            received_at=received_at,
            max_power_w=(await self.rating()).max_power_w,
        )
        stopped_at, charger_stopped_at = server_time_if_off(
            parse_ocpp_datetime(timestamp, "timestamp"), received_at=received_at
        )
        info = await db(session_services.session_stop)(
            charger_pk=self.charger_pk,
            transaction_id=transaction_id,
            meter_stop_wh=meter_stop,
            stopped_at=stopped_at,
            charger_stopped_at=charger_stopped_at,
            reason=kwargs.get("reason", ""),
            id_tag=kwargs.get("id_tag", ""),
            transaction_data=samples,
            rejected_data=rejected,
        )
        events.transaction_stopped(
            charger_pk=self.charger_pk,
            charge_point_id=self.id,
            transaction_id=transaction_id,
            meter_stop_wh=meter_stop,
            timestamp=stopped_at,
            reason=kwargs.get("reason", ""),
            id_tag=kwargs.get("id_tag", ""),
        )
        await self.rebalance("transaction stopped")
        return call_result.StopTransaction(id_tag_info=_id_tag_info(info))

    @on(Action.meter_values, skip_schema_validation=True)
    async def on_meter_values(self, connector_id: int, meter_value: list, **kwargs):
        """Store every sampled value, linked to its session when the transaction is known; those
        outside physics or the clock apart, where nothing (control, pages, MQTT) reads them."""
        rating = await self.rating()
        check_connector_id(connector_id, rating=rating)
        transaction_id = kwargs.get("transaction_id")
        if transaction_id is not None:
            transaction_id = check_int32(transaction_id, "transactionId")
        samples, rejected = samples_from_meter_values(
            meter_value, received_at=dt.datetime.now(dt.UTC), max_power_w=rating.max_power_w
        )
        await self.samples_store(
            connector_id=connector_id, transaction_id=transaction_id, samples=samples, rejected=rejected
        )
        # Energy control reads a car's draw from its session's samples only: a draw reported
        # outside a transaction cannot change a decision, so it is not worth a run.
        if transaction_id is not None:
            await self.rebalance_on_draw_change(samples)
        return call_result.MeterValues()

    @on(Action.data_transfer, skip_schema_validation=True)
    async def on_data_transfer(self, vendor_id: str, message_id: str = "-", data: str = ""):
        """Keep vendor data in the event log (its start and its size); no vendor extension is
        understood here."""
        await self.vendor_data_record(vendor_id=vendor_id, message_id=message_id, text=data)
        return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)

    @on(Action.diagnostics_status_notification, skip_schema_validation=True)
    async def on_diagnostics_status_notification(self, status: str):
        """Track a diagnostics upload the installer asked for."""
        await db(charger_services.charger_diagnostics_status)(charger_pk=self.charger_pk, status=status)
        return call_result.DiagnosticsStatusNotification()

    @on(Action.firmware_status_notification, skip_schema_validation=True)
    async def on_firmware_status_notification(self, status: str):
        """Track a firmware update the installer started."""
        await db(charger_services.charger_firmware_status)(charger_pk=self.charger_pk, status=status)
        return call_result.FirmwareStatusNotification()
