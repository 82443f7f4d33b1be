"""An OCPP 2.0.1 station's device model on its admin page, a mixin of ChargerAdmin: every
variable it reported at boot (component.variable = value, and whether it may be set), what the
compatibility profile read from it, and whether it says it can switch phases. A 1.6 charger has
no device model: nothing of this shows on its page."""

from collections.abc import Iterable

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from chargers import device_model
from chargers import services as charger_services
from chargers.admin_live import ConfigurationChange
from chargers.models import Charger, ChargerCommand

DEVICE_MODEL_FIELDS = ["max_periods_per_schedule", "phase_switching", "device_model_table"]


def summary_table(summary: dict) -> str:
    """A 2.0.1 station's configuration (chargers.device_model.summary) as the installer reads it."""
    rows = format_html_join(
        "", "<tr><td>{}</td><td>{}</td></tr>", ((key, str(value)) for key, value in summary.items())
    )
    return format_html("<table><thead><tr><th>Read</th><th>Value</th></tr></thead><tbody>{}</tbody></table>", rows)


def set_variables_changes(commands: Iterable[ChargerCommand]) -> list[ConfigurationChange]:
    """The probe's SetVariables (one variable each) as the metering lines read 1.6's changes."""
    changes = []
    for command in commands:
        data = (command.payload.get("setVariableData") or [{}])[0]
        result = ((command.response or {}).get("setVariableResult") or [{}])[0]
        changes.append(
            ConfigurationChange(
                key=f"{(data.get('component') or {}).get('name', '')}.{(data.get('variable') or {}).get('name', '')}",
                value=str(data.get("attributeValue", "")),
                answer=str(result.get("attributeStatus", "")),
                failure=command.get_outcome_display(),
            )
        )
    return changes


class DeviceModelAdmin:
    """Mixed into ChargerAdmin; its fields are read-only (the overrides stay where 1.6's are)."""

    def device_model_fieldsets(self, charger: Charger) -> list:
        if not charger.device_variables.exists():
            return []
        return [
            (
                "Device model (OCPP 2.0.1)",
                {
                    "fields": DEVICE_MODEL_FIELDS,
                    "classes": ["collapse"],
                    "description": (
                        "What the station reported of itself (NotifyReport) when it first booted, and "
                        "after each firmware change; the compatibility profile above is read from it, "
                        "and the sample interval and measurands energy control needs are set in it."
                    ),
                },
            )
        ]

    @admin.display(description="phase switching")
    def phase_switching(self, charger: Charger) -> str:
        says = device_model.phases_3to1(charger.configuration)
        station = {
            True: "The station says it can switch from 3 phases to 1 (SmartChargingCtrlr.Phases3to1).",
            False: "The station says it cannot switch from 3 phases to 1 (SmartChargingCtrlr.Phases3to1).",
        }.get(says, "The station did not say whether it can switch from 3 phases to 1.")
        if says is False:
            return f"{station} Energy control never switches it, whatever 'can switch to 1 phase' says."
        yours = "on" if charger.can_switch_phases else "off"
        return f"{station} Energy control switches by your setting 'can switch to 1 phase', now {yours}."

    @admin.display(description="variables")
    def device_model_table(self, charger: Charger) -> str:
        rows = charger_services.device_model_rows(charger_pk=charger.pk)
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    row.name + ("" if row.attribute_type == "Actual" else f" ({row.attribute_type})"),
                    row.value if row.mutability != "WriteOnly" else "(write-only)",
                    row.mutability,
                )
                for row in rows
            ),
        )
        return format_html(
            '<table class="device-model"><thead><tr><th>Component.Variable</th><th>Value</th>'
            "<th>Mutability</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )
