"""The session chart stays small whatever the data (issue 25, item 2): one broken meter's 1e12 W
sample once drew millions of gridlines and took the server's memory; a span of centuries, from a
charger whose clock was reset, drew a tick a week."""

import datetime as dt
import zoneinfo

import pytest

from sessions.charts import power_chart_svg

LONDON = zoneinfo.ZoneInfo("Europe/London")
START = dt.datetime(2026, 1, 13, 9, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("case", "power_w", "span"),
    [
        ("an ordinary session", 7200.0, dt.timedelta(hours=2)),
        ("a 1e12 W sample", 1e12, dt.timedelta(hours=2)),
        ("a 1e300 W sample", 1e300, dt.timedelta(hours=2)),
        ("an infinite sample", float("inf"), dt.timedelta(hours=2)),
        ("a session of 200 years", 7200.0, dt.timedelta(days=365 * 200)),
    ],
)
def test_the_chart_has_a_handful_of_gridlines_and_ticks_whatever_the_data(case, power_w, span):
    end = START + span
    svg = power_chart_svg(
        start=START,
        end=end,
        tz=LONDON,
        power=[(START, 0.0), (START + span / 2, power_w), (end, 0.0)],
        title="Power",
        description="test",
    )
    assert svg.count('class="grid"') <= 16, case  # at most 7 power levels and 9 time ticks
    assert len(svg) < 10_000, case
