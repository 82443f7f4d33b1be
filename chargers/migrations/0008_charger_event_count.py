# Refused handshakes counted per row (issue 25), and the installer's rejection of a pending claim.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("chargers", "0007_charger_event_profile_mismatch"),
    ]

    operations = [
        migrations.AddField(
            model_name="chargerevent",
            name="count",
            field=models.PositiveIntegerField(
                default=1, help_text="How many times this happened within the minute from its time."
            ),
        ),
        migrations.AlterField(
            model_name="chargerevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("connected", "Connected"),
                    ("disconnected", "Disconnected"),
                    ("refused", "Connection refused"),
                    ("replaced", "Replaced by a new connection"),
                    ("boot", "Boot"),
                    ("protocol_error", "Protocol error"),
                    ("unknown_transaction", "Unknown transaction"),
                    ("data_transfer", "Data transfer"),
                    ("stale", "Marked offline (silent)"),
                    ("profile_mismatch", "Limit not held by the charger"),
                    ("claim_rejected", "Pending claim rejected"),
                ],
                max_length=30,
            ),
        ),
        migrations.AddConstraint(
            model_name="chargerevent",
            constraint=models.CheckConstraint(condition=models.Q(count__gte=1), name="charger_event_count_positive"),
        ),
    ]
