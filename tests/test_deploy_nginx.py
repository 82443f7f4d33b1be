"""deploy/nginx/graylogic.conf: nginx accepts it, and a charger and a load balancer's health
check reach a live server through it over TLS (ports and certificate swapped for the test's)."""

import asyncio
import os
import re
import shutil
import ssl
import subprocess
import time
import urllib.request

import pytest
import websockets

from tests.conftest import ROOT, _free_port
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


def test_the_nginx_proxy_passes_chargers_and_health_checks_over_tls(ocpp_server, tmp_path):
    _require_nginx()
    upstream_port = int(ocpp_server.http_url.rsplit(":", 1)[1])
    https_port = _free_port()
    config = tmp_path / "nginx.conf"
    site = _site_config(tmp_path, upstream_port=upstream_port, http_port=_free_port(), https_port=https_port)
    config.write_text(site)
    check = subprocess.run([NGINX, "-t", "-c", str(config), "-p", str(tmp_path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr

    charger = make_charger(password="through-the-proxy-1")
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
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
