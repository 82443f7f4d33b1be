"""Replay a scenario's day through energy control on a simulated clock (issue 28's contract):
a trace CSV, and with --summary the day's figures beside the optimum.

It never touches the server's database: it runs itself again in a sub-process whose
DATABASE_URL is a throwaway SQLite file, migrated, filled from the scenario's config."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.test.utils import override_settings

from energy.simulation.day import day_simulate
from energy.simulation.scenario import ScenarioError, scenario_parse
from energy.simulation.summary import day_summary_of
from energy.simulation.trace import trace_write

# Set in the sub-process only: the database it sees is its own throwaway one.
THROWAWAY_DB_ENV = "GRAYLOGIC_ENERGY_DAY_DB"
IN_MEMORY_LAYER = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


class Command(BaseCommand):
    help = "Simulate a scenario's day through energy control; write its trace (CSV) and optionally a summary (JSON)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("scenario", help="Scenario JSON (docs/energy.md, 'Energy days').")
        parser.add_argument("--out", required=True, help="Trace CSV to write.")
        parser.add_argument("--summary", help="Summary JSON to write.")

    def handle(self, *args, scenario: str, out: str, summary: str | None, **options) -> None:
        try:
            data = json.loads(Path(scenario).read_text(encoding="utf-8"))
            parsed = scenario_parse(data)
        except OSError as error:
            raise CommandError(f"cannot read {scenario}: {error.strerror or error}") from error
        except json.JSONDecodeError as error:
            raise CommandError(f"{scenario} is not valid JSON: {error}") from error
        except ScenarioError as error:
            raise CommandError(f"{scenario} has errors:\n" + "\n".join(f"  {e}" for e in error.errors)) from error
        if os.environ.get(THROWAWAY_DB_ENV) != settings.DATABASES["default"]["NAME"]:
            self._in_throwaway_db(scenario, out, summary)
            return
        # Tables straight from the models, as Django's test runner does with MIGRATE off: the
        # migrations' own data steps have nothing to do in an empty database, and replaying
        # them all took longer than most days.
        with override_settings(MIGRATION_MODULES=dict.fromkeys(app.label for app in apps.get_app_configs())):
            call_command("migrate", run_syncdb=True, verbosity=0, interactive=False)
        with override_settings(CHANNEL_LAYERS=IN_MEMORY_LAYER):
            try:
                result = day_simulate(parsed)
            except ScenarioError as error:
                raise CommandError(f"{scenario}: " + "; ".join(error.errors)) from error
        with Path(out).open("w", encoding="utf-8", newline="") as stream:
            trace_write(stream, result.charger_ids, result.rows)
        if summary:
            figures = day_summary_of(parsed, result)
            Path(summary).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        self.stdout.write(f"{parsed.name}: {len(result.rows)} steps written to {out}")

    def _in_throwaway_db(self, scenario: str, out: str, summary: str | None) -> None:
        with tempfile.TemporaryDirectory(prefix="energy-day-") as folder:
            db_file = Path(folder) / "day.sqlite3"
            env = {
                **os.environ,
                "DATABASE_URL": f"sqlite:///{db_file}",
                THROWAWAY_DB_ENV: str(db_file),
                "REDIS_URL": "",
                "EMBEDDED_JOBS": "false",
                "MQTT_EMBEDDED": "false",
            }
            argv = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "energy_day", scenario, "--out", out]
            argv += ["--summary", summary] if summary else []
            done = subprocess.run(argv, env=env, check=False, capture_output=True, text=True)
        if done.returncode:
            # Its own CommandError (a config the import refused, say) is the reason; else its traceback.
            said = [line for line in done.stderr.splitlines() if line.startswith("CommandError: ")]
            raise CommandError(said[-1].removeprefix("CommandError: ") if said else done.stderr[-4000:])
        self.stdout.write(done.stdout.strip().splitlines()[-1])  # its last word: what it wrote where
