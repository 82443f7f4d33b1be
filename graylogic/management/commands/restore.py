"""`manage.py restore PATH`: put a backup made by `manage.py backup` back. Stop the server first."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from graylogic.backup import postgresql_restore, sqlite_restore


class Command(BaseCommand):
    help = "Replace the database's contents with a backup made by `manage.py backup`. Stop the server first."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive")

    def handle(self, *args, path: Path, interactive: bool, **options) -> None:
        if not path.is_file():
            raise CommandError(f"{path} is not a backup file")
        database = connection.settings_dict["NAME"]
        if interactive and input(f"Replace everything in {database} with {path}? Type 'yes': ") != "yes":
            raise CommandError("Restore cancelled.")
        connection.close()
        if connection.vendor == "sqlite":
            sqlite_restore(source=path, database=Path(database))
        elif connection.vendor == "postgresql":
            postgresql_restore(settings_dict=connection.settings_dict, source=path)
        else:
            raise CommandError(f"no restore for {connection.vendor} databases")
        self.stdout.write(f"Restored {database} from {path}")
