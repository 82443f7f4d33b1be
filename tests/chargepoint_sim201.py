"""An independent OCPP 2.0.1 charging station for tests: not the server's `ocpp` library.

It speaks hand-written frames over `websockets` and checks every frame it sends or receives
against the official OCPP 2.0.1 JSON schemas (the files the `ocpp` package ships, read with
jsonschema). It has EVSEs with connectors, keeps the charging profiles it is sent (answering
GetCompositeSchedule from its ChargingStationMaxProfile), starts and stops transactions when
asked (RequestStartTransaction, RequestStopTransaction: answered, then the TransactionEvent a
station sends) and answers every other call NotSupported, as a station without that feature
would. Tests read what the server sent in `calls`.
"""

import asyncio
import base64
import contextlib
import datetime as dt
import functools
import json
import ssl
import uuid
from pathlib import Path

import jsonschema
import ocpp
import websockets
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.chargepoint_sim import MIN_CURRENT_A, NOMINAL_VOLTAGE_V, StationViews

SCHEMA_DIR = Path(ocpp.__file__).parent / "v201" / "schemas"
SUBPROTOCOL = "ocpp2.0.1"
TIMEOUT_S = 10
# A station refused at its reconnection tries again after this, this many times.
RETRY_BACK_OFF_S = 0.5
SECURE_RECONNECT_RETRIES = 3


class SchemaViolation(AssertionError):
    """A frame, ours or the server's, that the official schema refuses."""


class CallErrorAnswer(AssertionError):
    """The server answered a call with a CALLERROR."""

    def __init__(self, code: str, description: str):
        super().__init__(f"CALLERROR {code}: {description}")
        self.code, self.description = code, description


@functools.cache
def _validator(name: str):
    # The 2.0.1 schema files start with a byte order mark.
    schema = json.loads((SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8-sig"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def check_schema(action: str, payload: dict, *, response: bool) -> None:
    name = f"{action}{'Response' if response else 'Request'}"
    errors = sorted(_validator(name).iter_errors(payload), key=str)
    if errors:
        raise SchemaViolation(f"{name} breaks the official schema: {errors[0].message} in {payload}")


def iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def meter_value(when: dt.datetime, *sampled: dict) -> dict:
    """One meterValue: sampled values taken at `when`."""
    return {"timestamp": iso(when), "sampledValue": list(sampled)}


def energy_register(wh: float, context: str = "Sample.Periodic", **fields) -> dict:
    """An Energy.Active.Import.Register reading, the measurand 2.0.1 defaults to, spelt out."""
    return {"value": wh, "measurand": "Energy.Active.Import.Register", "context": context, **fields}


def device_event(
    component: str,
    variable: str,
    actual_value: str,
    *,
    event_id: int = 1,
    evse_id: int | None = None,
    connector_id: int | None = None,
    cleared: bool | None = None,
    trigger: str = "Delta",
    **fields,
) -> dict:
    """One NotifyEvent eventData item: a variable of a component (on an EVSE and connector when
    given) that changed; fields: techCode, techInfo, transactionId..."""
    item = {
        "eventId": event_id,
        "timestamp": iso(utc_now()),
        "trigger": trigger,
        "actualValue": actual_value,
        "eventNotificationType": "HardWiredNotification",
        "component": {"name": component},
        "variable": {"name": variable},
        **fields,
    }
    if evse_id is not None:
        item["component"]["evse"] = {"id": evse_id}
        if connector_id is not None:
            item["component"]["evse"]["connectorId"] = connector_id
    if cleared is not None:
        item["cleared"] = cleared
    return item


def basic_auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def report_variable(
    component: str,
    variable: str,
    value: str,
    *,
    mutability: str = "ReadWrite",
    data_type: str = "string",
    evse: int | None = None,
    connector: int | None = None,
    instance: str | None = None,
    component_instance: str | None = None,
    values_list: str | None = None,
    max_limit: float | None = None,
    unit: str | None = None,
) -> dict:
    """One variable of a device model as NotifyReport's reportData holds it: its Actual attribute
    (no value when WriteOnly: a station never reports those) and its characteristics."""
    component_type: dict = {"name": component}
    if component_instance:
        component_type["instance"] = component_instance
    if evse is not None:
        component_type["evse"] = {"id": evse, **({"connectorId": connector} if connector is not None else {})}
    attribute = {"type": "Actual", "mutability": mutability, "persistent": True, "constant": False}
    if mutability != "WriteOnly":
        attribute["value"] = value
    characteristics: dict = {"dataType": data_type, "supportsMonitoring": False}
    for key, given in (("valuesList", values_list), ("maxLimit", max_limit), ("unit", unit)):
        if given is not None:
            characteristics[key] = given
    return {
        "component": component_type,
        "variable": {"name": variable, **({"instance": instance} if instance else {})},
        "variableAttribute": [attribute],
        "variableCharacteristics": characteristics,
    }


MEASURANDS_SAMPLED = "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Current.Offered,Voltage,SoC"
TX_POINTS = "ParkingBayOccupancy,EVConnected,Authorized,DataSigned,PowerPathClosed,EnergyTransfer"


def default_device_model(
    evses: dict[int, int],
    *,
    rate_unit: str = "A,W",
    measurands: str = "Energy.Active.Import.Register",
    interval_s: int = 300,
) -> list[dict]:
    """The device model of a common AC station (OCPP 2.0.1 part 2, appendix: the controllers'
    standard variables), its EVSEs and connectors; what its installer or vendor left sampled:
    `measurands` every `interval_s`."""
    v = report_variable
    model = [
        v("DeviceDataCtrlr", "ConfigurationValueSize", "1000", mutability="ReadOnly", data_type="integer"),
        v("DeviceDataCtrlr", "ItemsPerMessage", "20", mutability="ReadOnly", data_type="integer", instance="GetReport"),
        v("OCPPCommCtrlr", "HeartbeatInterval", "300", data_type="integer", unit="s"),
        v("OCPPCommCtrlr", "MessageTimeout", "30", data_type="integer", instance="Default", unit="s"),
        v("SecurityCtrlr", "SecurityProfile", "1", data_type="integer"),
        v("SecurityCtrlr", "BasicAuthPassword", "", mutability="WriteOnly", max_limit=40),
        v("SecurityCtrlr", "OrganizationName", "Gray Logic"),
        v("AuthCtrlr", "Enabled", "true", data_type="boolean"),
        v("SmartChargingCtrlr", "Enabled", "true", data_type="boolean"),
        v(
            "SmartChargingCtrlr",
            "RateUnit",
            rate_unit,
            mutability="ReadOnly",
            data_type="MemberList",
            values_list="A,W",
        ),
        v("SmartChargingCtrlr", "ProfileStackLevel", "8", mutability="ReadOnly", data_type="integer"),
        v(
            "SmartChargingCtrlr",
            "Entries",
            "24",
            mutability="ReadOnly",
            data_type="integer",
            instance="ChargingProfiles",
        ),
        v("SmartChargingCtrlr", "PeriodsPerSchedule", "24", mutability="ReadOnly", data_type="integer"),
        v("SmartChargingCtrlr", "Phases3to1", "true", mutability="ReadOnly", data_type="boolean"),
        v("SampledDataCtrlr", "Enabled", "true", data_type="boolean"),
        v(
            "SampledDataCtrlr",
            "TxUpdatedMeasurands",
            measurands,
            data_type="MemberList",
            values_list=MEASURANDS_SAMPLED,
        ),
        v("SampledDataCtrlr", "TxUpdatedInterval", str(interval_s), data_type="integer", unit="s"),
        v(
            "SampledDataCtrlr",
            "TxEndedMeasurands",
            "Energy.Active.Import.Register",
            data_type="MemberList",
            values_list=MEASURANDS_SAMPLED,
        ),
        v("TxCtrlr", "TxStartPoint", "PowerPathClosed", data_type="MemberList", values_list=TX_POINTS),
        v("TxCtrlr", "TxStopPoint", "EVConnected,Authorized", data_type="MemberList", values_list=TX_POINTS),
        v("TxCtrlr", "EVConnectionTimeOut", "60", data_type="integer", unit="s"),
    ]
    for evse_id, connectors in evses.items():
        model += [
            v("EVSE", "AvailabilityState", "Available", mutability="ReadOnly", data_type="OptionList", evse=evse_id),
            v("EVSE", "Power", "22080", mutability="ReadOnly", data_type="decimal", evse=evse_id, unit="W"),
        ]
        for connector_id in range(1, connectors + 1):
            model += [
                v(
                    "Connector",
                    "AvailabilityState",
                    "Available",
                    mutability="ReadOnly",
                    evse=evse_id,
                    connector=connector_id,
                ),
                v("Connector", "ConnectorType", "cType2", mutability="ReadOnly", evse=evse_id, connector=connector_id),
            ]
    return model


def _component_key(component: dict) -> tuple:
    evse = component.get("evse") or {}
    return component["name"], component.get("instance"), evse.get("id"), evse.get("connectorId")


def _variable_key(variable: dict) -> tuple:
    return variable["name"], variable.get("instance")


def _value_fits(entry: dict, value: str, value_size: int | None) -> bool:
    """What a station checks before it takes a value (B05.FR.xx: Rejected otherwise): its data
    type, the members or options it lists, its maximum length."""
    characteristics = entry.get("variableCharacteristics") or {}
    data_type = characteristics.get("dataType", "string")
    allowed = (characteristics.get("valuesList") or "").split(",")
    if value_size is not None and len(value) > value_size:
        return False
    if data_type == "integer":
        return value.lstrip("-").isdigit()
    if data_type == "boolean":
        return value in ("true", "false")
    if data_type in ("MemberList", "SequenceList") and characteristics.get("valuesList"):
        return all(member in allowed for member in value.split(","))
    if data_type == "OptionList" and characteristics.get("valuesList"):
        return value in allowed
    max_limit = characteristics.get("maxLimit")
    return max_limit is None or len(value) <= max_limit


class SimStation(StationViews):
    """One OCPP 2.0.1 charging station; `evses` maps each EVSE id to its number of connectors."""

    def __init__(
        self,
        station_id: str,
        *,
        password: str | None = None,
        evses: dict[int, int] | None = None,
        vendor: str = "SimVendor 2.0.1 Stations Ltd",
        model: str = "Sim201",
        serial_number: str = "SIM-0001",
        firmware_version: str = "2.0.1-sim",
    ):
        self.id = station_id
        self.password = password
        self.evses = evses or {1: 1}
        self.vendor, self.model = vendor, model
        self.serial_number, self.firmware_version = serial_number, firmware_version
        self.subprotocol: str | None = None
        self.calls: list[tuple[str, dict]] = []  # what the server asked, in order
        self.profiles: list[dict] = []  # {"evseId": ..., "profile": ...}
        self.errors: list[str] = []
        self._ws = None
        self._reader: asyncio.Task | None = None
        self._pending: dict[str, asyncio.Future] = {}
        self._changed = asyncio.Event()
        self.remote_start_status = "Accepted"  # what it answers RequestStartTransaction
        self.transactions: dict[str, dict] = {}  # transactionId -> {"evseId": ..., "seqNo": next}
        self._follow_ups: list[asyncio.Task] = []
        self.device_model = default_device_model(self.evses)  # ReportDataType entries (report_variable)
        self.base_report_status = "Accepted"  # its answer to GetBaseReport (NotSupported, Rejected...)
        self.sends_report = True  # False: accepts GetBaseReport, then never reports
        self.report_parts = 3  # NotifyReport parts it splits a report into
        self.registration = ""  # the status of its last BootNotification
        self.boot_answers: list[dict] = []

    # -- connection ---------------------------------------------------------------------------
    async def connect(
        self, server, *, subprotocols=(SUBPROTOCOL,), ssl_context: ssl.SSLContext | None = None, headers=None
    ) -> None:
        """ssl_context: wss (our client certificate in it for profile 3); headers: any more."""
        self.connected_with = {"server": server, "subprotocols": subprotocols, "ssl_context": ssl_context}
        auth = basic_auth(self.id, self.password) if self.password is not None else {}
        self._ws = await websockets.connect(
            f"{server.ws_url}/ocpp/{self.id}",
            subprotocols=list(subprotocols) or None,
            additional_headers={**auth, **(headers or {})},
            open_timeout=TIMEOUT_S,
            ssl=ssl_context,
        )
        self.subprotocol = self._ws.subprotocol
        self._reader = asyncio.create_task(self._read())

    async def follow_ups_done(self) -> None:
        """Wait until what the station does after an answer (a TransactionEvent) is answered."""
        for task in self._follow_ups:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, TIMEOUT_S)

    async def close(self) -> None:
        await self.follow_ups_done()
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self.errors:
            raise AssertionError(f"{self.id}: {self.errors}")

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                frame = json.loads(raw)
                if frame[0] == 2:
                    await self._on_call(frame[1], frame[2], frame[3])
                elif frame[1] in self._pending:
                    future = self._pending.pop(frame[1])
                    if not future.done():
                        future.set_result(frame)
                else:
                    self.errors.append(f"an answer to nothing we sent: {frame}")
        except websockets.ConnectionClosed:
            pass
        except Exception as error:  # a broken frame from the server is a test failure
            self.errors.append(repr(error))
            raise

    async def send_frame(self, text: str, unique_id: str) -> list:
        """Send any text and return the server's answer carrying `unique_id` ("-1" when the
        server could not read ours)."""
        future = asyncio.get_running_loop().create_future()
        self._pending[unique_id] = future
        await self._ws.send(text)
        return await asyncio.wait_for(future, TIMEOUT_S)

    async def call(self, action: str, payload: dict) -> dict:
        """Send one CALL (checked against its schema) and return the server's CALLRESULT payload,
        checked against its schema; a CALLERROR raises CallErrorAnswer."""
        check_schema(action, payload, response=False)
        self.own_calls = (*self.own_calls, (action, payload))
        unique_id = str(uuid.uuid4())
        frame = await self.send_frame(json.dumps([2, unique_id, action, payload]), unique_id)
        if frame[0] == 4:
            raise CallErrorAnswer(frame[2], frame[3])
        check_schema(action, frame[2], response=True)
        return frame[2]

    # -- what the station does on its own ---------------------------------------------------------
    async def boot(self, reason: str = "PowerUp", attempts: int = 5) -> dict:
        """BootNotification until Accepted or Rejected: while Pending (B02) it answers what the
        CSMS asks and boots again after the interval, or at once when the CSMS triggers it
        (TriggerMessage BootNotification). The last answer."""
        answer = await self._boot_notification(reason)
        for _ in range(attempts):
            if answer["status"] != "Pending":
                break
            boots = len(self.boot_answers)
            with contextlib.suppress(AssertionError):
                await self.wait_for(
                    lambda boots=boots: len(self.boot_answers) > boots, answer["interval"] or 1, "a triggered boot"
                )
            answer = self.boot_answers[-1] if len(self.boot_answers) > boots else await self._boot_notification(reason)
        return answer

    async def _boot_notification(self, reason: str) -> dict:
        """One BootNotification; once Accepted, every connector's status, as a station does."""
        answer = await self.call(
            "BootNotification",
            {
                "reason": reason,
                "chargingStation": {
                    "vendorName": self.vendor,
                    "model": self.model,
                    "serialNumber": self.serial_number,
                    "firmwareVersion": self.firmware_version,
                    "modem": {"iccid": "8944500000000000001", "imsi": "234150000000001"},
                },
            },
        )
        self.registration = answer["status"]
        if answer["status"] == "Accepted":
            for evse_id, connectors in self.evses.items():
                for connector_id in range(1, connectors + 1):
                    await self.send_status(evse_id, connector_id, "Available")
        self.boot_answers.append(answer)
        return answer

    async def send_status(self, evse_id: int, connector_id: int, status: str) -> dict:
        return await self.call(
            "StatusNotification",
            {"timestamp": iso(utc_now()), "connectorStatus": status, "evseId": evse_id, "connectorId": connector_id},
        )

    async def heartbeat(self) -> dict:
        return await self.call("Heartbeat", {})

    def transaction_event_payload(
        self,
        event_type: str,
        transaction_id: str,
        seq_no: int,
        *,
        timestamp: dt.datetime | None = None,
        trigger_reason: str = "MeterValuePeriodic",
        charging_state: str | None = None,
        evse_id: int | None = None,
        id_token: str | None = None,
        meter_values: list[dict] | None = None,
        offline: bool = False,
        **extra,
    ) -> dict:
        """A TransactionEvent as a station builds it; extra goes into the payload (camelCase),
        except stoppedReason and remoteStartId, which go into transactionInfo."""
        info = {"transactionId": transaction_id}
        if charging_state is not None:
            info["chargingState"] = charging_state
        for key in ("stoppedReason", "remoteStartId"):
            if key in extra:
                info[key] = extra.pop(key)
        payload = {
            "eventType": event_type,
            "timestamp": iso(timestamp or utc_now()),
            "triggerReason": trigger_reason,
            "seqNo": seq_no,
            "transactionInfo": info,
            **extra,
        }
        if offline:
            payload["offline"] = True
        if evse_id is not None:
            payload["evse"] = {"id": evse_id, "connectorId": 1}
        if id_token is not None:
            payload["idToken"] = {"idToken": id_token, "type": "ISO14443"}
        if meter_values:
            payload["meterValue"] = meter_values
        return payload

    async def transaction_event(self, event_type: str, transaction_id: str, seq_no: int, **options) -> dict:
        """Send one TransactionEvent (options: transaction_event_payload's) and return the answer;
        the station keeps its transactions from Started to Ended (a TxProfile must name one)."""
        if event_type == "Started":
            self.transactions.setdefault(transaction_id, {"evseId": options.get("evse_id") or 1, "seqNo": seq_no + 1})
        elif event_type == "Ended":
            self.transactions.pop(transaction_id, None)
        return await self.call(
            "TransactionEvent", self.transaction_event_payload(event_type, transaction_id, seq_no, **options)
        )

    async def authorize(self, id_token: str, token_type: str = "ISO14443") -> dict:
        return await self.call("Authorize", {"idToken": {"idToken": id_token, "type": token_type}})

    async def meter_values(self, evse_id: int, *meter_values: dict) -> dict:
        """MeterValues outside a transaction: meterValue items as meter_value() builds them."""
        return await self.call("MeterValues", {"evseId": evse_id, "meterValue": list(meter_values)})

    async def ev_charging_needs(
        self, evse_id: int, *, departure: dt.datetime | None = None, energy_wh: int | None = None, dc: bool = False
    ) -> dict:
        """NotifyEVChargingNeeds, as the car told it over ISO 15118: its departure time and the
        energy it asks for (AC parameters, or DC ones when dc)."""
        needs: dict = {"requestedEnergyTransfer": "DC" if dc else "AC_three_phase"}
        if departure is not None:
            needs["departureTime"] = iso(departure)
        if dc:
            needs["dcChargingParameters"] = {"evMaxCurrent": 200, "evMaxVoltage": 800}
            if energy_wh is not None:
                needs["dcChargingParameters"]["energyAmount"] = energy_wh
        elif energy_wh is not None:
            needs["acChargingParameters"] = {
                "energyAmount": energy_wh,
                "evMinCurrent": 6,
                "evMaxCurrent": 16,
                "evMaxVoltage": 400,
            }
        return await self.call("NotifyEVChargingNeeds", {"evseId": evse_id, "chargingNeeds": needs})

    async def notify_event(self, *event_data: dict, seq_no: int = 0) -> dict:
        """NotifyEvent with event_data items as device_event() builds them."""
        return await self.call(
            "NotifyEvent", {"generatedAt": iso(utc_now()), "seqNo": seq_no, "eventData": list(event_data)}
        )

    async def notify_charging_limit(
        self, source: str, *, evse_id: int | None = None, limit: float | None = None, unit: str = "A", **limit_fields
    ) -> dict:
        """NotifyChargingLimit: a limit set by source (EMS, SO, Other), with its schedule when
        limit is given (one period from now)."""
        payload: dict = {"chargingLimit": {"chargingLimitSource": source, **limit_fields}}
        if evse_id is not None:
            payload["evseId"] = evse_id
        if limit is not None:
            payload["chargingSchedule"] = [
                {
                    "id": 1,
                    "chargingRateUnit": unit,
                    "startSchedule": iso(utc_now()),
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
                }
            ]
        return await self.call("NotifyChargingLimit", payload)

    async def cleared_charging_limit(self, source: str, *, evse_id: int | None = None) -> dict:
        payload: dict = {"chargingLimitSource": source}
        if evse_id is not None:
            payload["evseId"] = evse_id
        return await self.call("ClearedChargingLimit", payload)

    async def report_charging_profiles(
        self, request_id: int, *, evse_id: int = 0, source: str = "CSO", tbc: bool = False
    ) -> dict:
        """ReportChargingProfiles of the profiles it holds on evse_id (all it holds when none:
        a station always reports at least one), as after GetChargingProfiles."""
        held = [p["profile"] for p in self.profiles if p["evseId"] == evse_id] or [
            {
                "id": 9,
                "stackLevel": 0,
                "chargingProfilePurpose": "ChargingStationExternalConstraints",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": [
                    {"id": 9, "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10}]}
                ],
            }
        ]
        payload = {"requestId": request_id, "chargingLimitSource": source, "evseId": evse_id, "chargingProfile": held}
        if tbc:
            payload["tbc"] = True
        return await self.call("ReportChargingProfiles", payload)

    # -- what the server asks ---------------------------------------------------------------------
    async def _on_call(self, unique_id: str, action: str, payload: dict) -> None:
        self.calls.append((action, payload))
        try:
            check_schema(action, payload, response=False)
        except SchemaViolation as error:
            self.errors.append(str(error))
            await self._ws.send(json.dumps([4, unique_id, "FormatViolation", str(error)[:200], {}]))
            return
        handler = None if action in self.not_supported else getattr(self, f"_on_{action}", None)
        if handler is None:
            await self._ws.send(json.dumps([4, unique_id, "NotSupported", f"{action} is not supported", {}]))
            return
        answer = handler(payload)
        check_schema(action, answer, response=True)
        await self._ws.send(json.dumps([3, unique_id, answer]))
        self._changed.set()
        follow_up = getattr(self, f"_after_{action}", None)
        if follow_up is not None:  # in a task: this reader must stay free to read its answer
            self._follow_ups.append(asyncio.create_task(self._follow_up(follow_up, payload, answer)))

    async def _follow_up(self, follow_up, payload: dict, answer: dict) -> None:
        try:
            await follow_up(payload, answer)
        except Exception as error:
            self.errors.append(repr(error))
        self._changed.set()

    def _on_RequestStartTransaction(self, payload: dict) -> dict:
        return {"status": self.remote_start_status}

    async def _after_RequestStartTransaction(self, payload: dict, answer: dict) -> None:
        """Accepted: a transaction starts on the EVSE asked for (the first without one if none),
        its Started carrying the request's remoteStartId and idToken."""
        if answer["status"] != "Accepted":
            return
        busy = {t["evseId"] for t in self.transactions.values()}
        evse_id = payload.get("evseId") or next(e for e in self.evses if e not in busy)
        transaction_id = str(uuid.uuid4())
        self.transactions[transaction_id] = {"evseId": evse_id, "seqNo": 1}
        await self.transaction_event(
            "Started",
            transaction_id,
            0,
            trigger_reason="RemoteStart",
            charging_state="Charging",
            evse_id=evse_id,
            idToken=payload["idToken"],
            remoteStartId=payload["remoteStartId"],
            meter_values=[meter_value(utc_now(), energy_register(0, "Transaction.Begin"))],
        )

    def _on_RequestStopTransaction(self, payload: dict) -> dict:
        return {"status": "Accepted" if payload["transactionId"] in self.transactions else "Rejected"}

    async def _after_RequestStopTransaction(self, payload: dict, answer: dict) -> None:
        """Accepted: the transaction ends, stoppedReason Remote."""
        if answer["status"] != "Accepted":
            return
        transaction = self.transactions.pop(payload["transactionId"])
        await self.transaction_event(
            "Ended",
            payload["transactionId"],
            transaction["seqNo"],
            trigger_reason="RemoteStop",
            charging_state="Idle",
            stoppedReason="Remote",
            meter_values=[meter_value(utc_now(), energy_register(0, "Transaction.End"))],
        )

    def _on_SetChargingProfile(self, payload: dict) -> dict:
        """As OCPP 2.0.1 K01 says: a TxProfile names a running transaction of its EVSE (FR.03,
        FR.09, FR.16); a ChargingStationMaxProfile goes on EVSE 0 (FR.38)."""
        profile = payload["chargingProfile"]
        purpose = profile["chargingProfilePurpose"]
        if purpose == "TxProfile":
            transaction = self.transactions.get(profile.get("transactionId", ""))
            if payload["evseId"] == 0 or transaction is None or transaction["evseId"] != payload["evseId"]:
                return {"status": "Rejected", "statusInfo": {"reasonCode": "TxNotFound"}}
        if purpose == "ChargingStationMaxProfile" and payload["evseId"] != 0:
            return {"status": "Rejected", "statusInfo": {"reasonCode": "InvalidValue"}}
        self.profiles = [
            p for p in self.profiles if not (p["evseId"] == payload["evseId"] and p["profile"]["id"] == profile["id"])
        ]
        self.profiles.append({"evseId": payload["evseId"], "profile": profile})
        return {"status": "Accepted"}

    def _on_ClearChargingProfile(self, payload: dict) -> dict:
        criteria = payload.get("chargingProfileCriteria") or {}

        def cleared(p: dict) -> bool:
            profile = p["profile"]
            return all(
                wanted is None or wanted == have
                for wanted, have in (
                    (payload.get("chargingProfileId"), profile["id"]),
                    (criteria.get("evseId"), p["evseId"]),
                    (criteria.get("chargingProfilePurpose"), profile["chargingProfilePurpose"]),
                    (criteria.get("stackLevel"), profile["stackLevel"]),
                )
            )

        kept = [p for p in self.profiles if not cleared(p)]
        status = "Accepted" if len(kept) < len(self.profiles) else "Unknown"
        self.profiles = kept
        return {"status": status}

    def _on_GetCompositeSchedule(self, payload: dict) -> dict:
        """The station-wide limit in force (its ChargingStationMaxProfile's first period)."""
        profile = self.profile_of("ChargingStationMaxProfile")
        if profile is None:
            return {"status": "Rejected"}
        schedule = profile["chargingSchedule"][0]
        return {
            "status": "Accepted",
            "schedule": {
                "evseId": payload["evseId"],
                "duration": payload["duration"],
                "scheduleStart": iso(utc_now()),
                "chargingRateUnit": schedule["chargingRateUnit"],
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": schedule["chargingSchedulePeriod"][0]["limit"]}],
            },
        }

    # -- the admin's other buttons (H1): answered as a station answers them -------------------------
    # What it answers ClearCache; the vendor it is (DataTransfer); its EVSEs set Inoperative;
    # the actions its firmware lacks (answered CALLERROR NotSupported).
    cache_status = "Accepted"
    data_transfer_vendor = "com.simvendor"
    inoperative: frozenset = frozenset()
    not_supported: frozenset = frozenset()
    unreported: tuple = ()  # ReportChargingProfiles the server answered NotSupported
    own_calls: tuple = ()  # (action, payload) of every call it made, in order

    def own(self, action: str) -> list[dict]:
        """What it sent of this action (sent() is what the server asked of it)."""
        return [payload for name, payload in self.own_calls if name == action]

    def _evse_known(self, evse: dict | None) -> bool:
        """No EVSE (the whole station) or one it has, with a connector it has."""
        if not evse:
            return True
        connectors = self.evses.get(evse["id"])
        return connectors is not None and evse.get("connectorId", 1) <= connectors

    def _busy_evses(self) -> set:
        return {t["evseId"] for t in self.transactions.values()}

    def _on_Reset(self, payload: dict) -> dict:
        """OnIdle while a transaction runs (on that EVSE, if one is named) is Scheduled; an
        EVSE it does not have, Rejected. (The restart itself is not simulated.)"""
        evse_id = payload.get("evseId")
        if evse_id is not None and evse_id not in self.evses:
            return {"status": "Rejected", "statusInfo": {"reasonCode": "UnknownEvse"}}
        busy = self._busy_evses() if evse_id is None else self._busy_evses() & {evse_id}
        return {"status": "Scheduled" if payload["type"] == "OnIdle" and busy else "Accepted"}

    def _on_UnlockConnector(self, payload: dict) -> dict:
        if not self._evse_known({"id": payload["evseId"], "connectorId": payload["connectorId"]}):
            return {"status": "UnknownConnector"}
        if payload["evseId"] in self._busy_evses():
            return {"status": "OngoingAuthorizedTransaction"}
        return {"status": "Unlocked"}

    def _on_ChangeAvailability(self, payload: dict) -> dict:
        """Inoperative while a transaction runs on the EVSE: Scheduled (after it ends)."""
        evse = payload.get("evse")
        if not self._evse_known(evse):
            return {"status": "Rejected", "statusInfo": {"reasonCode": "UnknownEvse"}}
        evse_ids = set(self.evses) if not evse else {evse["id"]}
        if payload["operationalStatus"] == "Inoperative" and evse_ids & self._busy_evses():
            return {"status": "Scheduled"}
        return {"status": "Accepted"}

    async def _after_ChangeAvailability(self, payload: dict, answer: dict) -> None:
        """Accepted: each EVSE changed reports its connectors Unavailable, or Available again."""
        if answer["status"] != "Accepted":
            return
        evse = payload.get("evse")
        evse_ids = sorted(self.evses) if not evse else [evse["id"]]
        if payload["operationalStatus"] == "Inoperative":
            self.inoperative = self.inoperative | set(evse_ids)
        else:
            self.inoperative = self.inoperative - set(evse_ids)
        status = "Unavailable" if payload["operationalStatus"] == "Inoperative" else "Available"
        for evse_id in evse_ids:
            for connector_id in range(1, self.evses[evse_id] + 1):
                await self.send_status(evse_id, connector_id, status)

    def _matching_profiles(self, payload: dict) -> list[dict]:
        criteria = payload["chargingProfile"]
        return [
            p
            for p in self.profiles
            if payload.get("evseId") in (None, p["evseId"])
            and criteria.get("chargingProfilePurpose") in (None, p["profile"]["chargingProfilePurpose"])
            and criteria.get("stackLevel") in (None, p["profile"]["stackLevel"])
            and (not criteria.get("chargingProfileId") or p["profile"]["id"] in criteria["chargingProfileId"])
        ]

    def _on_GetChargingProfiles(self, payload: dict) -> dict:
        return {"status": "Accepted" if self._matching_profiles(payload) else "NoProfiles"}

    async def _after_GetChargingProfiles(self, payload: dict, answer: dict) -> None:
        """Accepted: one ReportChargingProfiles per EVSE holding matches (tbc until the last).
        A server that does not take them (CALLERROR NotSupported) is noted in `unreported`."""
        if answer["status"] != "Accepted":
            return
        by_evse: dict[int, list] = {}
        for p in self._matching_profiles(payload):
            by_evse.setdefault(p["evseId"], []).append(p["profile"])
        for i, (evse_id, profiles) in enumerate(sorted(by_evse.items())):
            report = {
                "requestId": payload["requestId"],
                "chargingLimitSource": "CSO",
                "evseId": evse_id,
                "chargingProfile": profiles,
            }
            if i < len(by_evse) - 1:
                report["tbc"] = True
            try:
                await self.call("ReportChargingProfiles", report)
            except CallErrorAnswer as error:
                if error.code != "NotSupported":
                    raise
                self.unreported = (*self.unreported, report)

    def _on_ClearCache(self, payload: dict) -> dict:
        return {"status": self.cache_status}

    def _on_GetTransactionStatus(self, payload: dict) -> dict:
        """Nothing queued (it is online); ongoing when the transaction asked for still runs."""
        answer = {"messagesInQueue": False}
        if "transactionId" in payload:
            answer["ongoingIndicator"] = payload["transactionId"] in self.transactions
        return answer

    def _on_GetLog(self, payload: dict) -> dict:
        return {"status": "Accepted", "filename": f"{self.id}-{payload['logType']}-{payload['requestId']}.log"}

    async def _after_GetLog(self, payload: dict, answer: dict) -> None:
        for status in ("Uploading", "Uploaded"):
            await self.call("LogStatusNotification", {"status": status, "requestId": payload["requestId"]})

    def _on_UpdateFirmware(self, payload: dict) -> dict:
        return {"status": "Accepted"}

    async def _after_UpdateFirmware(self, payload: dict, answer: dict) -> None:
        """Due now: downloaded and installed (the reboot is not simulated); later: scheduled."""
        retrieve_at = dt.datetime.fromisoformat(payload["firmware"]["retrieveDateTime"].replace("Z", "+00:00"))
        due = retrieve_at <= utc_now()
        statuses = ("Downloading", "Downloaded", "Installing", "Installed") if due else ("DownloadScheduled",)
        for status in statuses:
            await self.call("FirmwareStatusNotification", {"status": status, "requestId": payload["requestId"]})

    def _on_DataTransfer(self, payload: dict) -> dict:
        """Its own vendor's "ping" is answered "pong"; anything else it does not know."""
        if payload["vendorId"] != self.data_transfer_vendor:
            return {"status": "UnknownVendorId"}
        if payload.get("messageId") != "ping":
            return {"status": "UnknownMessageId"}
        return {"status": "Accepted", "data": "pong"}

    # -- security (OCPP 2.0.1 part 2: A01 password, A02 certificate, A05 profile) ------------------
    # The station's key pair, made on first use, and what it holds: its certificate (PEM) and
    # the roots it was told to trust, by certificateType.
    _key: ec.EllipticCurvePrivateKey | None = None
    certificate_pem: str | None = None
    installed_roots: dict | None = None
    # How it reconnects once its security profile was raised: connect()'s keywords (TLS, headers).
    secure_reconnect: dict | None = None

    @property
    def key(self) -> ec.EllipticCurvePrivateKey:
        if self._key is None:
            self._key = ec.generate_private_key(ec.SECP256R1())
        return self._key

    def csr_pem(self, *, common_name: str | None = None, organization: str = "Gray Logic") -> str:
        """A CSR for its key, naming it (its id by default) and the operator (A02)."""
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name or self.id),
            ]
        )
        csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(self.key, hashes.SHA256())
        return csr.public_bytes(serialization.Encoding.PEM).decode()

    async def sign_certificate(self, **csr_options) -> dict:
        self.requested_csr = self.csr_pem(**csr_options)
        return await self.call(
            "SignCertificate", {"csr": self.requested_csr, "certificateType": "ChargingStationCertificate"}
        )

    def _on_CertificateSigned(self, payload: dict) -> dict:
        """Accepted only if the chain's first certificate is for our key and is signed by the next
        one (A02.FR.08-like checks a station makes before it uses a certificate)."""
        try:
            chain = x509.load_pem_x509_certificates(payload["certificateChain"].encode())
            leaf = chain[0]
            own_key = self.key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            leaf_key = leaf.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            if leaf_key != own_key or len(chain) < 2:
                raise ValueError("not for our key, or no issuer in the chain")
            leaf.verify_directly_issued_by(chain[1])
            now = utc_now()
            if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
                raise ValueError("not valid now")
        except (ValueError, TypeError, InvalidSignature, IndexError) as error:
            self.errors.append(f"CertificateSigned refused: {error}")
            return {"status": "Rejected"}
        self.certificate_pem = leaf.public_bytes(serialization.Encoding.PEM).decode()
        self.certificate_chain_pem = payload["certificateChain"]
        return {"status": "Accepted"}

    def _on_InstallCertificate(self, payload: dict) -> dict:
        """A root must be a CA certificate that signed itself."""
        try:
            root = x509.load_pem_x509_certificate(payload["certificate"].encode())
            root.verify_directly_issued_by(root)
            if not root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
                raise ValueError("not a CA certificate")
        except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
            return {"status": "Rejected"}
        self.installed_roots = {**(self.installed_roots or {}), payload["certificateType"]: payload["certificate"]}
        return {"status": "Accepted"}

    def _security_profile_refused(self, item: dict) -> bool:
        """A05: never a lower profile; 2 or 3 only with a CSMS root installed, 3 only with its
        own certificate."""
        if (item["component"]["name"], item["variable"]["name"]) != ("SecurityCtrlr", "SecurityProfile"):
            return False
        wanted = int(item["attributeValue"])
        return (
            wanted < int(self.value_of("SecurityCtrlr", "SecurityProfile") or 1)
            or (wanted >= 2 and "CSMSRootCertificate" not in (self.installed_roots or {}))
            or (wanted == 3 and self.certificate_pem is None)
        )

    async def _after_SetVariables(self, payload: dict, answer: dict) -> None:
        """A new BasicAuthPassword is used from the next connection (A01); a new SecurityProfile
        makes the station reconnect with it at once (A05), over secure_reconnect's TLS."""
        accepted = {
            item["variable"]["name"]: item["attributeValue"]
            for item, result in zip(payload["setVariableData"], answer["setVariableResult"], strict=True)
            if item["component"]["name"] == "SecurityCtrlr" and result["attributeStatus"] == "Accepted"
        }
        if "BasicAuthPassword" in accepted:
            self.password = accepted["BasicAuthPassword"]
        if "SecurityProfile" in accepted:
            await self.reconnect(**(self.secure_reconnect or {}), retries=SECURE_RECONNECT_RETRIES)

    async def reconnect(self, *, retries: int = 0, **connect_options) -> None:
        """Hang up and connect again (no new boot: the station did not restart). A refused
        handshake is tried again `retries` times after a back-off, as a station does
        (OCPPCommCtrlr.RetryBackOffWaitMinimum): after a security profile change the CSMS may
        still be recording the Accepted it was just sent when the station knocks."""
        await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._reader, TIMEOUT_S)
        for attempt in range(retries + 1):
            try:
                await self.connect(**{**self.connected_with, **connect_options})
                return
            except websockets.InvalidStatus:
                if attempt == retries:
                    raise
                await asyncio.sleep(RETRY_BACK_OFF_S)

    def client_tls_context(self, directory: Path, *, trust: Path | None = None) -> ssl.SSLContext:
        """wss with its certificate and key (written to `directory`), trusting `trust` (the
        server's TLS certificate) or nothing (tests with self-signed servers)."""
        cert_file, key_file = directory / f"{self.id}.crt", directory / f"{self.id}.key"
        cert_file.write_text(self.certificate_pem)
        key_file.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        context = ssl.create_default_context(cafile=str(trust)) if trust else ssl._create_unverified_context()
        context.check_hostname = False
        context.load_cert_chain(cert_file, key_file)
        return context

    # -- its device model (B06/B07, B05, F06) -------------------------------------------------------
    def _on_GetBaseReport(self, payload: dict) -> dict:
        if self.base_report_status == "Accepted" and not self._report_entries(payload["reportBase"]):
            return {"status": "EmptyResultSet"}
        return {"status": self.base_report_status}

    def _report_entries(self, report_base: str) -> list[dict]:
        """FullInventory: everything; ConfigurationInventory: what may be set; SummaryInventory:
        the availability of the station's parts."""
        if report_base == "ConfigurationInventory":
            return [e for e in self.device_model if e["variableAttribute"][0]["mutability"] != "ReadOnly"]
        if report_base == "SummaryInventory":
            return [e for e in self.device_model if e["variable"]["name"] == "AvailabilityState"]
        return self.device_model

    async def _after_GetBaseReport(self, payload: dict, answer: dict) -> None:
        if answer["status"] == "Accepted" and self.sends_report:
            await self.report(payload["requestId"], payload["reportBase"])

    async def report(self, request_id: int, report_base: str) -> None:
        """The report in report_parts NotifyReport parts, each but the last with tbc."""
        entries = self._report_entries(report_base)
        size = -(-len(entries) // self.report_parts)
        parts = [entries[i : i + size] for i in range(0, len(entries), size)]
        for seq_no, part in enumerate(parts):
            report = {
                "requestId": request_id,
                "generatedAt": iso(utc_now()),
                "seqNo": seq_no,
                "reportData": part,
            }
            if seq_no < len(parts) - 1:
                report["tbc"] = True
            await self.call("NotifyReport", report)

    def variable_entry(
        self,
        component: str,
        variable: str,
        *,
        evse: int | None = None,
        connector: int | None = None,
        component_instance: str | None = None,
        instance: str | None = None,
    ) -> dict | None:
        wanted = ((component, component_instance, evse, connector), (variable, instance))
        for entry in self.device_model:
            if (_component_key(entry["component"]), _variable_key(entry["variable"])) == wanted:
                return entry
        return None

    def value_of(self, component: str, variable: str, **where) -> str | None:
        """The Actual value of a variable (variable_entry's keywords), None if it has none."""
        entry = self.variable_entry(component, variable, **where)
        return None if entry is None else entry["variableAttribute"][0].get("value")

    def _lookup(self, item: dict) -> tuple[str, dict | None]:
        """A GetVariables/SetVariables item's variable, or why not (its attributeStatus)."""
        component_key, variable_key = _component_key(item["component"]), _variable_key(item["variable"])
        of_component = [e for e in self.device_model if _component_key(e["component"]) == component_key]
        if not of_component:
            return "UnknownComponent", None
        entry = next((e for e in of_component if _variable_key(e["variable"]) == variable_key), None)
        if entry is None:
            return "UnknownVariable", None
        if item.get("attributeType", "Actual") not in [a.get("type", "Actual") for a in entry["variableAttribute"]]:
            return "NotSupportedAttributeType", None
        return "Accepted", entry

    def _on_GetVariables(self, payload: dict) -> dict:
        """Each value asked for, or why not; a WriteOnly one is Rejected (it is never read)."""
        results = []
        for item in payload["getVariableData"]:
            status, entry = self._lookup(item)
            result = {"component": item["component"], "variable": item["variable"]}
            if "attributeType" in item:
                result["attributeType"] = item["attributeType"]
            if entry is not None and entry["variableAttribute"][0]["mutability"] == "WriteOnly":
                status = "Rejected"
            elif entry is not None:
                result["attributeValue"] = entry["variableAttribute"][0].get("value", "")
            results.append({"attributeStatus": status, **result})
        return {"getVariableResult": results}

    def _on_SetVariables(self, payload: dict) -> dict:
        """Each value taken, in order, or why not: a ReadOnly variable or a value it cannot hold
        is Rejected (its valuesList, data type, ConfigurationValueSize)."""
        value_size = int(self.value_of("DeviceDataCtrlr", "ConfigurationValueSize") or 0) or None
        results = []
        for item in payload["setVariableData"]:
            status, entry = self._lookup(item)
            if entry is not None:
                attribute = entry["variableAttribute"][0]
                if (
                    attribute["mutability"] == "ReadOnly"
                    or not _value_fits(entry, item["attributeValue"], value_size)
                    or self._security_profile_refused(item)
                ):
                    status = "Rejected"
                elif attribute["mutability"] == "ReadWrite":
                    attribute["value"] = item["attributeValue"]
            result = {"attributeStatus": status, "component": item["component"], "variable": item["variable"]}
            if "attributeType" in item:
                result["attributeType"] = item["attributeType"]
            results.append(result)
        return {"setVariableResult": results}

    def _on_TriggerMessage(self, payload: dict) -> dict:
        """BootNotification (Rejected once Accepted, F06.FR.17) and Heartbeat; others NotImplemented."""
        message = payload["requestedMessage"]
        if message == "BootNotification":
            return {"status": "Rejected" if self.registration == "Accepted" else "Accepted"}
        if message not in self.TRIGGERABLE:
            return {"status": "NotImplemented"}
        # An EVSE it does not have, or a TransactionEvent with no transaction (on it): Rejected.
        evse = payload.get("evse")
        running = [t for t in self.transactions.values() if not evse or t["evseId"] == evse["id"]]
        rejected = not self._evse_known(evse) or (message == "TransactionEvent" and not running)
        return {"status": "Rejected" if rejected else "Accepted"}

    # What it sends when triggered (H1): besides BootNotification, these.
    TRIGGERABLE = frozenset(
        {"Heartbeat", "StatusNotification", "MeterValues", "TransactionEvent", "SignChargingStationCertificate"}
    )

    async def _after_TriggerMessage(self, payload: dict, answer: dict) -> None:
        """The message asked for, of the EVSE (and connector) named, else of every one."""
        if answer["status"] != "Accepted":
            return
        message, evse = payload["requestedMessage"], payload.get("evse")
        evse_ids = sorted(self.evses) if not evse else [evse["id"]]
        if message == "BootNotification":
            await self._boot_notification("Triggered")
        elif message == "Heartbeat":
            await self.heartbeat()
        elif message == "StatusNotification":
            for evse_id in evse_ids:
                named = evse and "connectorId" in evse
                connectors = [evse["connectorId"]] if named else range(1, self.evses[evse_id] + 1)
                for connector_id in connectors:
                    busy = evse_id in self._busy_evses()
                    idle = "Unavailable" if evse_id in self.inoperative else "Available"
                    await self.send_status(evse_id, connector_id, "Occupied" if busy else idle)
        elif message == "MeterValues":
            for evse_id in evse_ids:
                await self.meter_values(evse_id, meter_value(utc_now(), energy_register(0, "Trigger")))
        elif message == "TransactionEvent":
            for transaction_id, transaction in list(self.transactions.items()):
                if transaction["evseId"] in evse_ids:
                    seq_no, transaction["seqNo"] = transaction["seqNo"], transaction["seqNo"] + 1
                    await self.transaction_event("Updated", transaction_id, seq_no, trigger_reason="Trigger")
        else:
            await self.sign_certificate()


@contextlib.asynccontextmanager
async def sim_station(
    server, station_id: str, *, boot: bool = True, subprotocols=(SUBPROTOCOL,), station_class=None, **options
):
    """A simulated 2.0.1 station (a SimStation, or station_class: CarStation) connected (and
    booted) to the live server, closed afterwards."""
    station = (station_class or SimStation)(station_id, **options)
    await station.connect(server, subprotocols=subprotocols)
    try:
        if boot:
            await station.boot()
        yield station
    finally:
        await station.close()


class CarStation(SimStation):
    """A station with one EVSE and a car on it that draws what the station allows from the moment
    its transaction starts (a station does not wait for the CSMS's answer to close its contactor):
    its rating, capped by the ChargingStationMaxProfile (EVSE 0) and by the EVSE's TxProfile or
    else TxDefaultProfile, each at its highest stack level; under 6 A it pauses. `meter` (a
    tests.chargepoint_sim.SiteMeter) sees every change, as it sees the 1.6 chargers'."""

    def __init__(self, station_id: str, *, phases: int = 3, max_current_a: float = 32.0, **options):
        super().__init__(station_id, evses={1: 1}, **options)
        self.phases = phases
        self.max_current_a = max_current_a
        self.charging = False
        self.draw_a = 0.0
        self.meter = None
        self.outside_limit_a: float | None = None  # set by an EMS or the grid operator, not the CSMS

    def active_phases(self) -> int:
        return self.phases

    async def plug_in(self) -> None:
        """The car's cable goes in: the connector is Occupied (2.0.1 has no Preparing)."""
        await self.send_status(1, 1, "Occupied")

    def _top_limit_a(self, purpose: str, evse_ids: tuple[int, ...]) -> float | None:
        held = [
            p["profile"]
            for p in self.profiles
            if p["profile"]["chargingProfilePurpose"] == purpose and p["evseId"] in evse_ids
        ]
        if not held:
            return None
        profile = max(held, key=lambda p: p["stackLevel"])
        schedule = profile["chargingSchedule"][0]
        period = schedule["chargingSchedulePeriod"][0]
        if schedule["chargingRateUnit"] == "A":
            return period["limit"]
        return period["limit"] / (NOMINAL_VOLTAGE_V * period.get("numberPhases", self.phases))

    def limit_a(self) -> float:
        limits = [self.max_current_a, self._top_limit_a("ChargingStationMaxProfile", (0,)), self.outside_limit_a]
        tx_limit = self._top_limit_a("TxProfile", (1,)) if self.charging else None
        limits.append(tx_limit if tx_limit is not None else self._top_limit_a("TxDefaultProfile", (1, 0)))
        limit = min(v for v in limits if v is not None)
        return 0.0 if limit < MIN_CURRENT_A else limit

    def _update_draw(self, what: str) -> None:
        self.draw_a = min(self.max_current_a, self.limit_a()) if self.charging else 0.0
        if self.meter is not None:
            self.meter.observe(f"{self.id}: {what}")
        self._changed.set()

    async def limit_from_outside(self, source: str, amps: float) -> dict:
        """An EMS or the grid operator limits the station (over its own interface): it obeys at
        once and tells the CSMS (NotifyChargingLimit)."""
        self.outside_limit_a = amps
        self._update_draw(f"{source} limits to {amps} A")
        return await self.notify_charging_limit(source, limit=amps)

    async def limit_from_outside_cleared(self, source: str) -> dict:
        self.outside_limit_a = None
        self._update_draw(f"{source} limit cleared")
        return await self.cleared_charging_limit(source)

    async def transaction_event(self, event_type: str, transaction_id: str, seq_no: int, **options) -> dict:
        if event_type in ("Started", "Ended"):
            self.charging = event_type == "Started"
            if not self.charging:  # a TxProfile lives as long as its transaction
                self.profiles = [p for p in self.profiles if p["profile"]["chargingProfilePurpose"] != "TxProfile"]
            self._update_draw(f"transaction {event_type.lower()}")
        return await super().transaction_event(event_type, transaction_id, seq_no, **options)

    def _on_SetChargingProfile(self, payload: dict) -> dict:
        answer = super()._on_SetChargingProfile(payload)
        self._update_draw("profile set")
        return answer

    def _on_ClearChargingProfile(self, payload: dict) -> dict:
        answer = super()._on_ClearChargingProfile(payload)
        self._update_draw("profile cleared")
        return answer
