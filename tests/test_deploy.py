"""Running it for real (docs/deployment.md): the start-up warning about the development key,
backup of a live SQLite database and restore, pg_dump/pg_restore, bin/upgrade on a fresh
database, the systemd units."""

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.test import override_settings

from graylogic.checks import development_secret_key_check
from tests.conftest import ROOT, start_server, stop_server
from tests.database_outage import dedicated_database, make_chargers_in, manage
from tests.ocpp_client import eventually, open_socket
from tests.services import require_service
from tests.test_outage_database import meter_values

PASSWORD = "backup-test-password-1"

pytestmark = pytest.mark.django_db(transaction=True)

SAMPLES = "SELECT count(*) FROM charging_sessions_metersample"


@pytest.mark.parametrize(
    ("secret_key", "debug", "warned"),
    [
        (settings.DEVELOPMENT_SECRET_KEY, False, True),
        (settings.DEVELOPMENT_SECRET_KEY, True, False),  # development
        ("a-real-key-of-fifty-random-characters-0123456789abcdef", False, False),
    ],
)
def test_the_development_secret_key_is_warned_about_outside_debug(secret_key, debug, warned):
    with override_settings(SECRET_KEY=secret_key, DEBUG=debug):
        assert [m.id for m in development_secret_key_check(None)] == (["graylogic.W001"] if warned else [])


def _check_output(extra_env: dict[str, str]) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECRET_KEY", "DEBUG"))}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env={**env, **extra_env}, capture_output=True, text=True
    )
    return result.stdout + result.stderr


def test_manage_py_warns_at_start_when_the_secret_key_is_the_default():
    assert "graylogic.W001" in _check_output({})
    assert "graylogic.W001" not in _check_output({"SECRET_KEY": "a-real-key-of-fifty-random-characters-0123456789"})


def _migrated_sqlite(path: Path) -> str:
    url = f"sqlite:///{path}"
    manage(url, "migrate", "--noinput", "-v0")
    return url


def test_a_backup_of_a_live_sqlite_database_opens_and_holds_its_rows_and_restores(django_db_setup, tmp_path):
    url = _migrated_sqlite(tmp_path / "live.sqlite3")
    [(charger_id, _)] = make_chargers_in(url, {"password": PASSWORD})
    process, server = start_server(tmp_path, {"DATABASE_URL": url})
    live = sqlite3.connect(tmp_path / "live.sqlite3")
    stop = threading.Event()

    async def send_until_stopped() -> None:
        async with await open_socket(server, charger_id, password=PASSWORD) as ws:
            value = 0
            while not stop.is_set():
                await ws.send(meter_values(value))
                await ws.recv()
                value += 1

    charger = threading.Thread(target=asyncio.run, args=(send_until_stopped(),), daemon=True)
    charger.start()
    try:
        assert eventually(lambda: live.execute(SAMPLES).fetchone()[0] > 20, 10)
        manage(url, "backup", str(tmp_path / "backup.sqlite3"))  # while the charger keeps sending
        after_backup = live.execute(SAMPLES).fetchone()[0]
        assert eventually(lambda: live.execute(SAMPLES).fetchone()[0] > after_backup, 10)  # still writing
    finally:
        stop.set()
        charger.join(timeout=10)
        stop_server(process)

    backup = sqlite3.connect(tmp_path / "backup.sqlite3")
    assert backup.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    in_backup = backup.execute(SAMPLES).fetchone()[0]
    assert 20 < in_backup <= after_backup
    assert not (tmp_path / "backup.sqlite3-wal").exists()  # one self-contained file
    backup.close()

    live.execute("DELETE FROM charging_sessions_metersample")
    live.commit()
    manage(url, "restore", "--noinput", str(tmp_path / "backup.sqlite3"))
    assert live.execute(SAMPLES).fetchone()[0] == in_backup
    assert live.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_postgresql_backup_restores_with_pg_restore(django_db_setup, tmp_path):
    require_service("PostgreSQL", "127.0.0.1", 5432)
    with dedicated_database("backup") as (url, _):
        make_chargers_in(url, {}, {}, {})
        manage(url, "backup", str(tmp_path / "backup.dump"))
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("DELETE FROM energy_chargercontrol")
            db.execute("DELETE FROM chargers_charger")
            db.execute("DELETE FROM energy_site")
        manage(url, "restore", "--noinput", str(tmp_path / "backup.dump"))
        with psycopg.connect(url, autocommit=True) as db:
            assert db.execute("SELECT count(*) FROM chargers_charger").fetchone()[0] == 3


def test_bin_upgrade_migrates_a_fresh_database_with_the_services_settings(tmp_path):
    settings_file = tmp_path / "graylogic.env"  # as systemd's EnvironmentFile
    settings_file.write_text(f"DATABASE_URL=sqlite:///{tmp_path}/fresh.sqlite3\nSTATIC_ROOT={tmp_path}/static\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "STATIC_ROOT")}
    env["ENV_FILE"] = str(settings_file)
    result = subprocess.run([ROOT / "bin" / "upgrade"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "restart" in result.stdout
    plan = subprocess.run(
        [ROOT / "bin" / "manage", "showmigrations", "--plan"],
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    assert "[X]" in plan and "[ ]" not in plan
    assert (tmp_path / "static" / "admin").is_dir()


UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))


@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_the_systemd_units_verify(unit, tmp_path):
    """systemd-analyze checks every directive and that the commands exist: the units' paths are
    pointed at this checkout (/opt/graylogic in production)."""
    text = unit.read_text().replace("/opt/graylogic", str(ROOT)).replace("/etc/graylogic/graylogic.env", "-/dev/null")
    assert "Restart=on-failure" in text and "User=graylogic" in text
    local = tmp_path / unit.name
    local.write_text(text)
    verify = shutil.which("systemd-analyze")
    if verify is None and os.environ.get("CI") == "true":
        pytest.fail("systemd-analyze is missing (apt-get install systemd)")
    if verify is None:
        return
    target = local if "@" not in unit.name else local.rename(tmp_path / unit.name.replace("@", "@9001"))
    result = subprocess.run([verify, "verify", str(target)], capture_output=True, text=True)
    # It warns (exit status 0) about unknown keys and bad values: any output is a mistake.
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
