"""The control state's move out of Charger (issue 26) keeps every charger's limit, manual limit,
held profiles and decisions, and moving back restores them."""

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("chargers", "0008_charger_event_count"), ("energy", "0003_labels_in_words_with_units")]
AFTER = [("chargers", "0009_control_state_moves_to_energy"), ("energy", "0004_charger_control_and_limit_decisions")]
EXPIRES = dt.datetime(2026, 1, 13, 10, tzinfo=dt.UTC)
APPLIED = {
    "ChargePointMaxProfile": 3680,
    "TxProfile": {"transaction_id": 17, "limit_w": 2300},
    "TxDefaultProfile": {"periods": [[1768291200.0, 7400], [1768298400.0, 0]], "end_s": 1768302000.0},
    "decision_a": 16.0,
}


def migrated_to(targets):
    """The apps (historical models) once the database is migrated to `targets`."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


@pytest.fixture
def chargers_before():
    """Two chargers and a decision as the database held them before the move; the database is
    migrated back to the newest state afterwards, for the tests that follow."""
    apps = migrated_to(BEFORE)
    site = apps.get_model("energy", "Site").objects.create(name="Home")
    charger_model = apps.get_model("chargers", "Charger")
    steered = charger_model.objects.create(
        charge_point_id="GARAGE",
        site=site,
        limit_w=3680,
        limit_source="manual",
        limit_reason="limited by hand to 3,680 W",
        active_phases=1,
        manual_limit_w=3680,
        manual_limit_reason="guests",
        manual_limit_expires_at=EXPIRES,
        paused_since=EXPIRES,
        applied_profiles=APPLIED,
    )
    booted = charger_model.objects.create(
        charge_point_id="DRIVE", site=site, applied_profiles={"TxDefaultProfile": "unknown"}
    )
    apps.get_model("chargers", "LimitDecision").objects.create(
        charger=steered, limit_w=3680, current_a=16.0, phases=1, source="manual", reason="by hand", outcome="x"
    )
    yield steered.pk, booted.pk
    migrated_to(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_move_keeps_each_chargers_control_state_and_its_decisions(chargers_before):
    steered_pk, booted_pk = chargers_before
    apps = migrated_to(AFTER)
    control = apps.get_model("energy", "ChargerControl").objects.get(pk=steered_pk)
    assert (control.limit_w, control.limit_source, control.limit_reason, control.active_phases) == (
        3680,
        "manual",
        "limited by hand to 3,680 W",
        1,
    )
    assert (control.manual_limit_w, control.manual_limit_reason, control.manual_limit_expires_at) == (
        3680,
        "guests",
        EXPIRES,
    )
    assert control.paused_since == EXPIRES
    assert (control.protection_w, control.solar_w, control.solar_transaction_id) == (3680, 2300, 17)
    assert (control.tou_periods, control.tou_end_s, control.tou_unknown) == (
        APPLIED["TxDefaultProfile"]["periods"],
        APPLIED["TxDefaultProfile"]["end_s"],
        False,
    )
    assert control.decision_current_a == 16.0
    booted = apps.get_model("energy", "ChargerControl").objects.get(pk=booted_pk)
    assert (booted.tou_unknown, booted.protection_w, booted.limit_w, booted.limit_source) == (True, None, None, "")
    decision = apps.get_model("energy", "LimitDecision").objects.get()
    assert (decision.charger_id, decision.limit_w, decision.source, decision.outcome) == (
        steered_pk,
        3680,
        "manual",
        "x",
    )


@pytest.mark.django_db(transaction=True)
def test_moving_back_restores_what_the_charger_held(chargers_before):
    steered_pk, _ = chargers_before
    migrated_to(AFTER)
    apps = migrated_to(BEFORE)
    steered = apps.get_model("chargers", "Charger").objects.get(pk=steered_pk)
    assert (steered.limit_w, steered.limit_source, steered.manual_limit_w, steered.manual_limit_expires_at) == (
        3680,
        "manual",
        3680,
        EXPIRES,
    )
    assert steered.applied_profiles == APPLIED
    assert apps.get_model("chargers", "LimitDecision").objects.filter(charger_id=steered_pk).count() == 1
