"""What the bridge publishes, read from the database (sync: call from a worker thread).

The state payload is the spec's "State Payload", built from the same selector as the API's
charger detail, so MQTT and the API never disagree.
"""

import datetime as dt
from collections.abc import Iterable

from django.utils import timezone

from chargers.models import Charger, Connector
from energy.apis_owner import plan_slots
from energy.models import ChargerControl
from graylogic.datetimes import iso_utc
from integrations.mqtt.config import MqttConfig
from integrations.mqtt.discovery import charger_discovery
from integrations.mqtt.topics import Publication
from sessions.accounting import ENERGY_REGISTER
from sessions.measurands import ENERGY_UNITS, POWER_UNITS, in_base_unit, sample_rejection, whole_meter_value
from sessions.models import ChargingSession
from sessions.selectors import ChargerState, charger_active_session, charger_state

POWER = "Power.Active.Import"
CURRENT = "Current.Import"
SOC = "SoC"
PHASES = ("L1", "L2", "L3")
# The plan's slots the state carries: the next two hours (the API has the whole plan).
PLAN_NEXT_SLOTS = 8
# Currents and a state of charge older than this are no longer the car's (and the read of a
# session's samples stays short when the charger reports neither).
READINGS_RECENT = dt.timedelta(minutes=30)
# The units a whole-charger power or energy register is picked out in.
WHOLE_UNITS = frozenset(POWER_UNITS + ENERGY_UNITS)


def state_payload(state: ChargerState, *, now: dt.datetime) -> dict:
    """The spec's state payload, and why the limit is what it is; the owner's mode, target and
    plan; the current per phase and the car's state of charge as last reported. No running
    session: no power, no session energy, no currents."""
    transaction = state.transaction
    return {
        "charger_id": state.charger.charge_point_id,
        "connection_status": state.connection.status,
        "connector_status": state.connector.status if state.connector and state.connector.status else None,
        "power_w": _believable(transaction.power_w, POWER) if transaction else 0,
        "energy_session_wh": _believable(transaction.energy_wh, ENERGY_REGISTER) if transaction else 0,
        "limit_w": state.limits.current_limit_w,
        "limit_source": state.limits.limit_source,
        "limit_reason": state.limits.reason,
        **owner_payload(state.charger.control, now=now),
        **_session_readings(state.charger),
        "timestamp": iso_utc(now),
    }


def owner_payload(control: ChargerControl, *, now: dt.datetime | None = None) -> dict:
    """Mode, target and plan: what the owner asked and what energy control plans for it."""
    now = now or timezone.now()
    target = None
    if control.target_ready_by is not None:
        target = {
            "ready_by": control.target_ready_by.strftime("%H:%M"),
            "energy_wh": control.target_energy_wh,
            "soc_percent": control.target_soc_percent,
            "battery_capacity_wh": control.battery_capacity_wh,
        }
    upcoming = [slot for slot in plan_slots(control.plan) if slot.end > now][:PLAN_NEXT_SLOTS]
    return {
        "mode": control.mode,
        "target": target,
        "plan_summary": control.plan_summary,
        "plan_next": [{"start": iso_utc(s.start), "end": iso_utc(s.end), "power_w": s.power_w} for s in upcoming],
        "plan_cost": control.plan_cost,
    }


def _session_readings(charger: Charger) -> dict:
    """The running session's latest current on each phase (A) and the car's state of charge
    (%), each as the charger last reported it; None where it reports none."""
    readings: dict = {f"current_{phase.lower()}_a": None for phase in PHASES} | {"soc_percent": None}
    session = charger_active_session(charger=charger)
    if session is None:
        return readings
    recent = session.samples.filter(timestamp__gte=timezone.now() - READINGS_RECENT, value__isnull=False)
    currents = recent.filter(measurand=CURRENT, unit__in=("A", ""))
    latest = currents.exclude(phase="").order_by("-timestamp").values_list("timestamp", flat=True).first()
    if latest is not None:
        for value, phase, location in currents.filter(timestamp=latest).values_list("value", "phase", "location"):
            name = phase[:2]
            believable = sample_rejection(measurand=CURRENT, unit="A", value=value) is None
            if name in PHASES and location in ("", "Outlet") and believable:
                readings[f"current_{name.lower()}_a"] = round(value, 1)
    soc = recent.filter(measurand=SOC).order_by("-timestamp").first()
    if soc is not None and 0 <= soc.value <= 100:
        readings["soc_percent"] = round(soc.value)
    return readings


def connector_payload(charger: Charger, connector: Connector) -> dict:
    return {
        "charger_id": charger.charge_point_id,
        "connector_id": connector.connector_id,
        "status": connector.status or None,
        "error_code": connector.error_code or None,
        "info": connector.info,
        "vendor_error_code": connector.vendor_error_code,
        "timestamp": iso_utc(connector.status_at),
    }


def charger_publications(
    *, config: MqttConfig, charger_pks: Iterable[int] | None, soc_seen: set[int] | None = None
) -> list[Publication]:
    """State, connectors and Home Assistant discovery of the given chargers (None: all).
    `soc_seen`: the chargers known to report a state of charge (kept by the caller, added to
    here), which get a state-of-charge sensor."""
    soc_seen = set() if soc_seen is None else soc_seen
    chargers = Charger.objects.select_related("site", "control").prefetch_related("connectors").order_by("pk")
    if charger_pks is not None:
        chargers = chargers.filter(pk__in=list(charger_pks))
    now = timezone.now()
    publications = []
    for charger in chargers:
        cp_id = charger.charge_point_id
        state = state_payload(charger_state(charger=charger), now=now)
        if state["soc_percent"] is not None:
            soc_seen.add(charger.pk)
        publications.append(Publication(config.charger_topic(cp_id, "state"), state, volatile=("timestamp",)))
        if charger.status:  # connector 0: the charger as a whole
            zero = Connector(connector_id=0, status=charger.status, error_code=charger.error_code)
            publications.append(
                Publication(config.charger_topic(cp_id, "connector", "0"), connector_payload(charger, zero))
            )
        for connector in charger.connectors.all():
            publications.append(
                Publication(
                    config.charger_topic(cp_id, "connector", str(connector.connector_id)),
                    connector_payload(charger, connector),
                )
            )
        if config.ha_discovery:
            publications.extend(charger_discovery(config=config, charger=charger, reports_soc=charger.pk in soc_seen))
    return publications


def transaction_payload(event: dict) -> dict:
    """A start or stop as the charger reported it, completed from the stored session."""
    session = (
        ChargingSession.objects.filter(charger_id=event["charger_pk"], transaction_id=event["transaction_id"])
        .only("connector_id", "id_tag", "started_at", "meter_start_wh", "stopped_at", "energy_wh")
        .first()
    )
    payload = {
        "event": event["event"],
        "charger_id": event["charge_point_id"],
        "transaction_id": event["transaction_id"],
        "connector_id": session.connector_id if session else event.get("connector_id"),
        "id_tag": session.id_tag if session else event.get("id_tag"),
        "meter_start_wh": _believable(
            session.meter_start_wh if session else event.get("meter_start_wh"), ENERGY_REGISTER
        ),
        "started": iso_utc(session.started_at) if session else None,
    }
    if event["event"] == "stopped":
        payload.update(
            stopped=event["timestamp"],
            meter_stop_wh=_believable(event["meter_stop_wh"], ENERGY_REGISTER),
            energy_wh=_believable(session.energy_wh, ENERGY_REGISTER) if session else None,
            reason=event.get("reason") or "Local",
        )
    payload["timestamp"] = event["timestamp"]
    return payload


def _believable(value: float | None, measurand: str) -> float | None:
    """The value when a meter can show it, else None: a sample stored before values were
    bounded at the door never goes out as a negative power or a 309-digit energy."""
    if value is None or not isinstance(value, int | float):
        return None
    return value if sample_rejection(measurand=measurand, unit="", value=value) is None else None


def meter_payloads(event: dict) -> list[dict]:
    """One payload per meter value set (one timestamp), with the charger's total power and
    energy register in W and Wh picked out when it reported them. Values outside physical
    bounds are left out."""
    payloads = []
    for meter_set in event["sets"]:
        values = [
            v
            for v in meter_set["sampled_value"]
            if isinstance(v.get("value"), int | float)
            and sample_rejection(measurand=v["measurand"], unit=v["unit"] or "", value=v["value"]) is None
        ]
        payloads.append(
            {
                "charger_id": event["charge_point_id"],
                "connector_id": event["connector_id"],
                "transaction_id": event["transaction_id"],
                "timestamp": meter_set["timestamp"],
                "power_w": _whole(values, POWER),
                "energy_register_wh": _whole(values, ENERGY_REGISTER),
                "sampled_value": values,
            }
        )
    return payloads


def _whole(values: list[dict], measurand: str) -> float | None:
    """The value for the whole charger (no phase), at the outlet when there are several."""
    found = [
        (in_base_unit(v["value"], v["unit"] or ""), "", v["location"])
        for v in values
        if v["measurand"] == measurand and not v["phase"] and (v["unit"] or "") in WHOLE_UNITS
    ]
    whole = whole_meter_value(found)
    return None if whole is None else round(whole, 3)
