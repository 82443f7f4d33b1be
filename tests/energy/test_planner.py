"""The site's planner (energy/planner.py): slots in, each car's grid power per slot out. Pure table
tests, no database: prices, solar forecast, house, fuse, targets, DST nights, infeasible targets."""

import datetime as dt
import zoneinfo

import pytest

from energy.pacing import Urgency, profile_may_go
from energy.planner import PlanCar, PlanSlot, plan_reason, plan_site, plan_summary, slots_between

LONDON = zoneinfo.ZoneInfo("Europe/London")
T0 = dt.datetime(2026, 1, 12, 18, 0, tzinfo=dt.UTC)  # 18:00 in London (GMT)
THREE = ("L1", "L2", "L3")


def night(hours: float, price, *, start=T0, solar=None, house_w=0.0, peak=None, preferred=None):
    """Quarter-hour slots from `start`; price, solar, peak and preferred as functions of the hour ahead."""
    slots = []
    for a, b in slots_between(start, start + dt.timedelta(hours=hours)):
        h = (a - start).total_seconds() / 3600
        slots.append(
            PlanSlot(
                start=a,
                end=b,
                price_per_kwh=price(h),
                solar_w=solar(h) if solar else 0.0,
                house_w=house_w,
                peak=bool(peak and peak(h)),
                preferred=bool(preferred and preferred(h)),
                period="off_peak" if price(h) < 0.15 else "standard",
            )
        )
    return slots


def off_peak_from_6h(h: float) -> float:
    return 0.08 if 6 <= h < 12 else 0.30  # 00:00-06:00 cheap


def grid_hours(plan) -> list[float]:
    """The hours ahead of the start in which the plan charges from the grid."""
    return [round((s.start - T0).total_seconds() / 3600, 2) for s in plan.grid_slots()]


def car(cid="a", *, kw=7.36, target_kwh=None, by_h=None, phases=("L1",), **kw_args):
    return PlanCar(
        id=cid,
        phases=phases,
        max_power_w=kw * 1000,
        target_wh=None if target_kwh is None else target_kwh * 1000,
        deadline=None if by_h is None else T0 + dt.timedelta(hours=by_h),
        **kw_args,
    )


@pytest.mark.parametrize(
    ("case", "slots", "cars", "fuse_a", "expect"),
    [
        (
            "a target is met in the cheapest hours only: 14.72 kWh at 7.36 kW is 2 hours of off-peak",
            night(13, off_peak_from_6h),
            [car(target_kwh=14.72, by_h=13)],
            63,
            {"a": [6 + q / 4 for q in range(8)]},
        ),
        (
            "on a solar site the same target goes as late as the cheap hours allow (just in time)",
            night(13, off_peak_from_6h),
            [car(target_kwh=14.72, by_h=13)],
            63,
            {"a": [10 + q / 4 for q in range(8)]},
        ),
        (
            "a target the cheap hours cannot hold spills into the dearer ones, the earliest of them",
            night(13, off_peak_from_6h),
            [car(target_kwh=58.88, by_h=13)],  # 8 hours at 7.36 kW; 6 of them cheap
            63,
            {"a": [q / 4 for q in range(8)] + [6 + q / 4 for q in range(24)]},
        ),
        (
            "without a target nothing comes from the grid at a price",
            night(13, off_peak_from_6h),
            [car()],
            63,
            {"a": []},
        ),
        (
            "time of use without a target: every preferred slot, in full",
            night(13, off_peak_from_6h, preferred=lambda h: 6 <= h < 12),
            [car(charge_in_preferred=True)],
            63,
            {"a": [6 + q / 4 for q in range(24)]},
        ),
        (
            "a peak slot is never chosen while another slot can do it, even a dearer-looking one",
            night(4, lambda h: 0.20, peak=lambda h: h < 2),
            [car(target_kwh=7.36, by_h=4)],
            63,
            {"a": [2, 2.25, 2.5, 2.75]},
        ),
        (
            "the solar forecast covers the target: no grid energy is bought",
            night(6, lambda h: 0.30, solar=lambda h: 8000),
            [car(target_kwh=10, by_h=6)],
            63,
            {"a": []},
        ),
    ],
)
def test_plans(case, slots, cars, fuse_a, expect):
    just_in_time = "solar site" in case or "solar forecast" in case
    plans = plan_site(slots=slots, cars=cars, fuse_a=fuse_a, feed_in_per_kwh=0.05, just_in_time=just_in_time)
    assert {cid: grid_hours(p) for cid, p in plans.items()} == expect, case
    for p in plans.values():
        if p.target_wh:
            assert p.shortfall_wh == pytest.approx(0, abs=1), case


def test_two_cars_on_a_small_fuse_share_the_cheap_hours_without_exceeding_it():
    """25 A main fuse, a 1 kW house: two 3-phase 11 kW cars cannot both draw at once."""
    slots = night(13, off_peak_from_6h, house_w=1000)
    cars = [
        car("a", kw=11, target_kwh=30, by_h=13, phases=THREE),
        car("b", kw=11, target_kwh=20, by_h=13, phases=THREE),
    ]
    plans = plan_site(slots=slots, cars=cars, fuse_a=25, feed_in_per_kwh=0.0)
    room_a = 25 - 1000 / 3 / 230
    for t, slot in enumerate(slots):
        drawn_a = sum(p.grid_w[t] + p.solar_w[t] for p in plans.values()) / 3 / 230
        assert drawn_a <= room_a + 1e-6, slot.start
    assert plans["a"].shortfall_wh == pytest.approx(0, abs=1)
    assert plans["b"].shortfall_wh == pytest.approx(0, abs=1)
    # 50 kWh at most 16.6 kW together is about 3 hours: all of it fits in the 6 cheap ones.
    assert all(6 <= h < 12 for h in grid_hours(plans["a"]) + grid_hours(plans["b"]))


def test_an_infeasible_target_gets_all_it_can_and_says_how_much():
    plans = plan_site(slots=night(2, lambda h: 0.30), cars=[car(target_kwh=40, by_h=2)], fuse_a=63, feed_in_per_kwh=0)
    plan = plans["a"]
    assert plan.planned_wh == pytest.approx(2 * 7360, rel=1e-6)
    assert plan.shortfall_wh == pytest.approx(40000 - 14720, rel=1e-6)
    reason = plan_reason(plan, now=T0, tz=LONDON)
    assert reason == "charging as fast as allowed: only 14.7 kWh of the 40.0 kWh needed fits before 20:00"


@pytest.mark.parametrize(
    ("case", "start", "hours", "slots_expected"),
    [
        (
            "spring forward: the night from 18:00 to 07:00 local has 12 hours",
            dt.datetime(2026, 3, 28, 18, tzinfo=dt.UTC),
            12,
            48,
        ),
        (
            "fall back: the night from 18:00 to 07:00 local has 14 hours",
            dt.datetime(2026, 10, 24, 17, tzinfo=dt.UTC),
            14,
            56,
        ),
    ],
)
def test_dst_nights_have_their_real_number_of_slots(case, start, hours, slots_expected):
    end = start + dt.timedelta(hours=hours)
    assert end.astimezone(LONDON).hour == 7, case
    slots = slots_between(start, end)
    assert len(slots) == slots_expected, case
    assert all((b - a) == dt.timedelta(minutes=15) for a, b in slots), case


def test_the_plan_in_words_for_the_homeowner():
    slots = night(13, off_peak_from_6h)
    plan = plan_site(slots=slots, cars=[car(target_kwh=14.72, by_h=13)], fuse_a=63, feed_in_per_kwh=0)["a"]
    assert plan_summary(plan, tz=LONDON, currency="GBP") == "charging 00:00–02:00, ready by 07:00 at £1.18"
    assert (
        plan_reason(plan, now=T0, tz=LONDON) == "waiting for the off peak rate at 00:00, 14.7 kWh still needed by 07:00"
    )


def test_a_first_slot_that_is_shorter_starts_the_plan_now():
    start = T0 + dt.timedelta(minutes=7)
    slots = night(1, lambda h: 0.30, start=start)
    assert (slots[0].start, slots[0].end) == (start, T0 + dt.timedelta(minutes=15))
    plan = plan_site(slots=slots, cars=[car(target_kwh=7.36 * 0.75, by_h=1)], fuse_a=63, feed_in_per_kwh=0)["a"]
    assert plan.charging_now
    assert plan_reason(plan, now=start, tz=LONDON).startswith("charging now at the standard rate: 5.5 kWh still needed")


@pytest.mark.parametrize(
    ("case", "urgency", "sent_ago_s", "allowed"),
    [
        ("a lowered fuse limit goes at once, even seconds after another", Urgency.AT_ONCE, [5], True),
        ("a start waits for the minute since the last profile", Urgency.PROMPT, [30], False),
        ("a start goes a minute after the last", Urgency.PROMPT, [60], True),
        ("the seventh profile of an hour waits", Urgency.PROMPT, [3000, 2500, 2000, 1500, 1000, 500], False),
        ("a start leaves the hour's last profile for a fuse", Urgency.PROMPT, [3000, 2500, 2000, 1500, 1000], False),
        ("a fuse may take the hour's last profile", Urgency.AT_ONCE, [3000, 2500, 2000, 1500, 1000], True),
        ("an adjustment waits ten minutes since the last", Urgency.ADJUSTMENT, [300], False),
        ("an adjustment goes ten minutes after the last", Urgency.ADJUSTMENT, [600], True),
        (
            "an adjustment leaves the hour's last two for starts and stops",
            Urgency.ADJUSTMENT,
            [3000, 2400, 1800, 1200],
            False,
        ),
        ("profiles over an hour ago do not count", Urgency.PROMPT, [3700, 3650, 3620, 3610, 3605, 3601], True),
    ],
)
def test_profile_pacing(case, urgency, sent_ago_s, allowed):
    now_s = 1_000_000.0
    assert profile_may_go(urgency, sent_s=[now_s - ago for ago in sent_ago_s], now_s=now_s) is allowed, case


@pytest.mark.parametrize(
    ("case", "max_grid_w", "expect_grid_kw", "short"),
    [
        ("solar only: no grid energy, the target stays short of what the sun gives", 0.0, 0.0, True),
        ("mixed: at most its grid top-up (3 kW) at a time, over more hours", 3000.0, 3.0, False),
        ("no solar mode: the car's own maximum is the only cap", None, 7.36, False),
    ],
)
def test_the_sites_solar_mode_is_a_policy_for_the_grid(case, max_grid_w, expect_grid_kw, short):
    slots = night(6, lambda h: 0.30, solar=lambda h: 2000 if h < 2 else 0)
    plan = plan_site(
        slots=slots, cars=[car(target_kwh=12, by_h=6, max_grid_w=max_grid_w)], fuse_a=63, feed_in_per_kwh=0.05
    )["a"]
    assert max(plan.grid_w) / 1000 <= expect_grid_kw + 0.01, case
    assert (plan.shortfall_wh > 1) is short, case
    if max_grid_w:
        assert max(plan.grid_w) == pytest.approx(max_grid_w), case  # the cap binds: 9 kWh at 3 kW
    if short:
        # The slot under way in full, then 70 % of the forecast surplus: 0.5 + 1.75 h x 1.4 kW.
        assert plan.planned_wh == pytest.approx(2000 * 0.25 + 2000 * 0.7 * 1.75, rel=1e-6), case
