"""Backup and restore of the database, for `manage.py backup` and `manage.py restore`.

SQLite (the embedded default): SQLite's online backup API copies a consistent snapshot while
the server keeps writing (in WAL mode its writes do not wait for the copy). PostgreSQL:
pg_dump's custom format, restored with pg_restore."""

import contextlib
import os
import sqlite3
import subprocess
from pathlib import Path


def sqlite_backup(*, database: Path, target: Path) -> None:
    """Copy a whole SQLite database, consistently, to the file `target` (replaced only once
    complete, and one self-contained file: no -wal beside it). One step: copied in several, a
    write between them would restart the copy."""
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    with contextlib.closing(sqlite3.connect(database)) as src, contextlib.closing(sqlite3.connect(partial)) as dst:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
    for suffix in ("-wal", "-shm"):
        target.with_name(target.name + suffix).unlink(missing_ok=True)
    os.replace(partial, target)


def sqlite_restore(*, source: Path, database: Path) -> None:
    """Write a backup's pages into the database file itself: replacing the file would leave its
    -wal beside it, whose pages SQLite would then apply to the restored one."""
    with contextlib.closing(sqlite3.connect(source)) as src, contextlib.closing(sqlite3.connect(database)) as dst:
        src.backup(dst)


def _libpq(settings_dict: dict) -> tuple[list[str], dict[str, str]]:
    """pg_dump/pg_restore arguments and environment for a Django PostgreSQL database."""
    args = ["--dbname", settings_dict["NAME"]]
    if settings_dict.get("HOST"):
        args += ["--host", settings_dict["HOST"]]
    if settings_dict.get("PORT"):
        args += ["--port", str(settings_dict["PORT"])]
    if settings_dict.get("USER"):
        args += ["--username", settings_dict["USER"]]
    env = {**os.environ}
    if settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = settings_dict["PASSWORD"]
    return args, env


def postgresql_dump(*, settings_dict: dict, target: Path) -> None:
    args, env = _libpq(settings_dict)
    subprocess.run(["pg_dump", "--format=custom", "--file", str(target), *args], env=env, check=True)


def postgresql_restore(*, settings_dict: dict, source: Path) -> None:
    """Replaces what the dump holds (--clean); objects owned by another role are kept as theirs."""
    args, env = _libpq(settings_dict)
    subprocess.run(
        ["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction", *args, str(source)],
        env=env,
        check=True,
    )
