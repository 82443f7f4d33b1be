"""Factory functions for test data: make_x(**overrides) returns a saved object."""

import datetime as dt
from decimal import Decimal
from itertools import count

from chargers.models import Charger, IdTag
from chargers.services import charger_set_password
from energy.models import ChargerControl, Circuit, Site, Tariff, TariffPeriod
from sessions.models import ChargingSession

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


# What energy control keeps of a charger (its ChargerControl), which make_charger also takes.
CONTROL_FIELDS = {f.name for f in ChargerControl._meta.concrete_fields} - {"charger"}


def make_charger(*, password: str | None = None, **overrides) -> Charger:
    """A charger; overrides naming ChargerControl fields (limit_w, manual_limit_w...) go to its
    control record."""
    control = {name: overrides.pop(name) for name in list(overrides) if name in CONTROL_FIELDS}
    fields = {"charge_point_id": f"CP{next(_seq)}", "max_power_w": 7400, "phases": 1}
    fields.update(overrides)
    if "site" not in fields:
        fields["site"] = make_site()
    charger = Charger.objects.create(**fields)
    if control:
        for name, value in control.items():
            setattr(charger.control, name, value)
        charger.control.save(update_fields=list(control))
    if password:
        charger_set_password(charger=charger, password=password)
    return charger


def make_id_tag(**overrides) -> IdTag:
    fields = {"id_tag": f"TAG{next(_seq)}", "status": IdTag.Status.ACCEPTED}
    fields.update(overrides)
    return IdTag.objects.create(**fields)


# The spec's tariff: off-peak 00:00-07:00, peak 16:00-20:00, standard at all other times.
SPEC_TARIFF_PERIODS = [
    ("off_peak", "00:00", "07:00", "0.10", 1),
    ("peak", "16:00", "20:00", "0.35", 3),
    ("standard", None, None, "0.20", 2),
]


def make_tariff(*, site: Site, periods=SPEC_TARIFF_PERIODS, **overrides) -> Tariff:
    fields = {"name": f"Tariff {next(_seq)}", "currency": "GBP", "is_active": True}
    fields.update(overrides)
    tariff = Tariff.objects.create(site=site, **fields)
    for name, start, end, rate, priority in periods:
        TariffPeriod.objects.create(
            tariff=tariff,
            name=name,
            start=dt.time.fromisoformat(start) if start else None,
            end=dt.time.fromisoformat(end) if end else None,
            rate_per_kwh=Decimal(rate),
            priority=priority,
        )
    return tariff


def make_session(*, charger: Charger, started_at: dt.datetime, hours: float | None = 2, **overrides) -> ChargingSession:
    """A session as the charger reported it; `hours=None` leaves it running."""
    energy_wh = overrides.pop("energy_wh", 7000)
    fields = {"connector_id": 1, "meter_start_wh": 1000, "id_tag": "RFID123"}
    if hours is not None:
        fields.update(
            stopped_at=started_at + dt.timedelta(hours=hours),
            meter_stop_wh=1000 + energy_wh,
            energy_wh=energy_wh,
            stop_reason="EVDisconnected",
        )
    fields.update(overrides)
    return ChargingSession.objects.create(charger=charger, started_at=started_at, **fields)
