"""A scenario's day through the product's own control path, on a simulated clock.

The scenario's feed-in rate comes in with its config (import_config's `tariff:` block). Every
step: a dynamic tariff's prices (at the start, for the whole scenario) and a solar forecast (at
the start and every hour, for the rest of the scenario) are posted as the API and MQTT post them
(owner_controls' site_prices_store and site_solar_forecast_store, 15-minute slots); cars arrive
(StartTransaction's session services; the owner's target set on the charger as the Now page sets
it, owner_controls.charger_target_set) or leave (StopTransaction's; the target cleared); the grid
level changes (grid_level_set); the site meter's reading and the cars' meter samples are stored
(the API's energy_reading_record, the hot path's meter_values_store_many); then the site's
control run decides and sends (site_control_run), its calls going down the command path over the
channel layer to simulated stations (station.py) that answer like chargers. What each car draws
for the step follows from the profiles its station holds. The runs those posts ask for are the
step's own (runtime.py).

Runs in a throwaway database the caller made (energy_day does); the clock is simulated_clock's.
"""

import asyncio
import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from chargers.commands import charger_group
from chargers.models import Charger, ChargerCommand
from chargers.profiles import profile_from_configuration
from chargers.services import charger_mark_connected, charger_store_profile, connector_status_update
from energy.allocation import NOMINAL_VOLTAGE_V
from energy.configuration import ConfigError, config_file_import
from energy.grid import level_percents
from energy.models import GridResponse, Site
from energy.owner_controls import (
    SERIES_MAX_SLOTS,
    OwnerInputError,
    SeriesSlot,
    charger_target_set,
    site_prices_store,
    site_solar_forecast_store,
)
from energy.selectors import tariff_periods
from energy.services import energy_reading_record, grid_level_set, site_control_run
from energy.simulation.clock import SimulatedClock, simulated_clock
from energy.simulation.runtime import step_rebalancer
from energy.simulation.scenario import Car, Scenario, ScenarioError
from energy.simulation.series import quarter_hour_slots
from energy.simulation.station import ProfileRejected, Station, car_draw_a
from energy.simulation.trace import ChargerStep, phase_currents_a, trace_row
from energy.tou import period_at
from sessions.services import (
    MeterValuesReport,
    SampleData,
    meter_values_store_many,
    session_start,
    session_stop,
)

CONNECTOR_ID = 1
SOURCE = "energy_day"
PRICES_SOURCE = "energy_day tariff"
FORECAST_SOURCE = "energy_day forecast"
FORECAST_EVERY = dt.timedelta(hours=1)
ID_TAG = "energy-day"


@dataclass(frozen=True)
class DayResult:
    """The trace and what a score needs beside it."""

    charger_ids: list[str]
    rows: list[dict[str, object]]
    fuse_a: float
    prices: list[float]
    charger_shares: list[float]  # each step's grid-response share of a charger's maximum
    car_phases: dict[int, tuple[str, ...]]  # per car (scenario order): the phases it draws on
    charger_max_a: dict[str, float]  # per charger: its rating per phase
    profiles_rejected: dict[str, int]  # per charger: SetChargingProfiles its station refused


@dataclass
class _Plug:
    """A car on its station while it is there."""

    car: Car
    number: int  # in the scenario's cars, for its errors
    station: Station
    charger_pk: int
    transaction_id: int | None = None
    delivered_wh: float = 0.0
    power_w: float = 0.0
    full: bool = False
    gone: bool = False


def step_index_at(scenario: Scenario, when: dt.datetime) -> int:
    """The first step starting at or after `when`: the step in which the simulation sees it."""
    return max(0, math.ceil((when - scenario.start).total_seconds() / scenario.step_s))


def site_setup(scenario: Scenario) -> tuple[Site, dict[str, Charger]]:
    """The scenario's config imported as an installer would, with the scenario's feed-in rate
    in its `tariff:` block, its chargers approved."""
    config, feed_in = scenario.config, round(scenario.feed_in_per_kwh, 4)
    tariff = config.get("tariff", {})
    if isinstance(tariff, dict):  # else the import names what is wrong with it
        if tariff.get("feed_in_per_kwh", feed_in) != feed_in:
            raise ScenarioError(
                [
                    f"config: tariff.feed_in_per_kwh ({tariff['feed_in_per_kwh']!r}) disagrees with the scenario's "
                    f"tariff.feed_in_per_kwh ({feed_in:g}); give one of them or make them equal"
                ]
            )
        config = {**config, "tariff": {**tariff, "feed_in_per_kwh": feed_in}}
    try:
        config_file_import(data=config)
    except ConfigError as error:
        raise ScenarioError([f"config: {problem}" for problem in error.errors]) from error
    site = Site.objects.get()
    chargers = {c.charge_point_id: c for c in Charger.objects.filter(site=site).order_by("pk")}
    unknown = sorted({car.charger for car in scenario.cars} - chargers.keys())
    if unknown:
        raise ScenarioError([f"cars: charger {cid!r} is not in the config" for cid in unknown])
    Charger.objects.filter(site=site).update(registration=Charger.Registration.ACCEPTED, enabled=True)
    for charger in chargers.values():
        # What the boot's probe learns of a station (chargers.ocpp.ocpp16.after_boot_notification).
        keys = station_of(charger).configuration()
        charger_store_profile(charger_pk=charger.pk, profile=profile_from_configuration(keys), configuration=keys)
        connector_status_update(charger_pk=charger.pk, connector_id=CONNECTOR_ID, status="Available", error_code="")
    return site, {cid: Charger.objects.select_related("control").get(pk=c.pk) for cid, c in chargers.items()}


def station_of(charger: Charger) -> Station:
    return Station(
        charge_point_id=charger.charge_point_id,
        phases=charger.phases,
        supply_phase=charger.supply_phase or "L1",
        max_current_a=charger.max_power_w / (NOMINAL_VOLTAGE_V * charger.phases),
    )


def step_prices(scenario: Scenario, site: Site) -> list[float]:
    """The scenario's price series, else the site's tariff (a time no period covers costs the
    dearest rate), else 0."""
    if scenario.price_per_kwh is not None:
        return list(scenario.price_per_kwh)
    periods = tariff_periods(site=site)
    dearest = max((p.rate_per_kwh for p in periods), default=0.0)
    prices = []
    for i in range(scenario.steps):
        period = period_at(periods, scenario.step_at(i), site.zone)
        prices.append(period.rate_per_kwh if period is not None else dearest)
    return prices


def step_shares(scenario: Scenario, site: Site) -> list[float]:
    grid = GridResponse.objects.filter(site=site).first()
    if grid is None or not grid.enabled:
        return [1.0] * scenario.steps
    percents = level_percents(moderate_percent=grid.moderate_limit_percent, high_percent=grid.high_limit_percent)
    return [percents.get(scenario.grid_level_at(scenario.step_at(i)), 100) / 100 for i in range(scenario.steps)]


async def _answer_calls(layer, channel: str, station: Station, clock: SimulatedClock) -> None:
    """The station's end of the command path: what chargers.consumers does with a real socket."""
    while True:
        message = await layer.receive(channel)
        if message.get("type") != "charger.command":
            continue
        try:
            reply = {
                "outcome": ChargerCommand.Outcome.ANSWERED,
                "response": station.answer(message["action"], message["payload"], now=clock.now),
            }
        except ProfileRejected as error:
            reply = {"outcome": ChargerCommand.Outcome.CALL_ERROR, "error": str(error), "code": "NotSupported"}
        await layer.send(message["reply_channel"], {"type": "command.reply", **reply})


def _on_phases(plug: _Plug) -> tuple[str, ...]:
    """The phases a car's current flows on: those it and its charger share."""
    return plug.station.draw_phases(min(plug.station.phases, plug.car.phases))


def _sample(when: dt.datetime, plug: _Plug, register_wh: float) -> MeterValuesReport:
    phases = len(_on_phases(plug))
    values = (
        ("Power.Active.Import", plug.power_w, "W"),
        ("Current.Import", plug.power_w / NOMINAL_VOLTAGE_V / phases, "A"),
        ("Energy.Active.Import.Register", round(register_wh), "Wh"),
    )
    return MeterValuesReport(
        charger_pk=plug.charger_pk,
        connector_id=CONNECTOR_ID,
        transaction_id=plug.transaction_id,
        samples=[SampleData(timestamp=when, value=v, measurand=m, unit=u) for m, v, u in values],
    )


class _Day:
    """The sync half of a step (database, services); the async half only waits on it."""

    def __init__(self, scenario: Scenario, site: Site, chargers: dict[str, Charger], stations: dict[str, Station]):
        self.scenario, self.site, self.chargers, self.stations = scenario, site, chargers, stations
        self.plugs = [
            _Plug(car, n, stations[car.charger], chargers[car.charger].pk) for n, car in enumerate(scenario.cars)
        ]
        self.register_wh = dict.fromkeys(chargers, 0.0)
        self.level = "normal"
        hourly = (scenario.start + k * FORECAST_EVERY for k in range(math.ceil(scenario.hours)))
        self.forecast_steps = {step_index_at(scenario, when) for when in hourly}

    def before_run(self, i: int, now: dt.datetime) -> None:
        """The series posted, departures, arrivals, the grid level and the meters as they stand at `now`."""
        self._post_series(i, now)
        for plug in self.plugs:
            if plug.transaction_id is not None and not plug.gone and now >= plug.car.depart:
                self._leave(plug, now)
        for plug in self.plugs:
            if plug.transaction_id is None and not plug.gone and plug.car.arrive <= now < plug.car.depart:
                self._arrive(plug, now)
        level = self.scenario.grid_level_at(now)
        if level != self.level:
            grid_level_set(site=self.site, level=level, source=SOURCE)
            self.level = level
        charging = [p for p in self.plugs if p.transaction_id is not None and not p.gone]
        if charging:
            meter_values_store_many([_sample(now, p, self.register_wh[p.car.charger]) for p in charging])
        cars_w = sum(p.power_w for p in charging)
        solar_w, house_w = self.scenario.solar_w[i], self.scenario.house_w[i]
        steps = {p.car.charger: ChargerStep(0, 0, p.power_w, 0, 0, _on_phases(p)) for p in charging}
        signed = phase_currents_a(house_w=house_w, solar_w=solar_w, chargers=steps.values())
        energy_reading_record(
            site=self.site,
            measured_at=now,
            source=SOURCE,
            grid_w=house_w + cars_w - solar_w,
            solar_w=solar_w,
            house_w=house_w + cars_w,  # the meter's total consumption, cars included
            grid_l1_a=round(signed["L1"], 2),
            grid_l2_a=round(signed["L2"], 2),
            grid_l3_a=round(signed["L3"], 2),
        )

    def _post_series(self, i: int, now: dt.datetime) -> None:
        """A day-ahead tariff's prices at the start, for the whole scenario; a forecast service's
        solar forecast at the start and every hour, from the current quarter hour on."""
        scenario = self.scenario
        if i == 0 and scenario.price_per_kwh is not None:
            slots = quarter_hour_slots(start=scenario.start, step_s=scenario.step_s, values=scenario.price_per_kwh)
            for first in range(0, len(slots), SERIES_MAX_SLOTS):
                chunk = slots[first : first + SERIES_MAX_SLOTS]
                self._store("series.price_per_kwh", site_prices_store, chunk, PRICES_SOURCE)
        if i in self.forecast_steps and scenario.solar_forecast_w is not None:
            slots = quarter_hour_slots(
                start=scenario.start, step_s=scenario.step_s, values=scenario.solar_forecast_w, since=now
            )
            self._store("series.solar_forecast_w", site_solar_forecast_store, slots[:SERIES_MAX_SLOTS], FORECAST_SOURCE)

    def _store(self, key: str, store: Callable[..., int], slots: list[SeriesSlot], source: str) -> None:
        try:
            store(site=self.site, slots=slots, source=source)
        except OwnerInputError as error:
            raise ScenarioError([f"{key}: {error}"]) from error

    def _arrive(self, plug: _Plug, now: dt.datetime) -> None:
        connector_status_update(
            charger_pk=plug.charger_pk, connector_id=CONNECTOR_ID, status="Preparing", error_code="", timestamp=now
        )
        plug.transaction_id, _ = session_start(
            charger_pk=plug.charger_pk,
            connector_id=CONNECTOR_ID,
            id_tag=ID_TAG,
            meter_start_wh=round(self.register_wh[plug.car.charger]),
            started_at=now,
        )
        plug.station.transaction_id = plug.transaction_id
        connector_status_update(
            charger_pk=plug.charger_pk, connector_id=CONNECTOR_ID, status="Charging", error_code="", timestamp=now
        )
        if plug.car.target is not None:
            # The owner's "ready by HH:MM with N kWh", in the site's local time: a ready_by more
            # than a day ahead keeps only its time of day (the planner takes its next occurrence).
            self._target_set(
                plug,
                ready_by=plug.car.target.ready_by.astimezone(self.site.zone).time(),
                energy_wh=round(plug.car.target.energy_wh),
            )
        # As StartTransaction does: the fuse limits first, then the rest.
        site_control_run(site=self.site, trigger="transaction started", now=now, protection_only=True)

    def _leave(self, plug: _Plug, now: dt.datetime) -> None:
        session_stop(
            charger_pk=plug.charger_pk,
            transaction_id=plug.transaction_id,
            meter_stop_wh=round(self.register_wh[plug.car.charger]),
            stopped_at=now,
            reason="EVDisconnected",
        )
        plug.station.transaction_ended()
        plug.gone, plug.power_w = True, 0.0
        if plug.car.target is not None:
            self._target_set(plug, ready_by=None, energy_wh=None)
        connector_status_update(
            charger_pk=plug.charger_pk, connector_id=CONNECTOR_ID, status="Available", error_code="", timestamp=now
        )

    def _target_set(self, plug: _Plug, *, ready_by: dt.time | None, energy_wh: int | None) -> None:
        try:
            charger_target_set(
                charger=self.chargers[plug.car.charger], ready_by=ready_by, energy_wh=energy_wh, set_by=SOURCE
            )
        except OwnerInputError as error:
            raise ScenarioError([f"cars[{plug.number}].target: {error}"]) from error

    def run(self, now: dt.datetime) -> None:
        site_control_run(site=self.site, trigger=SOURCE, now=now)

    def after_run(self, i: int, now: dt.datetime, price: float) -> dict[str, object]:
        """What each car draws over the step, from the profiles its station holds now."""
        step_s = self.scenario.step_s
        steps: dict[str, ChargerStep] = {}
        for cid, station in self.stations.items():
            plug = next((p for p in self.plugs if p.car.charger == cid and p.transaction_id and not p.gone), None)
            if plug is None:
                limit, _ = station.limit_at(now, station.phases)
                steps[cid] = ChargerStep(limit, 0, 0.0, 0.0, station.profiles_sent, ())
                continue
            limit, phases = station.limit_at(now, plug.car.phases)
            amps = car_draw_a(limit_a=limit, car_max_a=plug.car.max_current_a)
            left_wh = max(0.0, plug.car.need_wh - plug.delivered_wh)
            power_w = min(amps * NOMINAL_VOLTAGE_V * phases, left_wh * 3600 / step_s)
            plug.power_w = power_w
            plug.delivered_wh += power_w * step_s / 3600
            self.register_wh[cid] += power_w * step_s / 3600
            if left_wh <= 0 and not plug.full:
                plug.full = True
                connector_status_update(
                    charger_pk=plug.charger_pk,
                    connector_id=CONNECTOR_ID,
                    status="SuspendedEV",
                    error_code="",
                    timestamp=now,
                )
            steps[cid] = ChargerStep(
                limit, phases if power_w > 0 else 0, power_w, plug.delivered_wh, station.profiles_sent, _on_phases(plug)
            )
        return trace_row(
            time=now.astimezone(self.scenario.zone).isoformat(),
            solar_w=self.scenario.solar_w[i],
            house_w=self.scenario.house_w[i],
            price_per_kwh=price,
            grid_level=self.level,
            chargers=steps,
        )


async def _day(scenario: Scenario, site: Site, chargers: dict[str, Charger], clock: SimulatedClock) -> DayResult:
    layer = get_channel_layer()
    stations = {cid: station_of(charger) for cid, charger in chargers.items()}
    answering = []
    for cid, charger in chargers.items():
        channel = await layer.new_channel()
        await layer.group_add(charger_group(cid), channel)
        answering.append(asyncio.ensure_future(_answer_calls(layer, channel, stations[cid], clock)))
        await sync_to_async(charger_mark_connected)(
            charger_pk=charger.pk, channel_name=channel, remote_address="simulated", protocol="ocpp1.6", note=SOURCE
        )
    day = _Day(scenario, site, chargers, stations)
    prices = await sync_to_async(step_prices)(scenario, site)
    shares = await sync_to_async(step_shares)(scenario, site)
    rows = []
    try:
        for i in range(scenario.steps):
            clock.now = now = scenario.step_at(i)
            await sync_to_async(day.before_run)(i, now)
            await sync_to_async(day.run)(now)
            rows.append(await sync_to_async(day.after_run)(i, now, prices[i]))
    finally:
        for task in answering:
            task.cancel()
    return DayResult(
        charger_ids=list(chargers),
        rows=rows,
        fuse_a=float(site.circuit_limit_a),
        prices=prices,
        charger_shares=shares,
        car_phases={
            n: stations[car.charger].draw_phases(min(stations[car.charger].phases, car.phases))
            for n, car in enumerate(scenario.cars)
        },
        charger_max_a={cid: station.max_current_a for cid, station in stations.items()},
        profiles_rejected={cid: station.profiles_rejected for cid, station in stations.items()},
    )


def day_simulate(scenario: Scenario) -> DayResult:
    """The whole day; in a database of its own, with the in-memory channel layer. What asks
    rebalancer() for a run is answered by the step's own run (runtime.py)."""
    with simulated_clock(scenario.start) as clock, step_rebalancer():
        site, chargers = site_setup(scenario)
        return asyncio.run(_day(scenario, site, chargers, clock))
