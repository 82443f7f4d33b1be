"""How much disk one charger costs per year on PostgreSQL, raw samples for the retention's 90
days and 15-minute aggregates for the rest (issue 25 item 12). Prints figures, not a test.

    .venv/bin/python bench/retention_bench.py --postgres-url postgres://postgres@127.0.0.1:5432/postgres

It creates a database `retention_bench_<pid>` on that server (127.0.0.1 only), migrates it, seeds
`--hours` of charging for one charger at the product's default metering (MeterValueSampleInterval
60 s; Energy.Active.Import.Register, Power.Active.Import and Current.Import, per phase on a
three-phase charger: chargers/profiles.py), measures the samples table
(pg_total_relation_size, after VACUUM ANALYZE), runs the pruning job as if 91 days had passed,
measures the aggregates table, and drops the database at the end (even after Ctrl-C).
"""

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "graylogic.settings")

SAMPLE_INTERVAL = dt.timedelta(seconds=60)  # chargers/profiles.py WANTED_SAMPLE_INTERVAL_S
RAW_DAYS = 90


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    if parts.hostname not in {"127.0.0.1", "localhost"}:
        sys.exit("refusing: the benchmark runs against 127.0.0.1 only")
    return urlunsplit(parts._replace(path=f"/{name}"))


def table_bytes(cursor, table: str) -> int:
    cursor.execute(f"VACUUM ANALYZE {table}")
    cursor.execute("SELECT pg_total_relation_size(%s)", [table])
    return cursor.fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--postgres-url", help="a server on 127.0.0.1; its maintenance database")
    where.add_argument("--sqlite", action="store_true", help="a SQLite file in a temp dir: batch times only")
    parser.add_argument("--hours", type=int, default=72, help="hours of charging to seed (default 72)")
    parser.add_argument("--phases", type=int, choices=[1, 3], default=3)
    parser.add_argument("--charging-hours-per-day", type=float, nargs="*", default=[3.0, 24.0])
    args = parser.parse_args()
    if args.sqlite:
        with tempfile.TemporaryDirectory(prefix="retention-bench-") as tmp:
            os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
            measure(args)
        return

    import psycopg

    name = f"retention_bench_{os.getpid()}"
    admin_url = with_database(args.postgres_url, urlsplit(args.postgres_url).path.lstrip("/") or "postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        os.environ["DATABASE_URL"] = with_database(args.postgres_url, name)
        os.environ["CONN_MAX_AGE"] = "0"
        measure(args)
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name}")


def measure(args) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from chargers.models import Charger
    from energy.models import Site
    from sessions.models import ChargingSession, MeterSample
    from sessions.pruning import retention_prune
    from sessions.retention import Batching, bucket_start

    call_command("migrate", verbosity=0)
    site = Site.objects.create(name="Bench", time_zone="Europe/London")
    charger = Charger.objects.create(site=site, charge_point_id="RETENTION1", phases=args.phases, max_power_w=11000)
    start = bucket_start(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    end = start + dt.timedelta(hours=args.hours)
    session = ChargingSession.objects.create(
        charger=charger, connector_id=1, started_at=start, stopped_at=end, meter_start_wh=0, meter_stop_wh=0
    )
    phases = ["L1", "L2", "L3"] if args.phases == 3 else [""]
    minutes = int((end - start) / SAMPLE_INTERVAL)
    rows = []
    for k in range(minutes):
        at = start + k * SAMPLE_INTERVAL
        common = {"charger": charger, "connector_id": 1, "session": session, "reported_transaction_id": session.pk}
        common.update(timestamp=at, context="Sample.Periodic", location="Outlet")
        rows.append(MeterSample(**common, measurand="Energy.Active.Import.Register", unit="Wh", value=183.3 * k))
        rows.append(MeterSample(**common, measurand="Power.Active.Import", unit="W", value=11000.0 - k % 7))
        rows += [MeterSample(**common, measurand="Current.Import", phase=p, unit="A", value=15.9) for p in phases]
    if connection.vendor == "sqlite":
        MeterSample.objects.bulk_create(rows, batch_size=5000)
        print(f"SQLite {connection.Database.sqlite_version}; {len(rows):,} raw samples")
        print_batch_times(before=end + dt.timedelta(minutes=15))
        return
    with connection.cursor() as cursor:
        empty_raw = table_bytes(cursor, "charging_sessions_metersample")
        MeterSample.objects.bulk_create(rows, batch_size=5000)
        raw = table_bytes(cursor, "charging_sessions_metersample") - empty_raw
        empty_aggregates = table_bytes(cursor, "charging_sessions_metersampleaggregate")
        print_batch_times(before=end - dt.timedelta(hours=args.hours // 2))  # half the samples, batch by batch
        pruned = retention_prune(
            now=end + dt.timedelta(days=RAW_DAYS + 1), batching=Batching(size=5000, batches=len(rows))
        )
        aggregates = table_bytes(cursor, "charging_sessions_metersampleaggregate") - empty_aggregates
        cursor.execute("SELECT count(*) FROM charging_sessions_metersampleaggregate")
        aggregate_rows = cursor.fetchone()[0]
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0].split(",")[0]
    assert MeterSample.objects.count() == 0, pruned

    raw_per_hour, aggregates_per_hour = raw / args.hours, aggregates / args.hours
    print(f"{version}; {args.phases}-phase charger, a sample set every {SAMPLE_INTERVAL.seconds} s")
    print(f"{args.hours} h of charging: {len(rows):,} raw samples, {raw / 1e6:.2f} MB (table and indexes)")
    print(f"  as 15-minute aggregates: {aggregate_rows:,} rows, {aggregates / 1e6:.3f} MB")
    print(f"  per charging hour: raw {raw_per_hour / 1e3:.1f} kB, aggregated {aggregates_per_hour / 1e3:.2f} kB")
    for hours_a_day in args.charging_hours_per_day:
        keep_raw = RAW_DAYS * hours_a_day * raw_per_hour
        rest = (365 - RAW_DAYS) * hours_a_day * aggregates_per_hour
        every_year = 365 * hours_a_day * aggregates_per_hour
        print(
            f"  charging {hours_a_day:g} h a day: first year {(keep_raw + rest) / 1e6:.0f} MB "
            f"(raw 90 days {keep_raw / 1e6:.0f} MB + aggregates {rest / 1e6:.1f} MB), "
            f"then +{every_year / 1e6:.1f} MB a year"
        )


def print_batch_times(*, before: dt.datetime) -> None:
    """How long one batch (5,000 samples aggregated and deleted in one transaction) holds the
    database: what a charger's insert may wait behind."""
    from sessions.pruning import samples_prune
    from sessions.retention import Batching

    times_ms = []
    while True:
        started = time.perf_counter()
        if not samples_prune(before=before, batching=Batching(size=5000, batches=1)):
            break
        times_ms.append((time.perf_counter() - started) * 1000)
    print(
        f"  one batch of 5,000 samples (read, aggregate, delete): median {statistics.median(times_ms):.0f} ms, "
        f"longest {max(times_ms):.0f} ms over {len(times_ms)} batches"
    )


if __name__ == "__main__":
    main()
