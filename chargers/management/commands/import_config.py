"""Load an installer's YAML into the database: the spec's ocpp.yaml ("OCPP Bridge Configuration"),
its `energy:` section and the load_balancing, solar_charging, tou_charging and grid_response blocks."""

from pathlib import Path

import yaml
from django.core.management.base import BaseCommand, CommandError

from energy.configuration import ConfigError, config_file_import


class Command(BaseCommand):
    help = (
        "Create or update the site, chargers and energy settings described by a YAML file (ocpp:, "
        "energy: and the load_balancing / solar_charging / tou_charging / grid_response blocks, in any "
        "combination). Keys left out and chargers not in the file are left as they are; on any error "
        "nothing is changed."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="Path to the YAML file.")

    def handle(self, *args, file: str, **options) -> None:
        try:
            # From the open file, so YAML errors name it with the line and column.
            with Path(file).open(encoding="utf-8") as stream:
                data = yaml.safe_load(stream)
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{file} is not UTF-8 text; nothing was changed.") from exc
        except yaml.YAMLError as exc:
            raise CommandError(f"{file} is not valid YAML; nothing was changed.\n{exc}") from exc
        if data is None:
            raise CommandError(f"{file} is empty; nothing was changed.")
        try:
            report = config_file_import(data=data)
        except ConfigError as exc:
            problems = "\n".join(f"  {error}" for error in exc.errors)
            raise CommandError(f"{file} has errors; nothing was changed.\n{problems}") from exc
        for line in report.lines():
            style = self.style.WARNING if line.startswith("warning:") else str
            self.stdout.write(style(line))
