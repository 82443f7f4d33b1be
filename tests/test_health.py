"""/healthz: 200 only when this node can serve chargers (database, channel layer, and the MQTT
broker when it runs the bridge); 503 naming what failed otherwise. A node whose Redis was down
answered 200 while every charger handshake failed."""

import asyncio
import json
import urllib.error
import urllib.request

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from graylogic.health import health_failures
from tests.conftest import _free_port, start_server, stop_server
from tests.factories import make_charger
from tests.services import require_service

pytestmark = pytest.mark.django_db(transaction=True)


def _closed_port() -> int:
    return _free_port()  # bound and released again: nothing listens there


def health(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def test_a_failing_check_is_logged_once_per_outage_not_once_per_poll(caplog):
    async def refused() -> None:
        raise ConnectionRefusedError("127.0.0.1:6379")

    outage_logs = {}  # the process's are GraylogicConfig.health_outage_logs
    for _ in range(3):
        assert await health_failures({"redis": refused}, outage_logs) == {"redis": "ConnectionRefusedError"}
    assert caplog.text.count("health check: redis unavailable") == 1
    assert await health_failures({"redis": lambda: asyncio.sleep(0)}, outage_logs) == {}
    assert caplog.text.count("health check: redis available again") == 1


def test_healthz_is_503_naming_the_channel_layer_when_redis_is_unreachable(django_db_setup, tmp_path):
    process, server = start_server(tmp_path, {"REDIS_URL": f"redis://127.0.0.1:{_closed_port()}/0"}, healthy=False)
    try:
        status, body = health(server.http_url)
        assert status == 503
        assert body["status"] == "unavailable"
        assert list(body["failed"]) == ["channel_layer"]  # the database is fine
    finally:
        stop_server(process)


def test_healthz_is_200_with_the_real_redis(django_db_setup, tmp_path):
    require_service("Redis", "127.0.0.1", 6379)
    process, server = start_server(tmp_path, {"REDIS_URL": "redis://127.0.0.1:6379/14"})
    try:
        assert health(server.http_url) == (200, {"status": "ok"})
    finally:
        stop_server(process)


def test_healthz_is_200_for_the_embedded_default(ocpp_server):
    assert health(ocpp_server.http_url) == (200, {"status": "ok"})


def test_healthz_is_503_naming_mqtt_while_the_embedded_bridge_has_no_broker(django_db_setup, tmp_path):
    process, server = start_server(tmp_path, {"MQTT_URL": f"mqtt://127.0.0.1:{_closed_port()}"}, healthy=False)
    try:
        status, body = health(server.http_url)
        assert status == 503
        assert list(body["failed"]) == ["mqtt"]
    finally:
        stop_server(process)


def test_healthz_is_200_with_the_embedded_bridge_connected(django_db_setup, tmp_path):
    require_service("Mosquitto", "127.0.0.1", 1883)
    process, server = start_server(tmp_path, {"MQTT_URL": "mqtt://127.0.0.1:1883", "MQTT_PREFIX": "health-test"})
    try:
        assert health(server.http_url) == (200, {"status": "ok"})
    finally:
        stop_server(process)


def test_chargers_refused_while_redis_is_unreachable_get_a_status_and_leave_no_traceback(django_db_setup, tmp_path):
    """A node whose channel layer is down refuses chargers (they try another node) and says so
    in the log once, not with a traceback per handshake."""
    charger = make_charger()
    process, server = start_server(tmp_path, {"REDIS_URL": f"redis://127.0.0.1:{_closed_port()}/0"}, healthy=False)

    async def handshakes() -> list[int]:
        statuses = []
        for _ in range(20):
            with pytest.raises(InvalidStatus) as refused:
                await websockets.connect(f"{server.ws_url}/ocpp/{charger.charge_point_id}", subprotocols=["ocpp1.6"])
            statuses.append(refused.value.response.status_code)
        return statuses

    try:
        assert asyncio.run(handshakes()) == [403] * 20
        log = server.log_path.read_text()
        assert "Traceback" not in log, log[-3000:]
        assert log.count("channel layer (charger connections) unavailable") == 1, log[-3000:]
    finally:
        stop_server(process)
