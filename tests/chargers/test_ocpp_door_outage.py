"""A charger's handshake while the database is down: refused with an HTTP status (403: daphne
cannot send a 503 to a WebSocket), the outage logged once, no traceback, and the next handshake
after the database is back accepted without a restart. Before: a traceback per handshake and
no HTTP answer at all.

The outage is real and bounded: a PostgreSQL database of this test's own refuses connections
and has its open ones cut for the few handshakes in the block (on both suite runs, since SQLite
has no outage to provoke)."""

import asyncio
import contextlib
import os
import subprocess
import sys

import psycopg
import websockets

from tests.conftest import ROOT, start_server, stop_server
from tests.ocpp_client import TIMEOUT_S, eventually, open_socket
from tests.services import require_service

POSTGRES = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test").rsplit("/", 1)[0]
PASSWORD = "door-outage-password-1"
HANDSHAKES_DURING_OUTAGE = 20


def _admin() -> psycopg.Connection:
    return psycopg.connect(f"{POSTGRES}/postgres", autocommit=True, connect_timeout=5)


@contextlib.contextmanager
def dedicated_database():
    name = f"graylogic_door_outage_{os.getpid()}"
    with _admin() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield name
    finally:
        with _admin() as admin:
            admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def database_down(name: str):
    """New connections refused and open ones cut, until the block ends (whatever happens in it)."""
    with _admin() as admin:
        admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])
        try:
            yield
        finally:
            admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")


def manage(url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout


async def handshake_status(server, charge_point_id: str) -> int:
    """101 when accepted; the refusal's HTTP status otherwise (any other failure raises)."""
    try:
        ws = await open_socket(server, charge_point_id, password=PASSWORD)
    except websockets.InvalidStatus as refused:
        return refused.response.status_code
    await asyncio.wait_for(ws.close(), TIMEOUT_S)
    return 101


def test_a_handshake_during_a_database_outage_is_refused_cleanly_and_accepted_after(django_db_setup, tmp_path):
    require_service("PostgreSQL", "127.0.0.1", 5432)
    with dedicated_database() as name:
        url = f"{POSTGRES}/{name}"
        manage(url, "migrate", "--noinput", "-v0")
        charger_id = manage(
            url,
            "shell",
            "-v0",
            "-c",
            f"from tests.factories import make_charger; print(make_charger(password={PASSWORD!r}).charge_point_id)",
        ).split()[-1]
        process, server = start_server(tmp_path, {"DATABASE_URL": url})
        try:
            assert asyncio.run(handshake_status(server, charger_id)) == 101
            logged_before = len(server.log_path.read_text().splitlines())

            async def during_the_outage() -> list[int]:
                return [await handshake_status(server, charger_id) for _ in range(HANDSHAKES_DURING_OUTAGE)]

            with database_down(name):
                statuses = asyncio.run(during_the_outage())
            assert statuses == [403] * HANDSHAKES_DURING_OUTAGE

            assert asyncio.run(handshake_status(server, charger_id)) == 101
            log = server.log_path.read_text().splitlines()[logged_before:]
            assert not any("Traceback" in line for line in log), "\n".join(log[:40])
            assert len([line for line in log if "database (charger handshakes) unavailable" in line]) == 1
            assert eventually(lambda: "database (charger handshakes) available again" in server.log_path.read_text())
            assert process.poll() is None
        finally:
            stop_server(process)
