"""deploy/nginx/graylogic.conf: nginx accepts it, and a charger and a load balancer's health
check reach a live server through it over TLS (ports and certificate swapped for the test's);
a security profile 3 station's client certificate reaches the server through it and is checked
there."""

import asyncio
import contextlib
import os
import re
import shutil
import ssl
import subprocess
import time
import urllib.request

import pytest
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chargers.models import OCPP201, Charger, ChargerEvent, SecurityProfile
from tests.chargepoint_sim201 import SimStation
from tests.chargers.test_ocpp201_security import PASSWORD, issue, key_pem, make_ca, write_ca
from tests.conftest import ROOT, LiveServer, _free_port, start_server, stop_server
from tests.factories import make_charger
from tests.ocpp_client import basic_auth

pytestmark = pytest.mark.django_db(transaction=True)

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _require_nginx() -> None:
    if not os.path.exists(NGINX):
        message = "nginx is missing: bin/test installs it (apt-get install nginx-light)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def _site_config(tmp_path, *, upstream_port: int, http_port: int, https_port: int) -> str:
    cert, key = tmp_path / "proxy.crt", tmp_path / "proxy.key"
    self_signed = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
    subprocess.run(
        [*self_signed, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    site = (ROOT / "deploy" / "nginx" / "graylogic.conf").read_text()
    site = re.sub(r"server 127\.0\.0\.1:900\d [^;]*;\n", "", site, count=1)  # one server in the test
    site = re.sub(r"server 127\.0\.0\.1:900\d", f"server 127.0.0.1:{upstream_port}", site)
    site = re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", site)  # no IPv6 needed
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    site = site.replace("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
    site = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", site)
    site = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", site)
    return (
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\naccess_log off;\nclient_body_temp_path {tmp_path};\nproxy_temp_path {tmp_path};\n{site}\n}}\n"
    )


@contextlib.contextmanager
def nginx_in_front(server, tmp_path):
    """deploy/nginx/graylogic.conf (checked with nginx -t) proxying to `server`; yields its port
    once its /healthz answers."""
    _require_nginx()
    upstream_port = int(server.http_url.rsplit(":", 1)[1])
    https_port = _free_port()
    config = tmp_path / "nginx.conf"
    site = _site_config(tmp_path, upstream_port=upstream_port, http_port=_free_port(), https_port=https_port)
    config.write_text(site)
    check = subprocess.run([NGINX, "-t", "-c", str(config), "-p", str(tmp_path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    nginx = subprocess.Popen([NGINX, "-c", str(config), "-p", str(tmp_path), "-g", "daemon off;"])
    unverified = ssl._create_unverified_context()
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{https_port}/healthz", context=unverified) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline and nginx.poll() is None, (tmp_path / "error.log").read_text()
                time.sleep(0.1)
        yield https_port
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)


def test_the_nginx_proxy_passes_chargers_and_health_checks_over_tls(ocpp_server, tmp_path):
    charger = make_charger(password="through-the-proxy-1")
    unverified = ssl._create_unverified_context()
    with nginx_in_front(ocpp_server, tmp_path) as https_port:

        async def boot() -> list:
            async with websockets.connect(
                f"wss://127.0.0.1:{https_port}/ocpp/{charger.charge_point_id}",
                subprotocols=["ocpp1.6"],
                additional_headers=basic_auth(charger.charge_point_id, "through-the-proxy-1"),
                ssl=unverified,
                open_timeout=10,
                local_addr=("127.0.0.21", 0),
            ) as ws:
                assert ws.subprotocol == "ocpp1.6"
                await ws.send('[2,"1","Heartbeat",{}]')
                return await asyncio.wait_for(ws.recv(), 10)

        assert '"currentTime"' in asyncio.run(boot())
        # The server knows the charger's own address, not the proxy's (throttling is per address).
        charger.refresh_from_db()
        assert charger.remote_address == "127.0.0.21"


def test_a_station_signs_its_certificate_through_nginx_then_connects_with_it_and_a_wrong_one_is_refused(tmp_path):
    """nginx asks for the certificate and forwards it; the server, trusting 127.0.0.1 as its proxy,
    signs the station's CSR (profile 1), then, at profile 3, admits the station showing that
    certificate, and refuses one naming another station or showing none."""
    ca = make_ca()
    ca_dir = write_ca(ca, tmp_path / "ca")
    charger = make_charger(charge_point_id="ST3-NGINX", password=PASSWORD, protocol=OCPP201)
    station = SimStation("ST3-NGINX", password=PASSWORD)

    def client(name: str, common_name: str | None) -> ssl.SSLContext:
        """wss with a certificate of our CA for CN=common_name (None: without one)."""
        context = ssl._create_unverified_context()
        if common_name is not None:
            key = ec.generate_private_key(ec.SECP256R1())
            (tmp_path / f"{name}.crt").write_bytes(
                issue(ca, common_name=common_name, key=key).public_bytes(serialization.Encoding.PEM)
            )
            (tmp_path / f"{name}.key").write_bytes(key_pem(key))
            context.load_cert_chain(tmp_path / f"{name}.crt", tmp_path / f"{name}.key")
        return context

    async def signed(proxy: LiveServer) -> dict:
        """Profile 1 through nginx: boot, then SignCertificate until CertificateSigned comes."""
        await station.connect(proxy, ssl_context=ssl._create_unverified_context())
        try:
            await station.boot()
            answer = await station.sign_certificate()
            await station.wait_for(lambda: station.certificate_pem, what="CertificateSigned")
        finally:
            await station.close()
        return answer

    async def with_its_certificate(proxy: LiveServer) -> dict:
        station.password = None  # profile 3: the certificate alone
        await station.connect(proxy, ssl_context=station.client_tls_context(tmp_path))
        try:
            return await station.heartbeat()
        finally:
            await station.close()

    async def refused(https_port: int, context: ssl.SSLContext, address: str) -> int:
        with pytest.raises(websockets.InvalidStatus) as refusal:
            async with websockets.connect(
                f"wss://127.0.0.1:{https_port}/ocpp/ST3-NGINX",
                subprotocols=["ocpp2.0.1"],
                ssl=context,
                open_timeout=10,
                local_addr=(address, 0),  # a row of refusals per address
            ):
                pass
        return refusal.value.response.status_code

    process, server = start_server(tmp_path, {"OCPP_TRUSTED_PROXIES": "127.0.0.1", "OCPP_CA_DIR": str(ca_dir)})
    try:
        with nginx_in_front(server, tmp_path) as https_port:
            proxy = LiveServer(f"https://127.0.0.1:{https_port}", f"wss://127.0.0.1:{https_port}", server.log_path)
            answer = asyncio.run(signed(proxy))
            Charger.objects.filter(pk=charger.pk).update(security_profile=SecurityProfile.TLS_CLIENT_CERTIFICATE)
            heartbeat = asyncio.run(with_its_certificate(proxy))
            wrong = asyncio.run(refused(https_port, client("wrong", "ST3-SOMEONE-ELSE"), "127.0.0.32"))
            without = asyncio.run(refused(https_port, client("none", None), "127.0.0.33"))
    finally:
        stop_server(process)

    assert answer == {"status": "Accepted"}
    x509.load_pem_x509_certificate(station.certificate_pem.encode()).verify_directly_issued_by(ca.certificate)
    assert "currentTime" in heartbeat
    assert (wrong, without) == (403, 403)
    refusals = dict(
        ChargerEvent.objects.filter(charger=charger, kind=ChargerEvent.Kind.REFUSED).values_list(
            "remote_address", "message"
        )
    )
    assert set(refusals) == {"127.0.0.32", "127.0.0.33"}, "the station with its own certificate was not refused"
    assert refusals["127.0.0.32"] == (
        "client certificate refused: CN 'ST3-SOMEONE-ELSE' is not this charger's id or serial number "
        "(SIM-0001, ST3-NGINX)"
    )
    assert refusals["127.0.0.33"].startswith("client certificate refused: none presented")
