"""The baseline of the benchmark: a minimal OCPP 1.6 central system on the `ocpp` library and
the `websockets` package, with no database and no Django. Schema validation stays on, as the
library does by default, but synchronous (`ASYNC_VALIDATION = False`), as the product runs it.

    .venv/bin/python bench/bare_server.py --host 127.0.0.1 --port 9300
"""

import argparse
import asyncio
import contextlib
import datetime as dt
import logging
import resource
import signal

import ocpp.messages
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action, RegistrationStatus
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

ocpp.messages.ASYNC_VALIDATION = False


def raise_open_files_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def utc_now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class BareChargePoint(ChargePoint):
    @on(Action.boot_notification)
    async def on_boot_notification(self, charge_point_vendor: str, charge_point_model: str, **kwargs):
        return call_result.BootNotification(
            current_time=utc_now_iso(), interval=300, status=RegistrationStatus.accepted
        )

    @on(Action.heartbeat)
    async def on_heartbeat(self):
        return call_result.Heartbeat(current_time=utc_now_iso())

    @on(Action.status_notification)
    async def on_status_notification(self, connector_id: int, error_code: str, status: str, **kwargs):
        return call_result.StatusNotification()

    @on(Action.meter_values)
    async def on_meter_values(self, connector_id: int, meter_value: list, **kwargs):
        return call_result.MeterValues()


async def on_connect(websocket) -> None:
    path = websocket.request.path.rstrip("/")
    charge_point_id = path.rsplit("/", 1)[-1]
    charge_point = BareChargePoint(charge_point_id, websocket)
    with contextlib.suppress(ConnectionClosed):  # a closed socket ends the charger's loop
        await charge_point.start()


async def main(host: str, port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(
        on_connect,
        host,
        port,
        subprotocols=["ocpp1.6"],
        compression=None,
        ping_interval=None,
        max_queue=64,
        backlog=2048,
    ):
        print(f"bare OCPP 1.6 server on ws://{host}:{port}/ocpp/<id>", flush=True)
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9300)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    raise_open_files_limit()
    asyncio.run(main(args.host, args.port))
