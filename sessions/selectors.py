"""Reads about charging sessions: a charger's history, a running session's power, and what a
charger is doing now (its connection and limit, with the session it is running)."""

import datetime as dt
import math
from dataclasses import dataclass

from django.db.models import QuerySet

from chargers.models import Charger, Connector
from chargers.selectors import (
    ConnectionState,
    LimitState,
    charger_connection_status,
    charger_limit_in_force,
    charger_main_connector,
)
from sessions.measurands import POWER_MAX_W, POWER_UNITS, in_base_unit, whole_meter_value
from sessions.models import ChargingSession
from sessions.services import session_energy_so_far_wh

POWER = "Power.Active.Import"


def session_list(
    *, charger: Charger, started_from: dt.datetime | None = None, started_to: dt.datetime | None = None
) -> QuerySet[ChargingSession]:
    """A charger's sessions, newest first, optionally those started within [from, to]."""
    sessions = ChargingSession.objects.filter(charger=charger)
    if started_from is not None:
        sessions = sessions.filter(started_at__gte=started_from)
    if started_to is not None:
        sessions = sessions.filter(started_at__lte=started_to)
    return sessions.order_by("-started_at", "-transaction_id")


def session_power_w(*, session: ChargingSession) -> int | None:
    """Charging power in W at the session's latest Power.Active.Import sample: the whole-meter
    value, or the sum of the phases when the charger reports only per-phase power. Samples at
    the outlet win over other locations; None when the charger never reported power."""
    samples = session.samples.filter(measurand=POWER, value__isnull=False, unit__in=POWER_UNITS)
    latest = samples.order_by("-timestamp").values_list("timestamp", flat=True).first()
    if latest is None:
        return None
    readings = samples.filter(timestamp=latest).values_list("value", "unit", "phase", "location")
    total = whole_meter_value([(in_base_unit(value, unit), phase, loc) for value, unit, phase, loc in readings])
    # A sample stored before values were bounded (1e300 W, -5 kW) is no power a car draws.
    return round(total) if total is not None and math.isfinite(total) and 0 <= total <= POWER_MAX_W else None


@dataclass(frozen=True)
class TransactionState:
    id: int
    started: dt.datetime
    energy_wh: int | None
    power_w: int | None


@dataclass(frozen=True)
class ChargerState:
    charger: Charger
    connection: ConnectionState
    connector: Connector | None
    transaction: TransactionState | None
    limits: LimitState


def charger_active_session(*, charger: Charger) -> ChargingSession | None:
    return charger.charging_sessions.filter(stopped_at__isnull=True).order_by("-started_at").first()


def charger_state(*, charger: Charger) -> ChargerState:
    """What the charger is doing now, from what it last reported."""
    session = charger_active_session(charger=charger)
    transaction = None
    if session is not None:
        transaction = TransactionState(
            id=session.transaction_id,
            started=session.started_at,
            energy_wh=session_energy_so_far_wh(session=session),
            power_w=session_power_w(session=session),
        )
    return ChargerState(
        charger=charger,
        connection=ConnectionState(
            status=charger_connection_status(charger=charger),
            protocol=charger.connection_protocol or charger.protocol,
            last_heartbeat=charger.last_heartbeat_at,
        ),
        connector=charger_main_connector(charger=charger),
        transaction=transaction,
        limits=charger_limit_in_force(charger=charger),
    )
