"""Shared fixtures. `live_server` runs the real product (`manage.py serve`, i.e. daphne) in a
subprocess on the test database, so tests talk to it over real sockets."""

import asyncio
import functools
import os
import resource
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections

ROOT = Path(__file__).resolve().parent.parent
# The live server reads this charger password from its environment (password_env).
ENV_PASSWORD_VAR = "GRAYLOGIC_TEST_CHARGER_PW"
ENV_PASSWORD = "from-the-environment-123"
# Tests start cars seconds after a boot; a real site's profile pacing (a minute between two
# profiles) would make each wait. Servers the tests start inherit this; the in-process settings
# are set by `_no_profile_pacing`, and a test of the pacing itself asks for `profile_pacing`.
os.environ["ENERGY_PROFILE_PACING"] = "false"


def pytest_sessionstart(session) -> None:
    """Django removes an old SQLite test database file but not its WAL files; a stale WAL
    next to a new database file gives "disk I/O error"."""
    from django.conf import settings

    test_name = settings.DATABASES["default"].get("TEST", {}).get("NAME")
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") and test_name:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{test_name}{suffix}").unlink(missing_ok=True)


@pytest.fixture(autouse=True)
def _no_profile_pacing(settings):
    settings.ENERGY_PROFILE_PACING = False


@pytest.fixture
def profile_pacing(settings, monkeypatch):
    """Pacing as a real site has it, here and in any server or sub-process the test starts."""
    settings.ENERGY_PROFILE_PACING = True
    monkeypatch.setenv("ENERGY_PROFILE_PACING", "true")


@pytest.fixture(autouse=True, scope="session")
def _flush_retries_on_deadlock():
    """The live server may still be finishing a previous test's background work (a rebalance)
    when PostgreSQL truncates the tables between tests; a deadlock there is the test harness's
    race, not the product's, so the flush is retried."""
    from django.core.management.commands import flush

    original = flush.Command.handle

    def handle_with_retries(self, *args, **options):
        for attempt in range(5):
            try:
                return original(self, *args, **options)
            except Exception as error:  # CommandError wrapping the deadlock
                if attempt == 4 or "deadlock" not in str(getattr(error, "__cause__", error)).lower():
                    raise
                time.sleep(0.5)

    flush.Command.handle = handle_with_retries
    yield
    flush.Command.handle = original


@pytest.fixture(autouse=True, scope="session")
def _close_the_thread_sensitive_threads_connection(django_db_setup):
    """Product code run in this process (consumers, event rebalances) queries the database in
    asgiref's one thread for thread-sensitive code, which outlives every test: its connection,
    left open, keeps PostgreSQL from dropping the test database at the end of the run."""
    yield
    asyncio.run(sync_to_async(connections.close_all)())


@dataclass(frozen=True)
class LiveServer:
    http_url: str
    ws_url: str
    log_path: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    if connection.vendor == "postgresql":
        auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
        return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    raise RuntimeError(f"no live server support for {connection.vendor}")


def start_server(
    tmp_dir: Path,
    extra_env: dict[str, str] | None = None,
    scheme: str = "http",
    *,
    healthy: bool = True,
    file_descriptors: int | None = None,
) -> tuple[subprocess.Popen, LiveServer]:
    """`manage.py serve` on a free port, up once /healthz answers 200 (with healthy=False: once
    it answers at all, for a node meant to be unhealthy); file_descriptors sets its `ulimit -n`."""
    port = _free_port()
    log_path = tmp_dir / f"server-{port}.log"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        ENV_PASSWORD_VAR: ENV_PASSWORD,
        "OCPP_MAX_FRAME_BYTES": "65536",
        # Control runs on events in these tests; a frequent scheduled run would only race the
        # database flush between tests.
        "ENERGY_CONTROL_TICK": "3600",
        "LOG_LEVEL": "INFO",
        **(extra_env or {}),
    }
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=None if file_descriptors is None else functools.partial(_limit_file_descriptors, file_descriptors),
    )
    ws_scheme = "wss" if scheme == "https" else "ws"
    server = LiveServer(f"{scheme}://127.0.0.1:{port}", f"{ws_scheme}://127.0.0.1:{port}", log_path)
    # The health check only asks whether it answers; a test's self-signed certificate is fine.
    unverified = ssl._create_unverified_context() if scheme == "https" else None
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{server.http_url}/healthz", timeout=1, context=unverified)
            return process, server
        except urllib.error.HTTPError:
            if not healthy:
                return process, server
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"live server did not start:\n{log_path.read_text()}")
        time.sleep(0.1)


def _limit_file_descriptors(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def ocpp_server(django_db_setup, django_db_blocker, tmp_path_factory):
    process, server = start_server(tmp_path_factory.mktemp("live"))
    yield server
    stop_server(process)
