"""Charge points for tests: real WebSocket clients talking OCPP 1.6-J to the live server."""

import asyncio
import base64
import contextlib
import json
import uuid

import websockets
from ocpp.v16 import ChargePoint

TIMEOUT_S = 10


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
        await self.ws.send(frame)
        return json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT_S))

    async def call(self, action: str, payload: dict) -> list:
        return await self.send_frame(json.dumps([2, str(uuid.uuid4()), action, payload]))


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
