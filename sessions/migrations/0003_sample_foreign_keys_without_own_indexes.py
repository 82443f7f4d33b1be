"""The foreign keys of MeterSample lose their own indexes (see the model). Dropped by name:
Django's AlterField would rebuild the whole samples table twice on SQLite."""

import django.db.models.deletion
from django.db import migrations, models

TABLE = "charging_sessions_metersample"
INDEXES = {
    "charger_id": "charging_sessions_metersample_charger_id_a9464ac3",
    "session_id": "charging_sessions_metersample_session_id_09559e84",
}


class Migration(migrations.Migration):
    dependencies = [
        ("chargers", "0005_limit_decision_latest_index"),
        ("charging_sessions", "0002_session_cost_and_solar_share"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql=f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX "{name}" ON "{TABLE}" ("{column}")',
                )
                for column, name in INDEXES.items()
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="metersample",
                    name="charger",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="meter_samples",
                        to="chargers.charger",
                    ),
                ),
                migrations.AlterField(
                    model_name="metersample",
                    name="session",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="samples",
                        to="charging_sessions.chargingsession",
                    ),
                ),
            ],
        ),
    ]
