"""An independent OCPP 1.6-J charge point for tests: not the server's `ocpp` library.

It speaks hand-written frames over `websockets`, checks every frame it sends or receives against
the official OCPP 1.6 JSON schemas (the files the `ocpp` package ships, read with jsonschema),
keeps the charging profiles it is sent and rejects those a real charger rejects, composes them
into the limit in force (OCPP 1.6 §3.13: ChargePointMaxProfile caps TxProfile, else
TxDefaultProfile; below 6 A nothing flows), and lets its car draw min(car max, that limit).
Tests read what it did: `calls` (what the server sent), `profiles`, `draw_a`, `history`.
"""

import asyncio
import base64
import contextlib
import datetime as dt
import decimal
import functools
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import ocpp
import websockets
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SCHEMA_DIR = Path(ocpp.__file__).parent / "v16" / "schemas"
TIMEOUT_S = 10
NOMINAL_VOLTAGE_V = 230.0
MIN_CURRENT_A = 6.0
PURPOSES = ("ChargePointMaxProfile", "TxDefaultProfile", "TxProfile")
MEASURANDS = {
    "Energy.Active.Export.Register", "Energy.Active.Import.Register", "Energy.Reactive.Export.Register",
    "Energy.Reactive.Import.Register", "Energy.Active.Export.Interval", "Energy.Active.Import.Interval",
    "Energy.Reactive.Export.Interval", "Energy.Reactive.Import.Interval", "Power.Active.Export",
    "Power.Active.Import", "Power.Offered", "Power.Reactive.Export", "Power.Reactive.Import", "Power.Factor",
    "Current.Import", "Current.Export", "Current.Offered", "Voltage", "Frequency", "Temperature", "SoC", "RPM",
}  # fmt: skip


class SchemaViolation(AssertionError):
    """A frame, ours or the server's, that the official schema refuses."""


@functools.cache
def _validator(name: str):
    schema = json.loads((SCHEMA_DIR / f"{name}.json").read_text(), parse_float=decimal.Decimal)
    return jsonschema.validators.validator_for(schema)(schema)


def check_schema(action: str, payload: dict, *, response: bool) -> None:
    name = f"{action}Response" if response else action
    # Numbers as the frame's decimals: as binary floats 8.6 is no multiple of 0.1 (multipleOf).
    exact = json.loads(json.dumps(payload), parse_float=decimal.Decimal)
    errors = sorted(_validator(name).iter_errors(exact), key=str)
    if errors:
        raise SchemaViolation(f"{name} breaks the official schema: {errors[0].message} in {payload}")


def iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Transaction:
    id: int
    connector_id: int
    started_at: dt.datetime
    meter_start_wh: int


@dataclass
class SiteMeter:
    """The main fuse seen by every simulated charger on one site: after every change any of them
    makes, the current on each phase is summed; `peak_a` is the worst moment seen."""

    fuse_a: float
    chargers: list = field(default_factory=list)
    peak_a: float = 0.0
    moments: list = field(default_factory=list)

    def attach(self, *chargers: "SimCharger") -> None:
        for charger in chargers:
            self.chargers.append(charger)
            charger.meter = self
        self.observe("attached")

    def phase_currents_a(self) -> dict[str, float]:
        phases = {"L1": 0.0, "L2": 0.0, "L3": 0.0}
        for charger in self.chargers:
            for phase in ("L1", "L2", "L3")[: charger.active_phases()]:
                phases[phase] += charger.draw_a
        return phases

    def observe(self, what: str) -> None:
        worst = max(self.phase_currents_a().values())
        self.peak_a = max(self.peak_a, worst)
        self.moments.append((time.monotonic(), what, worst))


class StationViews:
    """What a test reads of a simulated charger, of either OCPP version: the profiles it holds,
    what the server asked, and a wait on both. Uses self.id, self.profiles ({"profile": ...}
    each), self.calls ((action, payload) each) and self._changed (set after every frame)."""

    def profile_of(self, purpose: str) -> dict | None:
        found = [p["profile"] for p in self.profiles if p["profile"]["chargingProfilePurpose"] == purpose]
        return found[-1] if found else None

    def sent(self, action: str) -> list[dict]:
        return [payload for name, payload in self.calls if name == action]

    async def wait_for(self, condition, timeout: float = TIMEOUT_S, what: str = "") -> None:
        """Wait until condition() holds, re-checking after every frame the server sends."""
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.id}: timed out waiting for {what or condition}; calls: {self.calls[-5:]}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.2))


class SimCharger(StationViews):
    """One charge point with one connector (OCPP 1.6-J)."""

    def __init__(
        self,
        charge_point_id: str,
        *,
        password: str | None = None,
        phases: int = 3,
        max_current_a: float = 32.0,
        car_max_current_a: float | None = None,
        vendor: str = "SimVendor",
        model: str = "Sim 22",
        configuration: dict[str, str] | None = None,
        accept_profiles: bool = True,
        rejected_units: tuple[str, ...] = (),
        unannounced_units: tuple[str, ...] = (),
        ignores_limits: bool = False,
        rejects_remote_start: bool = False,
    ):
        """The last three misbehave on purpose, as real chargers do: `rejected_units` ("A", "W")
        are refused though GetConfiguration announces them; `ignores_limits` accepts profiles and
        draws what the car wants anyway; `rejects_remote_start` answers Rejected to every
        RemoteStartTransaction. `unannounced_units` it takes though it does not announce them."""
        self.id = charge_point_id
        self.password = password
        self.phases = phases
        self.max_current_a = max_current_a
        self.car_max_current_a = max_current_a if car_max_current_a is None else car_max_current_a
        self.vendor, self.model = vendor, model
        self.accept_profiles = accept_profiles
        self.rejected_units = set(rejected_units)
        self.unannounced_units = set(unannounced_units)
        self.ignores_limits = ignores_limits
        self.rejects_remote_start = rejects_remote_start
        self.configuration: dict[str, str] = {
            "SupportedFeatureProfiles": "Core,SmartCharging,RemoteTrigger,FirmwareManagement",
            "ChargingScheduleAllowedChargingRateUnit": "Current",
            "ChargeProfileMaxStackLevel": "8",
            "ChargingScheduleMaxPeriods": "24",
            "MaxChargingProfilesInstalled": "10",
            "MeterValueSampleInterval": "0",
            "MeterValuesSampledData": "Energy.Active.Import.Register",
            "NumberOfConnectors": "1",
            "HeartbeatInterval": "300",
            "AuthorizeRemoteTxRequests": "false",
            **(configuration or {}),
        }
        self.read_only_keys = {
            "SupportedFeatureProfiles",
            "ChargingScheduleAllowedChargingRateUnit",
            "NumberOfConnectors",
        }
        self.profiles: list[dict] = []  # each: {"connector_id", "profile", "received_at"}
        self.calls: list[tuple[str, dict]] = []  # CALLs the server sent, in order
        self.answers: dict[str, list[dict]] = {}  # server's replies to our calls, by action
        self.history: list[tuple[float, str, float]] = []  # (monotonic, what, draw_a)
        self.status = "Available"
        self.plugged = False
        self.transaction: Transaction | None = None
        self.draw_a = 0.0
        self.energy_wh = 1000.0
        self.meter: SiteMeter | None = None
        self.errors: list[str] = []
        self._ws = None
        self._reader: asyncio.Task | None = None
        self._pending: dict[str, asyncio.Future] = {}
        self._call_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()
        self._changed = asyncio.Event()

    # -- connection ---------------------------------------------------------------------------
    async def connect(self, server, *, subprotocols=("ocpp1.6",)) -> None:
        headers = {}
        if self.password is not None:
            token = base64.b64encode(f"{self.id}:{self.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        self._ws = await websockets.connect(
            f"{server.ws_url}/ocpp/{self.id}",
            subprotocols=list(subprotocols) or None,
            additional_headers=headers,
            open_timeout=TIMEOUT_S,
        )
        self._reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
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
                    if not future.done():  # its caller may have been cancelled (the test closing)
                        future.set_result(frame)
        except websockets.ConnectionClosed:
            pass
        except Exception as error:  # a broken frame from the server is a test failure
            self.errors.append(repr(error))
            raise

    async def call(self, action: str, payload: dict) -> dict:
        """Send one CALL and return the server's CALLRESULT payload (checked against its schema)."""
        check_schema(action, payload, response=False)
        async with self._call_lock:
            unique_id = str(uuid.uuid4())
            future = asyncio.get_running_loop().create_future()
            self._pending[unique_id] = future
            await self._ws.send(json.dumps([2, unique_id, action, payload]))
            frame = await asyncio.wait_for(future, TIMEOUT_S)
        if frame[0] == 4:
            raise AssertionError(f"{action} answered with CALLERROR {frame[2]}: {frame[3]}")
        check_schema(action, frame[2], response=True)
        self.answers.setdefault(action, []).append(frame[2])
        self.history.append((time.monotonic(), f"answered {action}", self.draw_a))
        return frame[2]

    def _spawn(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- what the charger does on its own -------------------------------------------------------
    async def boot(self) -> dict:
        answer = await self.call(
            "BootNotification",
            {"chargePointVendor": self.vendor, "chargePointModel": self.model, "firmwareVersion": "1.0"},
        )
        await self.send_status(0, "Available")
        await self.send_status(1, self.status)
        return answer

    async def send_status(self, connector_id: int, status: str) -> None:
        if connector_id:
            self.status = status
        await self.call(
            "StatusNotification",
            {"connectorId": connector_id, "errorCode": "NoError", "status": status, "timestamp": iso(utc_now())},
        )

    async def plug_in(self) -> None:
        self.plugged = True
        await self.send_status(1, "Preparing")

    async def start(self, id_tag: str = "RFID1") -> dict:
        """The car starts charging: StartTransaction, drawing from that moment under the profiles
        the charger holds (a charger does not wait for the answer to close its contactor)."""
        if not self.plugged:
            await self.plug_in()
        started_at = utc_now()
        self.transaction = Transaction(-1, 1, started_at, round(self.energy_wh))
        self._update_draw("transaction starting")
        answer = await self.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": id_tag, "meterStart": round(self.energy_wh), "timestamp": iso(started_at)},
        )
        self.transaction.id = answer["transactionId"]
        if answer["idTagInfo"]["status"] != "Accepted":
            await self.stop(reason="DeAuthorized", id_tag=id_tag)
            return answer
        await self._status_for_draw()
        return answer

    async def stop(self, *, reason: str = "Local", id_tag: str | None = None) -> dict | None:
        transaction, self.transaction = self.transaction, None
        if transaction is None:
            return None
        # A TxProfile lives as long as its transaction (OCPP 1.6 §3.13.4).
        self.profiles = [p for p in self.profiles if p["profile"]["chargingProfilePurpose"] != "TxProfile"]
        self._update_draw("transaction stopped")
        payload = {
            "transactionId": transaction.id,
            "meterStop": round(self.energy_wh),
            "timestamp": iso(utc_now()),
            "reason": reason,
        }
        if id_tag:
            payload["idTag"] = id_tag
        answer = await self.call("StopTransaction", payload)
        await self.send_status(1, "Finishing")
        return answer

    async def send_meter_values(self, *, seconds: float = 10.0) -> None:
        """One sample set as the car draws now; `seconds` of that draw are added to the register."""
        power_w = self.draw_a * NOMINAL_VOLTAGE_V * self.active_phases()
        self.energy_wh += power_w * seconds / 3600
        sampled = [
            {"value": f"{self.energy_wh:.0f}", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": f"{power_w:.0f}", "measurand": "Power.Active.Import", "unit": "W"},
            {"value": f"{self.draw_a:.1f}", "measurand": "Current.Import", "unit": "A"},
        ]
        payload = {"connectorId": 1, "meterValue": [{"timestamp": iso(utc_now()), "sampledValue": sampled}]}
        if self.transaction is not None and self.transaction.id > 0:
            payload["transactionId"] = self.transaction.id
        await self.call("MeterValues", payload)

    # -- what the server asks ---------------------------------------------------------------------
    async def _on_call(self, unique_id: str, action: str, payload: dict) -> None:
        self.calls.append((action, payload))
        try:
            check_schema(action, payload, response=False)
        except SchemaViolation as error:
            self.errors.append(str(error))
            await self._ws.send(json.dumps([4, unique_id, "FormationViolation", str(error)[:200], {}]))
            return
        handler = getattr(self, f"_on_{action}", None)
        if handler is None:
            await self._ws.send(json.dumps([4, unique_id, "NotSupported", f"{action} is not supported", {}]))
            return
        answer = handler(payload)
        check_schema(action, answer, response=True)
        await self._ws.send(json.dumps([3, unique_id, answer]))
        self._changed.set()

    def _on_GetConfiguration(self, payload: dict) -> dict:
        keys = payload.get("key") or list(self.configuration)
        known = [k for k in keys if k in self.configuration]
        answer: dict = {
            "configurationKey": [
                {"key": k, "readonly": k in self.read_only_keys, "value": self.configuration[k]} for k in known
            ]
        }
        if unknown := [k for k in keys if k not in self.configuration]:
            answer["unknownKey"] = unknown
        return answer

    def _on_ChangeConfiguration(self, payload: dict) -> dict:
        key, value = payload["key"], payload["value"]
        if key not in self.configuration:
            return {"status": "NotSupported"}
        if key in self.read_only_keys:
            return {"status": "Rejected"}
        if key == "MeterValuesSampledData" and not set(value.split(",")) <= MEASURANDS:
            return {"status": "Rejected"}
        if key in ("MeterValueSampleInterval", "HeartbeatInterval") and not value.isdigit():
            return {"status": "Rejected"}
        self.configuration[key] = value
        return {"status": "Accepted"}

    def _on_RemoteStartTransaction(self, payload: dict) -> dict:
        if self.rejects_remote_start or self.transaction is not None or self.status not in ("Available", "Preparing"):
            return {"status": "Rejected"}
        self._spawn(self.start(id_tag=payload["idTag"]))
        return {"status": "Accepted"}

    def _on_RemoteStopTransaction(self, payload: dict) -> dict:
        if self.transaction is None or self.transaction.id != payload["transactionId"]:
            return {"status": "Rejected"}
        self._spawn(self.stop(reason="Remote"))
        return {"status": "Accepted"}

    def _on_TriggerMessage(self, payload: dict) -> dict:
        message = payload["requestedMessage"]
        if message == "StatusNotification":
            self._spawn(self.send_status(payload.get("connectorId", 1), self.status))
        elif message == "MeterValues":
            self._spawn(self.send_meter_values(seconds=0))
        elif message == "Heartbeat":
            self._spawn(self.call("Heartbeat", {}))
        else:
            return {"status": "NotImplemented"}
        return {"status": "Accepted"}

    def _on_SetChargingProfile(self, payload: dict) -> dict:
        connector_id, profile = payload["connectorId"], payload["csChargingProfiles"]
        problem = "refuses every profile" if not self.accept_profiles else self._profile_problem(connector_id, profile)
        if problem:
            self.history.append(
                (time.monotonic(), f"rejected {profile['chargingProfilePurpose']}: {problem}", self.draw_a)
            )
            return {"status": "Rejected"}
        purpose, level = profile["chargingProfilePurpose"], profile["stackLevel"]
        self.profiles = [
            p
            for p in self.profiles
            if p["profile"]["chargingProfileId"] != profile["chargingProfileId"]
            and not (
                p["profile"]["chargingProfilePurpose"] == purpose
                and p["profile"]["stackLevel"] == level
                and p["connector_id"] == connector_id
            )
        ]
        self.profiles.append({"connector_id": connector_id, "profile": profile, "received_at": utc_now()})
        self._update_draw(f"set {purpose}")
        self._spawn(self._status_for_draw())
        return {"status": "Accepted"}

    def _profile_problem(self, connector_id: int, profile: dict) -> str:
        """Why a real charger would refuse this profile ('' when it would take it)."""
        schedule, purpose = profile["chargingSchedule"], profile["chargingProfilePurpose"]
        allowed = {"Current": "A", "Power": "W"}
        units = {allowed[u] for u in self.configuration["ChargingScheduleAllowedChargingRateUnit"].split(",")}
        periods = schedule["chargingSchedulePeriod"]
        starts = [p["startPeriod"] for p in periods]
        if schedule["chargingRateUnit"] not in (units | self.unannounced_units) - self.rejected_units:
            return "rate unit"
        if profile["stackLevel"] > int(self.configuration["ChargeProfileMaxStackLevel"]):
            return "stack level"
        if len(periods) > int(self.configuration["ChargingScheduleMaxPeriods"]):
            return "too many periods"
        if starts[0] != 0 or starts != sorted(set(starts)):
            return "periods must start at 0 and increase"
        if any(p["limit"] < 0 or p.get("numberPhases", 1) not in (1, 2, 3) for p in periods):
            return "bad limit"
        if purpose == "ChargePointMaxProfile" and connector_id != 0:
            return "ChargePointMaxProfile only on connector 0"
        if purpose == "TxProfile":
            tx = self.transaction
            if connector_id == 0 or tx is None or tx.id < 0:
                return "TxProfile without a transaction"
            if "transactionId" in profile and profile["transactionId"] != tx.id:
                return "TxProfile for another transaction"
        if profile["chargingProfileKind"] == "Recurring" and "recurrencyKind" not in profile:
            return "recurring without recurrencyKind"
        if len(self.profiles) >= int(self.configuration["MaxChargingProfilesInstalled"]) and not any(
            p["profile"]["chargingProfileId"] == profile["chargingProfileId"] for p in self.profiles
        ):
            return "no room"
        return ""

    def _on_ClearChargingProfile(self, payload: dict) -> dict:
        def matches(p: dict) -> bool:
            if "id" in payload:
                return p["profile"]["chargingProfileId"] == payload["id"]
            return (
                payload.get("connectorId") in (None, p["connector_id"])
                and payload.get("chargingProfilePurpose") in (None, p["profile"]["chargingProfilePurpose"])
                and payload.get("stackLevel") in (None, p["profile"]["stackLevel"])
            )

        kept = [p for p in self.profiles if not matches(p)]
        cleared = len(kept) != len(self.profiles)
        self.profiles = kept
        self._update_draw("cleared profiles")
        self._spawn(self._status_for_draw())
        return {"status": "Accepted" if cleared else "Unknown"}

    def _on_GetCompositeSchedule(self, payload: dict) -> dict:
        connector_id, duration = payload["connectorId"], payload["duration"]
        unit = payload.get("chargingRateUnit", "A")
        start = utc_now().replace(microsecond=0)
        edges = {start}
        for p in self.profiles:
            for at in self._period_starts(p["profile"], start):
                if start < at < start + dt.timedelta(seconds=duration):
                    edges.add(at)
        periods, last = [], None
        for at in sorted(edges):
            limit_a = self.limit_a(at, connector_id=connector_id, floor=False)
            value = limit_a if unit == "A" else limit_a * NOMINAL_VOLTAGE_V * self.phases
            value = round(value, 1)
            if value != last:
                periods.append({"startPeriod": int((at - start).total_seconds()), "limit": value})
                last = value
        return {
            "status": "Accepted",
            "connectorId": connector_id,
            "scheduleStart": iso(start),
            "chargingSchedule": {"duration": duration, "chargingRateUnit": unit, "chargingSchedulePeriod": periods},
        }

    def _on_Reset(self, payload: dict) -> dict:
        return {"status": "Accepted"}

    def _on_UnlockConnector(self, payload: dict) -> dict:
        return {"status": "Unlocked"}

    def _on_ChangeAvailability(self, payload: dict) -> dict:
        return {"status": "Accepted"}

    def _on_ClearCache(self, payload: dict) -> dict:
        return {"status": "Accepted"}

    def _on_DataTransfer(self, payload: dict) -> dict:
        return {"status": "UnknownVendorId"}

    # -- what the car gets ----------------------------------------------------------------------
    def _schedule_start(self, profile: dict, at: dt.datetime) -> dt.datetime | None:
        schedule = profile["chargingSchedule"]
        kind = profile["chargingProfileKind"]
        if kind == "Relative":
            return self.transaction.started_at if self.transaction else None
        start = parse_time(schedule["startSchedule"]) if "startSchedule" in schedule else None
        if start is None:
            return None
        if kind == "Recurring":
            step = dt.timedelta(days=7 if profile["recurrencyKind"] == "Weekly" else 1)
            while start + step <= at:
                start += step
        return start

    def _period_starts(self, profile: dict, at: dt.datetime) -> list[dt.datetime]:
        start = self._schedule_start(profile, at)
        if start is None:
            return []
        edges = [
            start + dt.timedelta(seconds=p["startPeriod"])
            for p in profile["chargingSchedule"]["chargingSchedulePeriod"]
        ]
        if "duration" in profile["chargingSchedule"]:
            edges.append(start + dt.timedelta(seconds=profile["chargingSchedule"]["duration"]))
        return edges

    def _profile_limit_a(self, profile: dict, at: dt.datetime) -> float | None:
        """The limit this profile sets at `at`, in amps per phase; None when it is not in force."""
        start = self._schedule_start(profile, at)
        if start is None or at < start:
            return None
        schedule = profile["chargingSchedule"]
        offset = (at - start).total_seconds()
        if "duration" in schedule and offset >= schedule["duration"]:
            return None
        if "validFrom" in profile and at < parse_time(profile["validFrom"]):
            return None
        if "validTo" in profile and at >= parse_time(profile["validTo"]):
            return None
        period = [p for p in schedule["chargingSchedulePeriod"] if p["startPeriod"] <= offset][-1]
        if schedule["chargingRateUnit"] == "A":
            return float(period["limit"])
        return period["limit"] / (NOMINAL_VOLTAGE_V * period.get("numberPhases", self.phases))

    def _top(self, purpose: str, connector_ids: tuple[int, ...], at: dt.datetime) -> float | None:
        """The limit of the highest stack level in force for a purpose (§3.13.2)."""
        candidates = [
            p["profile"]
            for p in self.profiles
            if p["profile"]["chargingProfilePurpose"] == purpose and p["connector_id"] in connector_ids
        ]
        for profile in sorted(candidates, key=lambda p: -p["stackLevel"]):
            if (limit := self._profile_limit_a(profile, at)) is not None:
                return limit
        return None

    def limit_a(self, at: dt.datetime | None = None, *, connector_id: int = 1, floor: bool = True) -> float:
        """The current the charger allows now: its rating, capped by ChargePointMaxProfile and by
        the TxProfile of the running transaction or else the TxDefaultProfile."""
        at = at or utc_now()
        limits = [self.max_current_a, self._top("ChargePointMaxProfile", (0,), at)]
        if connector_id:
            tx_limit = self._top("TxProfile", (connector_id,), at) if self.transaction else None
            if tx_limit is None:
                tx_limit = self._top("TxDefaultProfile", (connector_id, 0), at)
            limits.append(tx_limit)
        limit = min(v for v in limits if v is not None)
        return 0.0 if floor and limit < MIN_CURRENT_A else limit

    def effective_limit_a(self) -> float:
        return self.limit_a()

    def active_phases(self) -> int:
        return self.phases

    def _update_draw(self, what: str) -> None:
        charging = self.transaction is not None
        wanted_a = self.car_max_current_a if self.ignores_limits else min(self.car_max_current_a, self.limit_a())
        self.draw_a = wanted_a if charging else 0.0
        self.history.append((time.monotonic(), what, self.draw_a))
        if self.meter is not None:
            self.meter.observe(f"{self.id}: {what}")
        self._changed.set()

    async def _status_for_draw(self) -> None:
        if self.transaction is None or self.transaction.id < 0:
            return
        wanted = "Charging" if self.draw_a > 0 else "SuspendedEVSE"
        if wanted != self.status:
            await self.send_status(1, wanted)

    # -- the security extension (1.6 security whitepaper): its certificate from the server -------
    certificate_pem: str | None = None

    async def sign_certificate(self, *, common_name: str | None = None, organization: str = "Gray Logic") -> dict:
        """SignCertificate with a CSR for a new key of its own, naming it and the operator."""
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name or self.id),
            ]
        )
        csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(self.key, hashes.SHA256())
        return await self.call("SignCertificate", {"csr": csr.public_bytes(serialization.Encoding.PEM).decode()})

    def _on_CertificateSigned(self, payload: dict) -> dict:
        """Accepted only if the chain's first certificate is for its key and signed by the next."""
        spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        try:
            chain = x509.load_pem_x509_certificates(payload["certificateChain"].encode())
            if chain[0].public_key().public_bytes(*spki) != self.key.public_key().public_bytes(*spki):
                raise ValueError("not for its key")
            chain[0].verify_directly_issued_by(chain[1])
        except (ValueError, TypeError, InvalidSignature, IndexError, AttributeError) as error:
            self.errors.append(f"CertificateSigned refused: {error}")
            return {"status": "Rejected"}
        self.certificate_pem = chain[0].public_bytes(serialization.Encoding.PEM).decode()
        return {"status": "Accepted"}


@contextlib.asynccontextmanager
async def sim_charger(server, charge_point_id: str, *, boot: bool = True, **options):
    """A simulated charger connected (and booted) to the live server, closed afterwards."""
    charger = SimCharger(charge_point_id, **options)
    await charger.connect(server)
    try:
        if boot:
            await charger.boot()
        yield charger
    finally:
        await charger.close()
