"""Real, bounded database outages for live-server tests: a PostgreSQL database of the test's
own (on both suite runs, since SQLite has no outage to provoke) that refuses new connections
and has its open ones cut for the length of a block."""

import contextlib
import os
import subprocess
import sys

import psycopg

from tests.conftest import ROOT

POSTGRES = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test").rsplit("/", 1)[0]


def _admin() -> psycopg.Connection:
    return psycopg.connect(f"{POSTGRES}/postgres", autocommit=True, connect_timeout=5)


@contextlib.contextmanager
def dedicated_database(purpose: str):
    """A migrated database of this test's own; yields its URL and name."""
    name = f"graylogic_{purpose}_{os.getpid()}"
    with _admin() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    try:
        url = f"{POSTGRES}/{name}"
        manage(url, "migrate", "--noinput", "-v0")
        yield url, name
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


def make_chargers_in(url: str, *chargers: dict) -> list[tuple[str, int]]:
    """Chargers made the way the tests make them (one process: the factories number their rows
    per process), in that database: each one's id and primary key."""
    code = (
        "from tests.factories import make_charger\n"
        f"for fields in {list(chargers)!r}:\n"
        "    c = make_charger(**fields); print(c.charge_point_id, c.pk)"
    )
    lines = manage(url, "shell", "-v0", "-c", code).split("\n")
    return [(charge_point_id, int(pk)) for charge_point_id, pk in (line.split() for line in lines if line)]
