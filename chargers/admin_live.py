"""What the admin charger page says first: the charger's live state and its metering, as short
sentences built from data. Plain functions, data in and text out; chargers/admin.py reads the
database and renders them."""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils import formats, timezone

NOMINAL_VOLTAGE_V = 230.0
SAMPLE_INTERVAL_KEY = "MeterValueSampleInterval"
MEASURANDS_KEY = "MeterValuesSampledData"
NO_ERROR = "NoError"


@dataclass(frozen=True)
class LiveRow:
    label: str
    text: str
    warning: bool = False


@dataclass(frozen=True)
class ConnectorReport:
    connector_id: int
    status: str
    error_code: str = ""
    info: str = ""
    vendor_error_code: str = ""
    status_at: dt.datetime | None = None


@dataclass(frozen=True)
class RunningSession:
    transaction_id: int
    started_at: dt.datetime
    power_w: int | None
    energy_wh: int | None


@dataclass(frozen=True)
class ConfigurationChange:
    """One ChangeConfiguration the server sent: the charger's answer (Accepted, Rejected,
    RebootRequired, NotSupported), or, when none came, why (offline, timed out...)."""

    key: str
    value: str
    answer: str = ""
    failure: str = ""


@dataclass(frozen=True)
class MeteringKeys:
    """What a protocol version names the sample interval and the sampled measurands."""

    interval: str
    measurands: str


OCPP16_METERING = MeteringKeys(SAMPLE_INTERVAL_KEY, MEASURANDS_KEY)
OCPP201_METERING = MeteringKeys("SampledDataCtrlr.TxUpdatedInterval", "SampledDataCtrlr.TxUpdatedMeasurands")


def at(moment: dt.datetime) -> str:
    """A moment as the admin shows every time: to the second, in the server's zone."""
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def connection_text(
    *,
    connected: bool,
    connected_at: dt.datetime | None,
    disconnected_at: dt.datetime | None,
    last_seen_at: dt.datetime | None,
    protocol: str,
    remote_address: str,
) -> str:
    if connected:
        since = f" since {at(connected_at)}" if connected_at else ""
        over = f" over {protocol}" if protocol else ""
        source = f" from {remote_address}" if remote_address else ""
        last = f" Last message {at(last_seen_at)}." if last_seen_at else ""
        return f"Online{since}{over}{source}.{last}"
    if connected_at is None and disconnected_at is None:
        return "Never connected: the charger has not called in yet."
    since = f" since {at(disconnected_at)}" if disconnected_at else ""
    last = f" Last message {at(last_seen_at)}." if last_seen_at else ""
    return f"Offline{since}.{last}"


def status_text(*, status: str, error_code: str = "", info: str = "", vendor_error_code: str = "") -> str:
    """A status and its error, if any, without a full stop (callers add what follows)."""
    if not status:
        return "Not reported yet"
    text = status
    if error_code and error_code != NO_ERROR:
        details = ", ".join(part for part in (info, vendor_error_code and f"vendor code {vendor_error_code}") if part)
        text += f", error {error_code}" + (f" ({details})" if details else "")
    return text


def connector_row(connector: ConnectorReport) -> LiveRow:
    text = status_text(
        status=connector.status,
        error_code=connector.error_code,
        info=connector.info,
        vendor_error_code=connector.vendor_error_code,
    )
    if connector.status and connector.status_at is not None:
        text += f" since {at(connector.status_at)}"
    faulted = connector.status == "Faulted" or bool(connector.error_code and connector.error_code != NO_ERROR)
    return LiveRow(f"Connector {connector.connector_id}", text + ".", warning=faulted)


def power_text(*, connected: bool, session: RunningSession | None) -> str:
    if session is None:
        return "No session running." if connected else "No session running; the charger is offline."
    energy = f", {session.energy_wh / 1000:.2f} kWh so far" if session.energy_wh is not None else ""
    started = f"session {session.transaction_id} started {at(session.started_at)}{energy}"
    power = "No power reported yet" if session.power_w is None else f"{session.power_w} W"
    text = f"{power} in {started}."
    return text if connected else f"Offline; last known: {text}"


def limit_text(*, limit_w: int, phases: int) -> str:
    """The limit in watts and what it means per phase: what installers measure with a clamp."""
    if limit_w == 0:
        return "0 W: paused."
    current_a = limit_w / (NOMINAL_VOLTAGE_V * phases)
    return f"{limit_w} W ({current_a:.1f} A on {phases} phase{'s' if phases > 1 else ''})."


def manual_limit_text(*, limit_w: int | None, reason: str, expires_at: dt.datetime | None) -> str | None:
    if limit_w is None:
        return None
    until = f" until {at(expires_at)}" if expires_at else " with no end"
    because = f": {reason}" if reason else ""
    return f"{limit_w} W{until}{because}."


def _measurands(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def change_text(
    change: ConfigurationChange,
    *,
    sample_interval_s: int | None,
    measurands: str,
    keys: MeteringKeys = OCPP16_METERING,
) -> str:
    """One ChangeConfiguration (2.0.1: SetVariables) the probe sent, against what the charger
    reported before it."""
    answer = f" The charger answered {change.answer}." if change.answer else f" No answer: {change.failure}."
    if change.key == keys.interval:
        before = f"{sample_interval_s} s" if sample_interval_s is not None else "not reported"
        return f"{keys.interval}: {before} → {change.value} s.{answer}"
    if change.key == keys.measurands:
        old, new = _measurands(measurands), _measurands(change.value)
        parts = []
        added = [m for m in new if m not in old]
        removed = [m for m in old if m not in new]
        if added:
            parts.append("added " + ", ".join(added))
        if removed:
            parts.append("removed " + ", ".join(removed))
        return f"{keys.measurands}: {'; '.join(parts) or 'set to the same list'}.{answer}"
    return f"{change.key} set to {change.value}.{answer}"


def metering_lines(
    *,
    probed_at: dt.datetime | None,
    sample_interval_s: int | None,
    measurands: str,
    changes: Sequence[ConfigurationChange],
    keys: MeteringKeys = OCPP16_METERING,
) -> list[str]:
    """The metering the charger reported at its last boot (2.0.1: in its device model), then
    what the server changed."""
    if probed_at is None:
        return ["Not read yet: the server reads the charger's configuration each time it boots."]
    if sample_interval_s is None:
        interval = "not reported"
    elif sample_interval_s == 0:
        interval = "0 s (no periodic samples)"
    else:
        interval = f"every {sample_interval_s} s"
    sampled = ", ".join(_measurands(measurands)) or "not reported"
    lines = [
        f"Read at {at(probed_at)}: {keys.interval} {interval}; {keys.measurands} {sampled}.",
    ]
    if not changes:
        lines.append("The server changed nothing.")
    for change in changes:
        lines.append(
            "Changed by the server: "
            + change_text(change, sample_interval_s=sample_interval_s, measurands=measurands, keys=keys)
        )
    return lines
