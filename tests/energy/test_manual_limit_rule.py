"""A manual limit as the charger can carry it out: a table of cases, no database."""

import pytest

from energy.allocation import Fuse
from energy.control import ChargerState, SiteInputs, site_decisions
from energy.manual_limit import ManualLimit, manual_limit_in_force

# (limit asked W, phases wired, can switch, min current A) -> (limit in force W, phases, sentence)
CASES = [
    ((4200, 3, False, 6.0), (4200, 3, "limited by hand to 4,200 W")),
    ((4140, 3, False, 6.0), (4140, 3, "limited by hand to 4,140 W")),
    (
        (3000, 3, False, 6.0),
        (0, 3, "3,000 W is below this charger's minimum of 4,140 W (6 A on 3 phases): paused"),
    ),
    (
        (3000, 3, True, 6.0),
        (3000, 1, "3,000 W is below this charger's minimum of 4,140 W (6 A on 3 phases): charging on 1 phase at 13 A"),
    ),
    (
        (3500, 3, True, 6.0),
        (
            3500,
            1,
            "3,500 W is below this charger's minimum of 4,140 W (6 A on 3 phases): charging on 1 phase at 15.2 A",
        ),
    ),
    ((5000, 3, True, 6.0), (5000, 3, "limited by hand to 5,000 W")),
    (
        (1000, 3, True, 6.0),
        (0, 3, "1,000 W is below this charger's minimum of 1,380 W (6 A on 1 phase): paused"),
    ),
    ((3000, 1, False, 6.0), (3000, 1, "limited by hand to 3,000 W")),
    ((3000, 1, True, 6.0), (3000, 1, "limited by hand to 3,000 W")),
    (
        (1000, 1, False, 6.0),
        (0, 1, "1,000 W is below this charger's minimum of 1,380 W (6 A on 1 phase): paused"),
    ),
    (
        (1500, 1, False, 8.0),
        (0, 1, "1,500 W is below this charger's minimum of 1,840 W (8 A on 1 phase): paused"),
    ),
    ((0, 3, True, 6.0), (0, 3, "paused by hand (limit 0 W)")),
    ((0, 1, False, 6.0), (0, 1, "paused by hand (limit 0 W)")),
]


@pytest.mark.parametrize(("asked", "expected"), CASES, ids=[f"{a[0]}W-{a[1]}ph-switch{a[2]}-{a[3]}A" for a, _ in CASES])
def test_a_manual_limit_is_what_the_charger_can_do_with_it_said_in_words(asked, expected):
    limit_w, phases, can_switch_phases, min_current_a = asked

    rule = manual_limit_in_force(
        limit_w=limit_w, phases=phases, can_switch_phases=can_switch_phases, min_current_a=min_current_a
    )

    assert rule == ManualLimit(*expected)


MAIN = Fuse("main", 32)


def three_phase_car(**extra) -> ChargerState:
    return ChargerState(id="a", fuse_id="main", phases=3, max_power_w=22000, wants_power=True, **extra)


def test_a_manual_limit_below_the_three_phase_minimum_pauses_and_says_why():
    decision = site_decisions(SiteInputs(fuses=[MAIN], chargers=[three_phase_car(manual_limit_w=3000)]))["a"]

    assert (decision.limit_w, decision.protection_limit_w, decision.phases, decision.source) == (0, 0, 3, "manual")
    assert decision.reason == "3,000 W is below this charger's minimum of 4,140 W (6 A on 3 phases): paused"


def test_a_charger_that_can_switch_takes_a_low_manual_limit_on_one_phase():
    car = three_phase_car(manual_limit_w=3000, can_switch_phases=True, active_phases=3)

    decision = site_decisions(SiteInputs(fuses=[MAIN], chargers=[car]))["a"]

    assert (decision.limit_w, decision.protection_limit_w, decision.current_a) == (3000, 3000, 13.0)
    assert (decision.phases, decision.source) == (1, "manual")
    assert decision.reason.endswith("charging on 1 phase at 13 A")


def test_a_manual_limit_that_fits_on_three_phases_keeps_them():
    car = three_phase_car(manual_limit_w=4200, can_switch_phases=True, active_phases=3)

    decision = site_decisions(SiteInputs(fuses=[MAIN], chargers=[car]))["a"]

    assert (decision.limit_w, decision.phases, decision.reason) == (4200, 3, "limited by hand to 4,200 W")


def test_a_fuse_tighter_than_the_manual_limit_keeps_its_own_reason():
    car = three_phase_car(manual_limit_w=20000)

    decision = site_decisions(SiteInputs(fuses=[Fuse("main", 16)], chargers=[car]))["a"]

    assert (decision.limit_w, decision.source) == (11040, "circuit")
    assert "by hand" not in decision.reason
