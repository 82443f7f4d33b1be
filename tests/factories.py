"""Factory functions for test data: make_x(**overrides) returns a saved object."""

from itertools import count

from chargers.models import Charger, IdTag
from chargers.services import charger_set_password
from energy.models import Circuit, Site

_seq = count(1)


def make_site(**overrides) -> Site:
    fields = {"name": f"Site {next(_seq)}", "time_zone": "Europe/London", "circuit_limit_a": 63}
    fields.update(overrides)
    return Site.objects.create(**fields)


def make_circuit(**overrides) -> Circuit:
    fields = {"name": f"Circuit {next(_seq)}", "max_current_a": 32, "phases": 3}
    fields.update(overrides)
    if "site" not in fields:
        fields["site"] = make_site()
    return Circuit.objects.create(**fields)


def make_charger(*, password: str | None = None, **overrides) -> Charger:
    fields = {"charge_point_id": f"CP{next(_seq)}", "max_power_w": 7400, "phases": 1}
    fields.update(overrides)
    if "site" not in fields:
        fields["site"] = make_site()
    charger = Charger.objects.create(**fields)
    if password:
        charger_set_password(charger=charger, password=password)
    return charger


def make_id_tag(**overrides) -> IdTag:
    fields = {"id_tag": f"TAG{next(_seq)}", "status": IdTag.Status.ACCEPTED}
    fields.update(overrides)
    return IdTag.objects.create(**fields)
