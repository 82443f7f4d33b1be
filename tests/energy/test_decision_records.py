"""A control run keeps each decision that changed; one that changes nothing writes nothing
(on SQLite every write waits for the single writer lock, which the meter samples need)."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chargers.models import Charger
from energy.control import Decision
from energy.models import LimitDecision
from energy.selectors import latest_decisions
from energy.sending import charger_decision_record
from tests.factories import make_charger

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 1, 13, 10, 0, tzinfo=dt.UTC)


def decision(limit_w: int, reason: str = "circuit: 32 A fuse") -> Decision:
    return Decision(
        limit_w=limit_w, current_a=limit_w / 230, phases=1, source="circuit", reason=reason, protection_limit_w=7400
    )


def writes_of(charger: Charger, made: Decision, outcome: str) -> list[str]:
    charger = Charger.objects.get(pk=charger.pk)
    with CaptureQueriesContext(connection) as queries:
        charger_decision_record(charger, made, outcome, NOW, last=latest_decisions(chargers=[charger]).get(charger.pk))
    return [q["sql"].split()[0] for q in queries if not q["sql"].startswith("SELECT")]


@pytest.mark.parametrize(
    ("second", "outcome", "writes", "decisions"),
    [
        (decision(3680), "unchanged", [], 1),
        (decision(3680), "TxProfile Accepted", ["SAVEPOINT", "INSERT", "RELEASE"], 2),
        (decision(2300), "unchanged", ["SAVEPOINT", "INSERT", "UPDATE", "RELEASE"], 2),
        (decision(3680, reason="grid: moderate"), "unchanged", ["SAVEPOINT", "INSERT", "UPDATE", "RELEASE"], 2),
    ],
    ids=["same decision", "a profile was sent", "new limit", "new reason"],
)
def test_only_what_changed_is_written(second, outcome, writes, decisions):
    charger = make_charger()
    writes_of(charger, decision(3680), "unchanged")

    assert writes_of(charger, second, outcome) == writes
    assert LimitDecision.objects.filter(charger=charger).count() == decisions
    assert Charger.objects.get(pk=charger.pk).control.limit_w == second.limit_w


def test_latest_decisions_are_each_chargers_newest():
    first, second, silent = make_charger(), make_charger(), make_charger()
    for charger, limits in ((first, [1000, 2000, 3000]), (second, [4000])):
        for limit_w in limits:
            LimitDecision.objects.create(charger=charger, limit_w=limit_w, current_a=0, phases=1, source="circuit")

    latest = latest_decisions(chargers=[first, second, silent])

    assert {pk: d.limit_w for pk, d in latest.items()} == {first.pk: 3000, second.pk: 4000}
