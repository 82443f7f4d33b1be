"""wss:// straight from daphne, with the certificate and key from TLS_CERT_FILE / TLS_KEY_FILE."""

import asyncio
import json
import ssl
import subprocess

import pytest
import websockets

from tests.conftest import start_server, stop_server
from tests.factories import make_charger
from tests.ocpp_client import basic_auth

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tls_server(django_db_setup, tmp_path):
    cert, key = tmp_path / "ocpp.crt", tmp_path / "ocpp.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    process, server = start_server(tmp_path, {"TLS_CERT_FILE": str(cert), "TLS_KEY_FILE": str(key)}, scheme="https")
    yield server, cert
    stop_server(process)


def test_a_charger_connects_over_wss_with_basic_auth(tls_server):
    server, cert = tls_server
    make_charger(charge_point_id="charger-garage", password="garage-secret-1")
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False

    async def scenario():
        async with websockets.connect(
            f"{server.ws_url}/ocpp/charger-garage",
            subprotocols=["ocpp1.6"],
            additional_headers=basic_auth("charger-garage", "garage-secret-1"),
            ssl=context,
        ) as ws:
            await ws.send(json.dumps([2, "1", "Heartbeat", {}]))
            return ws.subprotocol, json.loads(await ws.recv())

    subprotocol, answer = asyncio.run(scenario())
    assert server.ws_url.startswith("wss://")
    assert subprotocol == "ocpp1.6" and answer[0] == 3
