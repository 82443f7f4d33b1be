"""Fill a fresh benchmark database with sites and chargers, fast (bulk_create).

Run by ocpp_bench.py after `manage.py migrate`, with DATABASE_URL pointing at the benchmark
database (never the real one):

    DATABASE_URL=sqlite:////tmp/x/bench.sqlite3 DJANGO_SETTINGS_MODULE=graylogic.settings \\
        .venv/bin/python bench/seed_db.py --chargers 2000 --chargers-per-site 0

Chargers are BENCH00000, BENCH00001, ... with no password (they connect without credentials,
as the product allows when none is configured).
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "graylogic.settings")


def charge_point_id(i: int) -> str:
    return f"BENCH{i:05d}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chargers", type=int, required=True)
    parser.add_argument("--chargers-per-site", type=int, default=0, help="0: every charger on one site (the default)")
    args = parser.parse_args()
    if "bench" not in os.environ.get("DATABASE_URL", ""):
        sys.exit("refusing to seed: DATABASE_URL must name a benchmark database")

    import django

    django.setup()
    from django.db import transaction

    from chargers.models import Charger
    from energy.models import Site

    per_site = args.chargers_per_site or args.chargers
    site_count = -(-args.chargers // per_site)
    with transaction.atomic():
        Site.objects.bulk_create([Site(name=f"Bench site {s:05d}") for s in range(site_count)], batch_size=500)
        sites = list(Site.objects.filter(name__startswith="Bench site ").order_by("name"))
        Charger.objects.bulk_create(
            [
                Charger(charge_point_id=charge_point_id(i), name=charge_point_id(i), site=sites[i // per_site])
                for i in range(args.chargers)
            ],
            batch_size=500,
        )
    print(f"seeded {site_count} site(s), {args.chargers} charger(s)")


if __name__ == "__main__":
    main()
