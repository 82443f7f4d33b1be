"""When a site's periodic and event-driven control runs may go (energy/scheduling.py): plain data,
no database."""

import datetime as dt
from collections import Counter

import pytest

from energy.scheduling import seconds_until_run_allowed, site_run_due, slot_offset_s

T0 = dt.datetime(2026, 11, 25, 12, 0, 0, tzinfo=dt.UTC)


def _slot(site_pk: int, interval_s: float, n: int = 0) -> dt.datetime:
    """The site's n-th slot at or after T0's interval."""
    start_s = T0.timestamp() // interval_s * interval_s + n * interval_s
    return dt.datetime.fromtimestamp(start_s + slot_offset_s(site_pk=site_pk, interval_s=interval_s), dt.UTC)


S = dt.timedelta(seconds=1)


@pytest.mark.parametrize(
    ("case", "interval_s", "last_run", "now", "due"),
    [
        ("never run", 60, None, _slot(7, 60), True),
        ("interval 0: every tick", 0, _slot(7, 60), _slot(7, 60), True),
        ("ran just now", 60, _slot(7, 60) + S, _slot(7, 60) + 2 * S, False),
        ("just before its slot", 60, _slot(7, 60) - 30 * S, _slot(7, 60) - S, False),
        ("its slot passed", 60, _slot(7, 60) - 30 * S, _slot(7, 60) + S, True),
        ("an event ran it just before its slot", 60, _slot(7, 60) - S, _slot(7, 60) + S, True),
        ("an event ran it just after its slot", 60, _slot(7, 60) + S, _slot(7, 60, 1) - S, False),
        ("a whole interval since, one tick late", 60, _slot(7, 60) + S, _slot(7, 60, 1) + 5 * S, True),
        ("many intervals since", 60, _slot(7, 60) - 3600 * S, _slot(7, 60), True),
        ("solar every 10 s, slot passed", 10, _slot(7, 10) - 5 * S, _slot(7, 10) + S, True),
        ("solar every 10 s, slot not yet", 10, _slot(7, 10) + S, _slot(7, 10) + 9 * S, False),
    ],
)
def test_a_site_is_due_once_its_slot_passed_since_its_last_run(case, interval_s, last_run, now, due):
    assert site_run_due(site_pk=7, interval_s=interval_s, last_run_at=last_run, now=now) is due, case


@pytest.mark.parametrize("interval_s", [60, 30, 10])
def test_no_site_waits_longer_than_its_interval_plus_one_tick(interval_s):
    tick_s = 5
    for site_pk in range(1, 200):
        last_run = T0 + dt.timedelta(seconds=site_pk % 17)  # whenever an event last ran it
        now = last_run
        while not site_run_due(site_pk=site_pk, interval_s=interval_s, last_run_at=last_run, now=now):
            now += dt.timedelta(seconds=tick_s)
        assert (now - last_run).total_seconds() <= interval_s + tick_s, site_pk


def test_sites_that_ran_together_spread_over_the_interval():
    """1,000 sites all run at T0 (the server started, or their chargers' first readings woke
    them); over the next minute each 5 s tick runs about a twelfth of them, not all at once."""
    sites, tick_s = range(1, 1001), 5
    last_run = dict.fromkeys(sites, T0)
    runs_per_tick: Counter[int] = Counter()
    for tick in range(1, 25):  # two minutes
        now = T0 + dt.timedelta(seconds=tick * tick_s)
        for pk in sites:
            if site_run_due(site_pk=pk, interval_s=60, last_run_at=last_run[pk], now=now):
                last_run[pk] = now
                runs_per_tick[tick] += 1

    assert sum(runs_per_tick.values()) == 2000  # every site, once a minute
    assert max(runs_per_tick.values()) <= 100, runs_per_tick  # 1000 / 12 = 83 on average


@pytest.mark.parametrize(
    ("case", "min_interval_s", "last_run", "wait_s"),
    [
        ("never run", 10, None, 0.0),
        ("interval 0", 0, T0, 0.0),
        ("ran 4 s ago", 10, T0 - 4 * S, 6.0),
        ("ran exactly one interval ago", 10, T0 - 10 * S, 0.0),
        ("ran long ago", 10, T0 - 3600 * S, 0.0),
        ("clock set back: last run in the future", 10, T0 + 3600 * S, 10.0),
    ],
)
def test_an_event_driven_run_waits_out_the_rest_of_min_interval(case, min_interval_s, last_run, wait_s):
    assert seconds_until_run_allowed(min_interval_s=min_interval_s, last_run_at=last_run, now=T0) == wait_s, case
