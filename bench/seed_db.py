"""Fill a fresh benchmark database with sites and chargers, fast (bulk_create).

Run by ocpp_bench.py after `manage.py migrate`, with DATABASE_URL pointing at the benchmark
database (never the real one):

    DATABASE_URL=sqlite:////tmp/x/bench.sqlite3 DJANGO_SETTINGS_MODULE=graylogic.settings \\
        .venv/bin/python bench/seed_db.py --chargers 2000 --chargers-per-site 0

Chargers are BENCH00000, BENCH00001, ... with no password (they connect without credentials,
as the product allows when none is configured).

For `--mode p3` the harness adds the energy-control set-up: each site's main fuse
(`--main-fuse-a`) and rebalance rate limit (`--min-interval-s`, 0 = a run per reading),
three-phase chargers of `--charger-max-w` that accept any idTag, and `--api-token KEY`: a
staff user `bench-api` (no password, sees every site) holding that REST API token.
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "graylogic.settings")

API_USER = "bench-api"


def charge_point_id(i: int) -> str:
    return f"BENCH{i:05d}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chargers", type=int, required=True)
    parser.add_argument("--chargers-per-site", type=int, default=0, help="0: every charger on one site (the default)")
    parser.add_argument("--main-fuse-a", type=int, help="sites' main fuse per phase (default: the model's, 63 A)")
    parser.add_argument("--min-interval-s", type=int, help="sites' rebalance rate limit (default: the model's, 10 s)")
    parser.add_argument("--charger-phases", type=int, choices=[1, 3], help="default: the model's (1)")
    parser.add_argument("--charger-max-w", type=int, help="default: the model's (7,400 W)")
    parser.add_argument("--accept-any-id-tag", action="store_true", help="chargers authorize every idTag")
    parser.add_argument("--api-token", help="create staff user bench-api with this REST API token (40 hex digits)")
    args = parser.parse_args()
    if "bench" not in os.environ.get("DATABASE_URL", ""):
        sys.exit("refusing to seed: DATABASE_URL must name a benchmark database")

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from rest_framework.authtoken.models import Token

    from chargers.models import Charger
    from energy.models import ChargerControl, Site

    site_fields = {}
    if args.main_fuse_a is not None:
        site_fields["circuit_limit_a"] = args.main_fuse_a
    if args.min_interval_s is not None:
        site_fields["min_interval_s"] = args.min_interval_s
    charger_fields = {}
    if args.charger_phases is not None:
        charger_fields["phases"] = args.charger_phases
    if args.charger_max_w is not None:
        charger_fields["max_power_w"] = args.charger_max_w
    if args.accept_any_id_tag:
        charger_fields["accept_any_id_tag"] = True

    per_site = args.chargers_per_site or args.chargers
    site_count = -(-args.chargers // per_site)
    with transaction.atomic():
        Site.objects.bulk_create(
            [Site(name=f"Bench site {s:05d}", **site_fields) for s in range(site_count)], batch_size=500
        )
        sites = list(Site.objects.filter(name__startswith="Bench site ").order_by("name"))
        Charger.objects.bulk_create(
            [
                Charger(
                    charge_point_id=charge_point_id(i),
                    name=charge_point_id(i),
                    site=sites[i // per_site],
                    **charger_fields,
                )
                for i in range(args.chargers)
            ],
            batch_size=500,
        )
        # bulk_create skips Charger.save(), which gives each charger its control record.
        without_control = Charger.objects.filter(control__isnull=True).values_list("pk", flat=True)
        ChargerControl.objects.bulk_create([ChargerControl(charger_id=pk) for pk in without_control], batch_size=500)
        if args.api_token:
            user = get_user_model().objects.create(username=API_USER, is_staff=True)
            user.set_unusable_password()
            user.save(update_fields=["password"])
            Token.objects.create(user=user, key=args.api_token)
    extra = f"; API user {API_USER} with a token" if args.api_token else ""
    print(f"seeded {site_count} site(s), {args.chargers} charger(s){extra}")


if __name__ == "__main__":
    main()
