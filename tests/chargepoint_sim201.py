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
import time
import uuid
from pathlib import Path

import jsonschema
import ocpp
import websockets

SCHEMA_DIR = Path(ocpp.__file__).parent / "v201" / "schemas"
SUBPROTOCOL = "ocpp2.0.1"
TIMEOUT_S = 10


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


def basic_auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class SimStation:
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

    # -- connection ---------------------------------------------------------------------------
    async def connect(self, server, *, subprotocols=(SUBPROTOCOL,)) -> None:
        headers = basic_auth(self.id, self.password) if self.password is not None else {}
        self._ws = await websockets.connect(
            f"{server.ws_url}/ocpp/{self.id}",
            subprotocols=list(subprotocols) or None,
            additional_headers=headers,
            open_timeout=TIMEOUT_S,
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
        unique_id = str(uuid.uuid4())
        frame = await self.send_frame(json.dumps([2, unique_id, action, payload]), unique_id)
        if frame[0] == 4:
            raise CallErrorAnswer(frame[2], frame[3])
        check_schema(action, frame[2], response=True)
        return frame[2]

    # -- what the station does on its own ---------------------------------------------------------
    async def boot(self, reason: str = "PowerUp") -> dict:
        """BootNotification; once Accepted, every connector's status, as a station does."""
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
        if answer["status"] == "Accepted":
            for evse_id, connectors in self.evses.items():
                for connector_id in range(1, connectors + 1):
                    await self.send_status(evse_id, connector_id, "Available")
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

    # -- what the server asks ---------------------------------------------------------------------
    async def _on_call(self, unique_id: str, action: str, payload: dict) -> None:
        self.calls.append((action, payload))
        try:
            check_schema(action, payload, response=False)
        except SchemaViolation as error:
            self.errors.append(str(error))
            await self._ws.send(json.dumps([4, unique_id, "FormatViolation", str(error)[:200], {}]))
            return
        handler = getattr(self, f"_on_{action}", None)
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

    # -- for tests ----------------------------------------------------------------------------------
    def profile_of(self, purpose: str) -> dict | None:
        found = [p["profile"] for p in self.profiles if p["profile"]["chargingProfilePurpose"] == purpose]
        return found[-1] if found else None

    def sent(self, action: str) -> list[dict]:
        return [payload for name, payload in self.calls if name == action]

    async def wait_for(self, condition, timeout: float = TIMEOUT_S, what: str = "") -> None:
        """Wait until condition() holds, re-checking after every call the server makes."""
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.id}: timed out waiting for {what or condition}; calls: {self.calls[-5:]}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.2))


@contextlib.asynccontextmanager
async def sim_station(server, station_id: str, *, boot: bool = True, subprotocols=(SUBPROTOCOL,), **options):
    """A simulated 2.0.1 station connected (and booted) to the live server, closed afterwards."""
    station = SimStation(station_id, **options)
    await station.connect(server, subprotocols=subprotocols)
    try:
        if boot:
            await station.boot()
        yield station
    finally:
        await station.close()


NOMINAL_VOLTAGE_V = 230.0
MIN_CURRENT_A = 6.0  # below this a car cannot charge (IEC 61851): it pauses


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
        limits = [self.max_current_a, self._top_limit_a("ChargingStationMaxProfile", (0,))]
        tx_limit = self._top_limit_a("TxProfile", (1,)) if self.charging else None
        limits.append(tx_limit if tx_limit is not None else self._top_limit_a("TxDefaultProfile", (1, 0)))
        limit = min(v for v in limits if v is not None)
        return 0.0 if limit < MIN_CURRENT_A else limit

    def _update_draw(self, what: str) -> None:
        self.draw_a = min(self.max_current_a, self.limit_a()) if self.charging else 0.0
        if self.meter is not None:
            self.meter.observe(f"{self.id}: {what}")
        self._changed.set()

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
