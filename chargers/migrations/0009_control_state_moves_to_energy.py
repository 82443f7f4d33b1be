# Issue 26: the control state lives in energy.ChargerControl now (energy 0004 copied it there),
# and LimitDecision is energy's (energy 0004 took its table): the Charger keeps identity,
# connection and its installer's settings.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("chargers", "0008_charger_event_count"),
        ("energy", "0004_charger_control_and_limit_decisions"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="LimitDecision")]),
        *(
            migrations.RemoveField(model_name="charger", name=name)
            for name in (
                "active_phases",
                "applied_profiles",
                "limit_reason",
                "limit_source",
                "limit_w",
                "manual_limit_expires_at",
                "manual_limit_reason",
                "manual_limit_w",
                "paused_since",
            )
        ),
    ]
