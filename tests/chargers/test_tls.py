"""wss:// straight from daphne, with the certificate and key from TLS_CERT_FILE / TLS_KEY_FILE."""

import asyncio
import json
import socket
import ssl
import subprocess
import warnings

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


def test_tls_1_0_and_1_1_are_refused_by_the_server(tls_server):
    """Refused by the server's own OpenSSL: this client offers only the old version, at the
    security level that still allows it, and gets the server's protocol-version alert."""
    server, cert = tls_server
    port = int(server.http_url.rsplit(":", 1)[1])

    def handshake(tls_version: ssl.TLSVersion) -> str:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(cafile=str(cert))
        context.check_hostname = False
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        context.minimum_version = context.maximum_version = tls_version
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
            context.wrap_socket(sock) as tls,
        ):
            return tls.version()

    for old in ("TLSv1", "TLSv1_1"):
        with warnings.catch_warnings(), pytest.raises(ssl.SSLError, match="alert protocol version"):
            warnings.simplefilter("ignore", DeprecationWarning)  # Python's, for the very versions refused
            handshake(getattr(ssl.TLSVersion, old))
    assert handshake(ssl.TLSVersion.TLSv1_2) == "TLSv1.2", "the same client offering TLS 1.2 connects"
