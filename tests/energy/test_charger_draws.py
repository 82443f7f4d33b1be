"""What energy control believes each charger draws: the latest power and current of its running
sessions, read for the whole site in one query."""

import datetime as dt

import pytest

from energy.selectors import Draw, charger_draws
from sessions.models import MeterSample
from tests.factories import make_charger, make_session

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 1, 13, 10, 0, tzinfo=dt.UTC)
SINCE = NOW - dt.timedelta(minutes=5)

# (seconds before NOW, measurand, phase, value, unit, connector)
CASES = {
    "no session": (None, [], Draw(None, None)),
    "latest of each": (
        1,
        [
            (60, "Power.Active.Import", "", 3000, "W", 1),
            (60, "Current.Import", "", 13.0, "A", 1),
            (10, "Power.Active.Import", "", 7200, "W", 1),
            (10, "Current.Import", "", 31.3, "A", 1),
            (10, "Energy.Active.Import.Register", "", 5000, "Wh", 1),
        ],
        Draw(7200, 31.3),
    ),
    "kW": (1, [(10, "Power.Active.Import", "", 7.2, "kW", 1)], Draw(7200, 7200 / 230)),
    "power only: current from power": (3, [(10, "Power.Active.Import", "", 6900, "W", 1)], Draw(6900, 6900 / 690)),
    "per-phase power is not the total": (1, [(10, "Power.Active.Import", "L1", 2300, "W", 1)], Draw(None, None)),
    "too old": (1, [(400, "Power.Active.Import", "", 7200, "W", 1)], Draw(None, None)),
    "two connectors charging add up": (
        1,
        [
            (10, "Power.Active.Import", "", 3680, "W", 1),
            (10, "Power.Active.Import", "", 2300, "W", 2),
        ],
        Draw(5980, 5980 / 230),
    ),
    # 7,400 W on one phase: 32.2 A. A broken meter's 48 A would hide 16 A of house load.
    "beyond the charger's rating: the rating": (
        1,
        [(10, "Power.Active.Import", "", 11000, "W", 1), (10, "Current.Import", "", 48.0, "A", 1)],
        Draw(7400, 7400 / 230),
    ),
}


@pytest.mark.parametrize(("phases", "samples", "expected"), CASES.values(), ids=CASES.keys())
def test_draws(phases, samples, expected):
    charger = make_charger(phases=phases or 1)
    bystander = make_charger()
    make_session(charger=bystander, started_at=NOW - dt.timedelta(hours=1), hours=None)
    MeterSample.objects.create(
        charger=bystander, connector_id=1, timestamp=NOW, measurand="Power.Active.Import", value=11000, unit="W"
    )
    if phases is not None:
        sessions = {
            connector: make_session(
                charger=charger, connector_id=connector, started_at=NOW - dt.timedelta(hours=1), hours=None
            )
            for connector in {s[5] for s in samples}
        }
        MeterSample.objects.bulk_create(
            MeterSample(
                charger=charger,
                connector_id=connector,
                session=sessions[connector],
                timestamp=NOW - dt.timedelta(seconds=ago),
                measurand=measurand,
                phase=phase,
                value=value,
                unit=unit,
            )
            for ago, measurand, phase, value, unit, connector in samples
        )

    draw = charger_draws(chargers=[charger], since=SINCE)[charger.pk]

    assert draw.power_w == pytest.approx(expected.power_w)
    assert draw.current_a == pytest.approx(expected.current_a)


def test_a_stopped_session_draws_nothing():
    charger = make_charger()
    session = make_session(charger=charger, started_at=NOW - dt.timedelta(hours=1), hours=0.5)
    MeterSample.objects.create(
        charger=charger, connector_id=1, session=session, timestamp=NOW, measurand="Power.Active.Import", value=7200
    )

    assert charger_draws(chargers=[charger], since=SINCE)[charger.pk] == Draw(None, None)
