"""What one energy-control run costs: queries, writes and milliseconds per site.

Not a test: prints figures. At 10,000 chargers on 1,000 sites every site is re-decided once a
minute, plus a run per event, in the same process that answers the chargers; this measures
that work alone, in-process, on a fresh SQLite database in a temp dir:

    .venv/bin/python bench/control_bench.py --sites 1000 --chargers-per-site 10

Every charger is connected with its connector `Charging`; `--sessions` of them (a fraction)
have a running session with power and current samples; each site has a recent main-meter
reading and `--readings-per-site` in all (the history a real site keeps). Chargers answer every
SetChargingProfile with Accepted at once (the channel layer is replaced by a stub: the socket
path is measured by ocpp_bench.py). Two passes of `control_tick`: the first decides every
charger for the first time and sends profiles, the second (the steady state, run once a minute
for ever) finds nothing changed. A third pass runs each site on its own, as an event (a
charger's boot, a change in its draw) asks for.
"""

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--chargers-per-site", type=int, default=10)
    parser.add_argument("--sessions", type=float, default=0.5, help="fraction of chargers with a running session")
    parser.add_argument(
        "--readings-per-site",
        type=int,
        default=1,
        help="main-meter readings each site has kept, one every 5 s (a day at 5 s is 17,280)",
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="control-bench-"))
    os.environ.update(
        DATABASE_URL=f"sqlite:///{tmp}/bench-control.sqlite3",
        DJANGO_SETTINGS_MODULE="graylogic.settings",
        DEBUG="false",
        LOG_LEVEL="ERROR",
        # The server's own tick pauses after each batch (energy/tasks.py); this times the work.
        EMBEDDED_JOBS="false",
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from chargers.models import Charger, Connector
    from energy import sending
    from energy.models import ChargerControl, EnergyReading, Site
    from energy.tasks import control_tick, rebalance_site
    from sessions.models import ChargingSession, MeterSample

    call_command("migrate", verbosity=0)
    now = timezone.now()
    chargers_total = args.sites * args.chargers_per_site
    started = time.monotonic()
    with transaction.atomic():
        Site.objects.bulk_create([Site(name=f"Bench site {s:05d}") for s in range(args.sites)])
        sites = list(Site.objects.order_by("pk"))
        Charger.objects.bulk_create(
            Charger(
                charge_point_id=f"BENCH{i:05d}",
                name=f"BENCH{i:05d}",
                site=sites[i // args.chargers_per_site],
                is_connected=True,
            )
            for i in range(chargers_total)
        )
        chargers = list(Charger.objects.order_by("pk"))
        # bulk_create skips Charger.save(), which gives each charger its control record.
        ChargerControl.objects.bulk_create(ChargerControl(charger=c) for c in chargers)
        Connector.objects.bulk_create(Connector(charger=c, connector_id=1, status="Charging") for c in chargers)
        EnergyReading.objects.bulk_create(
            (
                EnergyReading(
                    site=s,
                    measured_at=now - dt.timedelta(seconds=5 * k),
                    grid_l1_a=20.0,
                    grid_l2_a=20.0,
                    grid_l3_a=20.0,
                )
                for s in sites
                for k in range(args.readings_per_site)
            ),
            batch_size=2000,
        )
        with_session = chargers[:: max(1, round(1 / args.sessions))] if args.sessions else []
        ChargingSession.objects.bulk_create(
            ChargingSession(charger=c, connector_id=1, started_at=now - dt.timedelta(hours=1), meter_start_wh=0)
            for c in with_session
        )
        samples = []
        for session in ChargingSession.objects.all():
            for k in range(10):
                at = now - dt.timedelta(seconds=10 * k)
                for measurand, value, unit in (("Power.Active.Import", 7200, "W"), ("Current.Import", 31.3, "A")):
                    samples.append(
                        MeterSample(
                            charger_id=session.charger_id,
                            connector_id=1,
                            session=session,
                            timestamp=at,
                            measurand=measurand,
                            value=value,
                            unit=unit,
                        )
                    )
        MeterSample.objects.bulk_create(samples, batch_size=2000)
    print(
        f"seeded {args.sites} sites, {chargers_total} chargers, {len(with_session)} running sessions, "
        f"{args.readings_per_site} readings a site "
        f"in {time.monotonic() - started:.1f} s ({tmp})"
    )

    sent = []

    async def accept(**command):
        sent.append(command["call"].action)
        return {"status": "Accepted"}

    sending.charger_call = accept
    statements = {"reads": 0, "writes": 0}

    def count(execute, sql, params, many, context):
        statements["reads" if sql.lstrip().upper().startswith("SELECT") else "writes"] += 1
        return execute(sql, params, many, context)

    print(f"{'pass':<28}{'runs':>6}{'ms/run':>9}{'runs/s':>9}{'reads/run':>11}{'writes/run':>12}{'profiles':>10}")

    def each_site_alone() -> int:
        for pk in Site.objects.values_list("pk", flat=True):
            rebalance_site(pk, "event")
        return args.sites

    passes = (
        ("first (all decisions new)", control_tick),
        ("steady (nothing changed)", control_tick),
        ("event (one site a run)", each_site_alone),
    )
    for label, run_pass in passes:
        Site.objects.update(last_rebalanced_at=None)
        statements.update(reads=0, writes=0)
        sent.clear()
        with connection.execute_wrapper(count):
            started = time.perf_counter()
            runs = run_pass()
            elapsed = time.perf_counter() - started
        print(
            f"{label:<28}{runs:>6}{1000 * elapsed / runs:>9.2f}{runs / elapsed:>9.0f}"
            f"{statements['reads'] / runs:>11.1f}{statements['writes'] / runs:>12.1f}{len(sent):>10}"
        )


if __name__ == "__main__":
    main()
