"""Who may open an OCPP connection: decided before the handshake completes."""

import asyncio
import socket

import pytest
import websockets

from chargers.models import Charger, ChargerEvent
from tests.conftest import ENV_PASSWORD, ENV_PASSWORD_VAR
from tests.factories import make_charger
from tests.ocpp_client import eventually, open_socket

pytestmark = pytest.mark.django_db(transaction=True)


def connect(server, charge_point_id, **kwargs) -> int:
    """The HTTP status of the handshake: 101 when accepted."""

    async def attempt():
        try:
            ws = await open_socket(server, charge_point_id, **kwargs)
        except websockets.InvalidStatus as refused:
            return refused.response.status_code
        await ws.close()
        return 101

    return asyncio.run(attempt())


CASES = [
    # (case, charger fields, connect kwargs, expected status, refusal reason)
    ("right password", {"password": "garage-secret-1"}, {"password": "garage-secret-1"}, 101, None),
    ("wrong password", {"password": "garage-secret-1"}, {"password": "nope"}, 403, "wrong password"),
    ("missing password", {"password": "garage-secret-1"}, {}, 403, "missing HTTP Basic credentials"),
    (
        "another charger's password",
        {"password": "garage-secret-1"},
        {"password": "driveway-secret-2"},
        403,
        "wrong password",
    ),
    (
        "user differs from the URL",
        {"password": "garage-secret-1"},
        {"password": "garage-secret-1", "user": "charger-driveway"},
        403,
        "does not match the charger id",
    ),
    ("password from the environment", {"password_env": ENV_PASSWORD_VAR}, {"password": ENV_PASSWORD}, 101, None),
    (
        "wrong password against the environment",
        {"password_env": ENV_PASSWORD_VAR},
        {"password": "garage-secret-1"},
        403,
        "wrong password",
    ),
    ("env var not set on the server", {"password_env": "NOT_SET_ANYWHERE"}, {"password": ""}, 403, "wrong password"),
    (
        "disabled charger",
        {"password": "garage-secret-1", "enabled": False},
        {"password": "garage-secret-1"},
        403,
        "charger is disabled",
    ),
    ("only an unsupported subprotocol", {}, {"subprotocols": ("ocpp2.1",)}, 403, "unsupported subprotocol"),
    ("no credentials configured", {}, {}, 101, None),
]


@pytest.mark.parametrize(
    ("case", "charger_fields", "connect_kwargs", "status", "reason"), CASES, ids=[c[0] for c in CASES]
)
def test_the_handshake_is_accepted_only_with_the_right_credentials(
    ocpp_server, case, charger_fields, connect_kwargs, status, reason
):
    # An id per case: refusals of one id, address and reason within a minute share one row.
    garage = "garage-" + case.replace(" ", "-").replace("'", "")
    make_charger(charge_point_id=garage, **charger_fields)
    make_charger(charge_point_id="charger-driveway", password="driveway-secret-2")

    assert connect(ocpp_server, garage, **connect_kwargs) == status
    events = ChargerEvent.objects.filter(charge_point_id=garage)
    if reason is None:
        assert eventually(lambda: events.filter(kind="connected").exists())
    else:
        refusal = events.get(kind="refused")
        assert reason in refusal.message
        assert refusal.remote_address == "127.0.0.1"
        assert not Charger.objects.get(charge_point_id=garage).is_connected


def test_an_unknown_charger_is_refused_and_nothing_is_kept_but_the_log(ocpp_server):
    assert connect(ocpp_server, "nobody-knows-me", password="whatever") == 403
    assert not Charger.objects.exists()
    assert "unknown charger id" in ChargerEvent.objects.get(charge_point_id="nobody-knows-me").message


def test_a_path_that_is_no_charger_id_is_refused(ocpp_server):
    assert connect(ocpp_server, "bad%20id") == 403


def test_an_authorization_header_that_is_no_text_is_refused_as_no_credentials(ocpp_server):
    """Bytes no base64 is made of: before, the consumer failed on them (a 500 and a traceback)."""
    make_charger(charge_point_id="garage-bytes", password="garage-secret-1")
    port = int(ocpp_server.http_url.rsplit(":", 1)[1])
    request = (
        b"GET /ocpp/garage-bytes HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Protocol: ocpp1.6\r\nAuthorization: Basic \xff\xfe\xfd\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        status_line = sock.makefile("rb").readline()

    assert status_line.startswith(b"HTTP/1.1 403"), status_line
    refusal = ChargerEvent.objects.get(charge_point_id="garage-bytes", kind="refused")
    assert "missing HTTP Basic credentials" in refusal.message
