"""Write the chargers and energy settings as YAML that import_config reads back without changes."""

from pathlib import Path

import yaml
from django.core.management.base import BaseCommand, CommandError

from energy.configuration import ConfigError, config_file_export
from energy.models import Site


class Command(BaseCommand):
    help = (
        "Export the site, its chargers (ocpp:) and its energy settings (energy: and the spec's blocks) "
        "as YAML, to FILE or standard output."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", nargs="?", help="Write here instead of standard output.")
        parser.add_argument("--site", help="Name of the site to export, when there are several.")

    def handle(self, *args, file: str | None, site: str | None, **options) -> None:
        chosen = None
        if site is not None:
            chosen = Site.objects.filter(name=site).first()
            if chosen is None:
                raise CommandError(f"no site named {site!r}")
        try:
            data = config_file_export(site=chosen)
        except ConfigError as exc:
            raise CommandError(f"{exc} (--site NAME)") from exc
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        if file is None:
            self.stdout.write(text, ending="")
            return
        try:
            Path(file).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot write {file}: {exc.strerror or exc}") from exc
        energy = [key for key in data if key not in ("site", "ocpp")]
        also = f" and {', '.join(energy)}" if energy else ""
        self.stdout.write(f"Wrote {len(data['ocpp']['chargers'])} chargers{also} to {file}.")
