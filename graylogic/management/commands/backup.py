"""`manage.py backup PATH`: a consistent copy of the database, safe while the server runs."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from graylogic.backup import postgresql_dump, sqlite_backup


class Command(BaseCommand):
    help = "Write a backup of the database to PATH (SQLite: a database file; PostgreSQL: a pg_dump archive)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path)

    def handle(self, *args, path: Path, **options) -> None:
        if connection.vendor == "sqlite":
            sqlite_backup(database=Path(connection.settings_dict["NAME"]), target=path)
        elif connection.vendor == "postgresql":
            postgresql_dump(settings_dict=connection.settings_dict, target=path)
        else:
            raise CommandError(f"no backup for {connection.vendor} databases")
        self.stdout.write(f"Backup written to {path}")
