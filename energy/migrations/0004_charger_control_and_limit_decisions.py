# Issue 26: what energy control keeps per charger moves out of chargers.Charger into its own
# record (ChargerControl), the applied-profiles JSON bag becomes typed fields, and LimitDecision
# moves to energy with its rows (the table is renamed, not copied).

import django.db.models.deletion
from django.db import migrations, models

LIMIT_SOURCES = [
    ("circuit", "fuse limit"),
    ("failsafe", "meter fail-safe"),
    ("solar", "solar charging"),
    ("tou", "time-of-use plan"),
    ("grid", "grid operator"),
    ("manual", "manual limit"),
    ("charger", "charger's maximum"),
    ("demand", "car's own draw"),
    ("idle", "no car charging"),
]
# What Charger held and ChargerControl now holds under the same names.
SAME_FIELDS = (
    "limit_w",
    "limit_source",
    "limit_reason",
    "active_phases",
    "paused_since",
    "manual_limit_w",
    "manual_limit_reason",
    "manual_limit_expires_at",
)
# Charger.applied_profiles' keys: the OCPP 1.6 purposes, and the last decision's amps.
PROTECTION, TOU, SOLAR, DECISION = "ChargePointMaxProfile", "TxDefaultProfile", "TxProfile", "decision_a"
UNKNOWN = "unknown"


def _number(value):
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def held_fields(applied: dict) -> dict:
    """The typed fields of what Charger.applied_profiles held."""
    fields = {"decision_current_a": _number(applied.get(DECISION))}
    protection = _number(applied.get(PROTECTION))
    fields["protection_w"] = round(protection) if protection is not None else None
    solar = applied.get(SOLAR)
    if isinstance(solar, dict) and _number(solar.get("limit_w")) is not None:
        fields["solar_w"] = round(solar["limit_w"])
        fields["solar_transaction_id"] = solar.get("transaction_id")
    tou = applied.get(TOU)
    if tou == UNKNOWN:
        fields["tou_unknown"] = True
    elif isinstance(tou, dict) and isinstance(tou.get("periods"), list):
        fields["tou_periods"] = tou["periods"]
        fields["tou_end_s"] = _number(tou.get("end_s"))
    return fields


def applied_profiles(control) -> dict:
    """Charger.applied_profiles as it was, from the typed fields (to migrate back)."""
    applied = {}
    if control.protection_w is not None:
        applied[PROTECTION] = control.protection_w
    if control.solar_w is not None:
        applied[SOLAR] = {"transaction_id": control.solar_transaction_id, "limit_w": control.solar_w}
    if control.tou_unknown:
        applied[TOU] = UNKNOWN
    elif control.tou_periods is not None:
        applied[TOU] = {"periods": control.tou_periods, "end_s": control.tou_end_s}
    if control.decision_current_a is not None:
        applied[DECISION] = control.decision_current_a
    return applied


def controls_from_chargers(apps, schema_editor):
    Charger = apps.get_model("chargers", "Charger")
    ChargerControl = apps.get_model("energy", "ChargerControl")
    controls = [
        ChargerControl(
            charger_id=charger.pk,
            **{name: getattr(charger, name) for name in SAME_FIELDS},
            **held_fields(charger.applied_profiles or {}),
        )
        for charger in Charger.objects.order_by("pk").iterator(chunk_size=1000)
    ]
    ChargerControl.objects.bulk_create(controls, batch_size=500)


def chargers_from_controls(apps, schema_editor):
    Charger = apps.get_model("chargers", "Charger")
    ChargerControl = apps.get_model("energy", "ChargerControl")
    for control in ChargerControl.objects.iterator(chunk_size=1000):
        Charger.objects.filter(pk=control.charger_id).update(
            **{name: getattr(control, name) for name in SAME_FIELDS}, applied_profiles=applied_profiles(control)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("chargers", "0008_charger_event_count"),
        ("energy", "0003_labels_in_words_with_units"),
    ]

    operations = [
        migrations.CreateModel(
            name="ChargerControl",
            fields=[
                (
                    "charger",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="control",
                        serialize=False,
                        to="chargers.charger",
                    ),
                ),
                ("limit_w", models.PositiveIntegerField(blank=True, null=True, verbose_name="limit in force (W)")),
                (
                    "limit_source",
                    models.CharField(blank=True, choices=LIMIT_SOURCES, max_length=20, verbose_name="limit set by"),
                ),
                ("limit_reason", models.CharField(blank=True, max_length=200, verbose_name="why this limit")),
                ("active_phases", models.PositiveSmallIntegerField(blank=True, editable=False, null=True)),
                ("paused_since", models.DateTimeField(blank=True, editable=False, null=True)),
                (
                    "decision_current_a",
                    models.FloatField(blank=True, editable=False, null=True, verbose_name="decided current (A)"),
                ),
                ("manual_limit_w", models.PositiveIntegerField(blank=True, null=True, verbose_name="manual limit (W)")),
                (
                    "manual_limit_reason",
                    models.CharField(blank=True, max_length=200, verbose_name="why the manual limit"),
                ),
                (
                    "manual_limit_expires_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="manual limit ends at"),
                ),
                (
                    "protection_w",
                    models.PositiveIntegerField(
                        blank=True,
                        editable=False,
                        help_text="ChargePointMaxProfile.",
                        null=True,
                        verbose_name="fuse limit held (W)",
                    ),
                ),
                (
                    "solar_w",
                    models.PositiveIntegerField(
                        blank=True,
                        editable=False,
                        help_text="TxProfile.",
                        null=True,
                        verbose_name="solar limit held (W)",
                    ),
                ),
                (
                    "solar_transaction_id",
                    models.IntegerField(
                        blank=True, editable=False, null=True, verbose_name="solar limit's transaction"
                    ),
                ),
                (
                    "tou_periods",
                    models.JSONField(blank=True, editable=False, null=True, verbose_name="time-of-use plan held"),
                ),
                (
                    "tou_end_s",
                    models.FloatField(
                        blank=True, editable=False, null=True, verbose_name="time-of-use plan ends (Unix s)"
                    ),
                ),
                (
                    "tou_unknown",
                    models.BooleanField(default=False, editable=False, verbose_name="time-of-use plan unknown"),
                ),
            ],
            options={"verbose_name": "charger control"},
        ),
        migrations.RunPython(controls_from_chargers, chargers_from_controls, elidable=False),
        # LimitDecision joins energy with its table and rows: first in the state only, on the
        # table chargers made (chargers 0009 takes it out of chargers' state), then renamed.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="LimitDecision",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("decided_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        ("limit_w", models.PositiveIntegerField(verbose_name="limit (W)")),
                        ("current_a", models.FloatField(verbose_name="current (A)")),
                        ("phases", models.PositiveSmallIntegerField()),
                        ("source", models.CharField(choices=LIMIT_SOURCES, max_length=20, verbose_name="set by")),
                        ("reason", models.CharField(max_length=300)),
                        ("inputs", models.JSONField(default=dict)),
                        (
                            "outcome",
                            models.CharField(
                                blank=True, help_text="What the charger said to the profile.", max_length=30
                            ),
                        ),
                        (
                            "charger",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="limit_decisions",
                                to="chargers.charger",
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["-decided_at", "-id"],
                        "indexes": [
                            models.Index(fields=["charger", "-decided_at", "-id"], name="decision_latest_by_charger")
                        ],
                        "db_table": "chargers_limitdecision",
                    },
                ),
            ],
        ),
        migrations.AlterModelTable(name="limitdecision", table=None),
    ]
