"""Charge points for tests: real WebSocket clients talking OCPP 1.6-J to the live server."""

import asyncio
import base64
import contextlib
import datetime as dt
import json
import uuid

import websockets
from django.db import connections
from ocpp.v16 import ChargePoint

TIMEOUT_S = 10
# The day a test charger's clock says it charged: yesterday, so always within the window the
# server believes a charger's clock (sessions/charger_clock.py), whatever day the tests run.
RECENT_DAY = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).date().isoformat()


def basic_auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def open_socket(
    server, charge_point_id: str, *, password: str | None = None, user: str | None = None, subprotocols=("ocpp1.6",)
):
    headers = basic_auth(user or charge_point_id, password) if password is not None else {}
    return await websockets.connect(
        f"{server.ws_url}/ocpp/{charge_point_id}",
        subprotocols=list(subprotocols) or None,
        additional_headers=headers,
        open_timeout=TIMEOUT_S,
        max_size=None,
    )


class RawCharger:
    """Sends hand-written frames, for the malformed input a real charger never should send."""

    def __init__(self, ws):
        self.ws = ws

    async def send_frame(self, frame: str | bytes) -> list:
        """Send a frame and return the server's answer to it. Calls the server makes meanwhile
        (energy control sends charging profiles) are answered NotSupported, as a charger
        without smart charging would."""
        await self.ws.send(frame)
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT_S))
            if message[0] != 2:
                return message
            await self.ws.send(json.dumps([4, message[1], "NotSupported", "raw test charger", {}]))

    async def call(self, action: str, payload: dict) -> list:
        return await self.send_frame(json.dumps([2, str(uuid.uuid4()), action, payload]))


def raw_frames_then_heartbeat(server, charge_point_id: str, *frames: str | bytes) -> list[list]:
    """Send hand-written frames one after the other over one socket: their answers, then a
    Heartbeat's, which shows whether the same connection still serves good frames."""

    async def scenario():
        raw = RawCharger(await open_socket(server, charge_point_id))
        answers = [await raw.send_frame(frame) for frame in frames]
        answers.append(await raw.call("Heartbeat", {}))
        await raw.ws.close()
        return answers

    return asyncio.run(scenario())


@contextlib.asynccontextmanager
async def library_charger(server, charge_point_id: str, *, password: str | None = None, charge_point_class=ChargePoint):
    """An `ocpp` library ChargePoint: it validates every answer against the official schemas."""
    ws = await open_socket(server, charge_point_id, password=password)
    cp = charge_point_class(charge_point_id, ws, response_timeout=TIMEOUT_S)
    task = asyncio.create_task(cp.start())
    try:
        yield cp
    finally:
        task.cancel()
        await ws.close()


def eventually(check, timeout_s: float = 5.0):
    """Poll a condition the server reaches asynchronously (e.g. after a socket closes)."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


async def in_a_thread(function, *args, **kwargs):
    """asyncio.to_thread, closing the database connection the thread opened: left open, it kept
    PostgreSQL from dropping the test database at the end of the run."""

    def run():
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    return await asyncio.to_thread(run)


class AnsweringCharger(ChargePoint):
    """A charge point that answers every central-system call of OCPP 1.6 and remembers them.

    Set `answers[action]` to a call_result object to change an answer, `delays[action]` to
    seconds to wait first, or `errors[action]` to an ocpp OCPPError to answer a CALLERROR.
    `configuration` is what GetConfiguration returns.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict]] = []
        self.answers: dict = {}
        self.delays: dict[str, float] = {}
        self.errors: dict = {}
        self.configuration = [
            {
                "key": "SupportedFeatureProfiles",
                "readonly": True,
                "value": "Core,FirmwareManagement,SmartCharging,RemoteTrigger",
            },
            {"key": "ChargingScheduleAllowedChargingRateUnit", "readonly": True, "value": "Current,Power"},
            {"key": "ChargeProfileMaxStackLevel", "readonly": True, "value": "8"},
            {"key": "MaxChargingProfilesInstalled", "readonly": True, "value": "4"},
            {"key": "MeterValueSampleInterval", "readonly": False, "value": "60"},
            {
                "key": "MeterValuesSampledData",
                "readonly": False,
                "value": "Energy.Active.Import.Register,Power.Active.Import,Current.Import",
            },
            {"key": "NumberOfConnectors", "readonly": True, "value": "1"},
        ]

    async def _answer(self, action: str, default, **payload):
        self.received.append((action, payload))
        if action in self.delays:
            await asyncio.sleep(self.delays[action])
        if action in self.errors:
            raise self.errors[action]
        return self.answers.get(action, default)


def _install_answering_handlers() -> None:
    from ocpp.routing import on
    from ocpp.v16 import call_result

    accepted = {"status": "Accepted"}
    defaults = {
        "ChangeAvailability": call_result.ChangeAvailability(**accepted),
        "ChangeConfiguration": call_result.ChangeConfiguration(**accepted),
        "ClearCache": call_result.ClearCache(**accepted),
        "RemoteStartTransaction": call_result.RemoteStartTransaction(**accepted),
        "RemoteStopTransaction": call_result.RemoteStopTransaction(**accepted),
        "Reset": call_result.Reset(**accepted),
        "UnlockConnector": call_result.UnlockConnector(status="Unlocked"),
        "ClearChargingProfile": call_result.ClearChargingProfile(**accepted),
        "SetChargingProfile": call_result.SetChargingProfile(**accepted),
        "TriggerMessage": call_result.TriggerMessage(**accepted),
        "DataTransfer": call_result.DataTransfer(**accepted),
        "GetDiagnostics": call_result.GetDiagnostics(file_name="diagnostics.zip"),
        "UpdateFirmware": call_result.UpdateFirmware(),
    }

    def make_handler(action, default):
        async def handler(self, **payload):
            return await self._answer(action, default, **payload)

        handler.__name__ = f"on_{action}"
        return on(action)(handler)

    for action, default in defaults.items():
        setattr(AnsweringCharger, f"on_{action}", make_handler(action, default))

    async def on_get_configuration(self, **payload):
        keys = payload.get("key")
        chosen = [c for c in self.configuration if not keys or c["key"] in keys]
        return await self._answer("GetConfiguration", call_result.GetConfiguration(configuration_key=chosen), **payload)

    async def on_get_composite_schedule(self, **payload):
        # The charger's own limit, or on connector 0 the last ChargePointMaxProfile it was sent.
        schedule = {"chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400}]}
        for action, received in reversed(self.received):
            profile = received.get("cs_charging_profiles", {}) if action == "SetChargingProfile" else {}
            if payload["connector_id"] == 0 and profile.get("charging_profile_purpose") == "ChargePointMaxProfile":
                sent = profile["charging_schedule"]
                period = sent["charging_schedule_period"][0]
                schedule = {
                    "chargingRateUnit": sent["charging_rate_unit"],
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": float(period["limit"])}],
                }
                break
        default = call_result.GetCompositeSchedule(
            status="Accepted",
            connector_id=payload["connector_id"],
            schedule_start="2026-01-13T00:00:00Z",
            charging_schedule=schedule,
        )
        return await self._answer("GetCompositeSchedule", default, **payload)

    AnsweringCharger.on_get_configuration = on("GetConfiguration")(on_get_configuration)
    AnsweringCharger.on_get_composite_schedule = on("GetCompositeSchedule")(on_get_composite_schedule)


_install_answering_handlers()
