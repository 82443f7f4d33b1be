"""A simulated OCPP 1.6 charger with a car: it checks each SetChargingProfile as a station
would (refusing what a real one refuses), keeps the profiles by purpose and stack level, and
its car draws what the profiles in force allow.

Pure: the day runner (day.py) hands it the calls that came down the product's command path.
"""

import datetime as dt
from dataclasses import dataclass, field

from energy.allocation import NOMINAL_VOLTAGE_V, PHASES

MIN_CURRENT_A = 6.0  # IEC 61851: below this a car does not charge
MAX_STACK_LEVEL = 8
MAX_PERIODS = 24
CHARGER_MAX = "ChargePointMaxProfile"
TX_DEFAULT = "TxDefaultProfile"
TX = "TxProfile"
PURPOSES = (CHARGER_MAX, TX_DEFAULT, TX)


class ProfileRejected(ValueError):
    """What makes a real station answer Rejected (or a CALLERROR)."""


@dataclass(frozen=True)
class Profile:
    """A held profile, its schedule already in absolute time."""

    id: int
    purpose: str
    stack_level: int
    connector_id: int
    start: dt.datetime
    duration_s: int | None
    unit: str  # "A" or "W"
    periods: tuple[tuple[int, float, int | None], ...]  # (start_s, limit, numberPhases)
    transaction_id: int | None = None

    def period_at(self, when: dt.datetime) -> tuple[float, int | None] | None:
        """(limit, numberPhases) in force at `when`, or None outside the schedule."""
        offset_s = (when - self.start).total_seconds()
        if offset_s < 0 or (self.duration_s is not None and offset_s >= self.duration_s):
            return None
        in_force = None
        for start_s, limit, phases in self.periods:
            if start_s <= offset_s:
                in_force = (limit, phases)
        return in_force


def _parse_time(value: object, field_name: str) -> dt.datetime:
    if not isinstance(value, str):
        raise ProfileRejected(f"{field_name} missing")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise ProfileRejected(f"{field_name} {value!r} is not a date and time") from error
    if parsed.tzinfo is None:
        raise ProfileRejected(f"{field_name} {value!r} has no offset")
    return parsed


def profile_parse(payload: dict, *, now: dt.datetime, transaction_id: int | None) -> Profile:
    """A SetChargingProfile payload as a 1.6 station checks it."""
    connector_id = payload.get("connectorId")
    profile = payload.get("csChargingProfiles")
    if not isinstance(connector_id, int) or connector_id < 0 or not isinstance(profile, dict):
        raise ProfileRejected("connectorId or csChargingProfiles missing")
    purpose = profile.get("chargingProfilePurpose")
    if purpose not in PURPOSES:
        raise ProfileRejected(f"unknown purpose {purpose!r}")
    if purpose == CHARGER_MAX and connector_id != 0:
        raise ProfileRejected("a ChargePointMaxProfile goes on connector 0")
    tx_id = profile.get("transactionId")
    if purpose == TX:
        if connector_id == 0 or transaction_id is None:
            raise ProfileRejected("a TxProfile needs a running transaction on its connector")
        if tx_id is not None and tx_id != transaction_id:
            raise ProfileRejected(f"transaction {tx_id} is not the one running ({transaction_id})")
    stack_level = profile.get("stackLevel")
    if not isinstance(stack_level, int) or not 0 <= stack_level <= MAX_STACK_LEVEL:
        raise ProfileRejected(f"stackLevel {stack_level!r} outside 0..{MAX_STACK_LEVEL}")
    schedule = profile.get("chargingSchedule") or {}
    unit = schedule.get("chargingRateUnit")
    if unit not in ("A", "W"):
        raise ProfileRejected(f"chargingRateUnit {unit!r}")
    kind = profile.get("chargingProfileKind")
    if kind == "Absolute":
        start = _parse_time(schedule.get("startSchedule"), "startSchedule")
    elif kind == "Relative":
        start = now
    else:
        raise ProfileRejected(f"chargingProfileKind {kind!r} not supported")
    raw_periods = schedule.get("chargingSchedulePeriod") or []
    if not raw_periods or len(raw_periods) > MAX_PERIODS:
        raise ProfileRejected(f"{len(raw_periods)} periods (1..{MAX_PERIODS} held)")
    periods, last_start = [], -1
    for period in raw_periods:
        start_s, limit, phases = period.get("startPeriod"), period.get("limit"), period.get("numberPhases")
        if not isinstance(start_s, int) or start_s <= last_start or (not periods and start_s != 0):
            raise ProfileRejected("periods must start at 0 and rise")
        if not isinstance(limit, int | float) or limit < 0:
            raise ProfileRejected(f"limit {limit!r}")
        if phases is not None and phases not in (1, 2, 3):
            raise ProfileRejected(f"numberPhases {phases!r}")
        periods.append((start_s, float(limit), phases))
        last_start = start_s
    duration_s = schedule.get("duration")
    if duration_s is not None and (not isinstance(duration_s, int) or duration_s <= 0):
        raise ProfileRejected(f"duration {duration_s!r}")
    profile_id = profile.get("chargingProfileId")
    if not isinstance(profile_id, int):
        raise ProfileRejected("chargingProfileId missing")
    return Profile(
        id=profile_id,
        purpose=purpose,
        stack_level=stack_level,
        connector_id=connector_id,
        start=start,
        duration_s=duration_s,
        unit=unit,
        periods=tuple(periods),
        transaction_id=transaction_id if purpose == TX else None,
    )


def limit_a(limit: float, unit: str, phases: int) -> float:
    """A schedule's limit as amps per phase."""
    return limit if unit == "A" else limit / (NOMINAL_VOLTAGE_V * phases)


def effective_limit(profiles: list[Profile], *, when: dt.datetime, phases: int) -> tuple[float | None, int | None]:
    """(amps per phase, numberPhases) the held profiles allow at `when`; (None, None) without a
    limit. In each purpose the highest stack level in force counts; a TxProfile overrides the
    TxDefaultProfile; the ChargePointMaxProfile caps the result."""
    best: dict[str, tuple[int, float, int | None]] = {}
    for profile in profiles:
        in_force = profile.period_at(when)
        if in_force is None:
            continue
        limit, number_phases = in_force
        amps = limit_a(limit, profile.unit, number_phases or phases)
        if profile.purpose not in best or profile.stack_level > best[profile.purpose][0]:
            best[profile.purpose] = (profile.stack_level, amps, number_phases)
    car = best.get(TX) or best.get(TX_DEFAULT)
    cap = best.get(CHARGER_MAX)
    limits = [entry[1] for entry in (car, cap) if entry is not None]
    if not limits:
        return None, None
    number_phases = next((e[2] for e in (car, cap) if e is not None and e[2] is not None), None)
    return min(limits), number_phases


def car_draw_a(*, limit_a: float | None, car_max_a: float) -> float:
    """What a car takes: up to its own maximum and the limit, nothing below 6 A."""
    amps = car_max_a if limit_a is None else min(car_max_a, limit_a)
    return amps if amps >= MIN_CURRENT_A else 0.0


@dataclass
class Station:
    """One simulated charger: what it holds, its car and what it delivered."""

    charge_point_id: str
    phases: int  # as wired
    supply_phase: str  # the phase a 1-phase charger (or a 1-phase draw) is on
    max_current_a: float
    profiles: dict[tuple[str, int], Profile] = field(default_factory=dict)
    transaction_id: int | None = None
    profiles_sent: int = 0
    profiles_rejected: int = 0

    def answer(self, action: str, payload: dict, *, now: dt.datetime) -> dict:
        """The station's answer (camelCase payload) to a call of the product."""
        if action == "SetChargingProfile":
            self.profiles_sent += 1
            try:
                profile = profile_parse(payload, now=now, transaction_id=self.transaction_id)
            except ProfileRejected:
                self.profiles_rejected += 1
                return {"status": "Rejected"}
            # Same id, or same purpose and stack level: the new one replaces it.
            self.profiles = {k: p for k, p in self.profiles.items() if p.id != profile.id}
            self.profiles[(profile.purpose, profile.stack_level)] = profile
            return {"status": "Accepted"}
        if action == "ClearChargingProfile":
            kept = {k: p for k, p in self.profiles.items() if not _cleared(p, payload)}
            status = "Accepted" if len(kept) < len(self.profiles) else "Unknown"
            self.profiles = kept
            return {"status": status}
        raise ProfileRejected(f"{action} is not simulated")

    def configuration(self) -> list[dict]:
        """GetConfiguration's configurationKey list, as the boot's probe reads it."""
        keys = {
            "SupportedFeatureProfiles": "Core,SmartCharging",
            "ChargingScheduleAllowedChargingRateUnit": "Current",
            "ChargeProfileMaxStackLevel": str(MAX_STACK_LEVEL),
            "ChargingScheduleMaxPeriods": str(MAX_PERIODS),
            "NumberOfConnectors": "1",
            "MeterValueSampleInterval": "60",
            "MeterValuesSampledData": "Energy.Active.Import.Register,Power.Active.Import,Current.Import",
        }
        return [{"key": key, "value": value, "readonly": True} for key, value in keys.items()]

    def transaction_ended(self) -> None:
        """A TxProfile ends with its transaction."""
        self.transaction_id = None
        self.profiles = {k: p for k, p in self.profiles.items() if p.purpose != TX}

    def limit_at(self, when: dt.datetime, car_phases: int) -> tuple[float, int]:
        """(amps per phase, phases the car draws on) the held profiles allow at `when`; the
        charger's own maximum where none limits it."""
        phases = min(self.phases, car_phases)
        amps, number_phases = effective_limit(list(self.profiles.values()), when=when, phases=phases)
        if number_phases is not None:
            phases = min(phases, number_phases)
        return (self.max_current_a if amps is None else min(amps, self.max_current_a)), phases

    def draw_phases(self, phases: int) -> tuple[str, ...]:
        return PHASES if phases == 3 else (self.supply_phase,) if phases == 1 else PHASES[:phases]


def _cleared(profile: Profile, payload: dict) -> bool:
    if payload.get("id") is not None:
        return profile.id == payload["id"]
    checks = (
        ("connectorId", profile.connector_id),
        ("chargingProfilePurpose", profile.purpose),
        ("stackLevel", profile.stack_level),
    )
    return all(payload.get(key) is None or payload[key] == value for key, value in checks)
