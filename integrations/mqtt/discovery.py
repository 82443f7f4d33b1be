"""Home Assistant MQTT discovery: each charger appears as a device with sensors (power,
session energy, status, limit source, plan, current per phase, the car's state of charge once
the charger reports it), a connectivity sensor, a number for its power limit, the owner's mode
(select) and target (a ready-by time and an energy), and start, stop, reset and unlock buttons,
all reading the state topic and writing the command, mode and target topics.

Every entity is unavailable while the bridge is offline; the current and state-of-charge
sensors also while the charger is (a mode or target set meanwhile is used when it is back)."""

import json
import re

from chargers.models import Charger
from energy.models import MAX_TARGET_ENERGY_WH
from energy.sources import ChargeMode
from integrations.mqtt.config import MODE_SET, TARGET_SET, MqttConfig
from integrations.mqtt.topics import Publication

ORIGIN = {"name": "Gray Logic EV bridge"}
# HH:MM, or empty (no target; sending it empty clears the target).
READY_BY_PATTERN = r"^(([01][0-9]|2[0-3]):[0-5][0-9])?$"


def _object_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


def charger_discovery(*, config: MqttConfig, charger: Charger, reports_soc: bool = False) -> list[Publication]:
    cp_id = charger.charge_point_id
    node = _object_id(f"{config.prefix}_{cp_id}")
    state = config.charger_topic(cp_id, "state")
    command = config.charger_topic(cp_id, "command")
    device = {
        "identifiers": [f"graylogic_{node}"],
        "name": str(charger),
        "manufacturer": charger.vendor or "OCPP charger",
        "model": charger.model or "OCPP 1.6",
        "sw_version": charger.firmware_version or None,
        "serial_number": charger.serial_number or charger.charge_box_serial_number or None,
        "suggested_area": charger.location or None,
    }
    common = {
        "device": {k: v for k, v in device.items() if v is not None},
        "origin": ORIGIN,
        "availability_topic": config.status_topic,
    }
    # A reading is only as good as the charger's connection: the bridge and the charger both online.
    reading = {
        "availability": [
            {"topic": config.status_topic},
            {
                "topic": state,
                "value_template": "{{ 'online' if value_json.connection_status == 'connected' else 'offline' }}",
            },
        ],
        "availability_mode": "all",
    }
    entities = {
        ("sensor", "power"): {
            "name": "Power",
            "state_topic": state,
            "value_template": "{{ value_json.power_w }}",
            "device_class": "power",
            "unit_of_measurement": "W",
            "state_class": "measurement",
        },
        ("sensor", "session_energy"): {
            "name": "Session energy",
            "state_topic": state,
            "value_template": "{{ value_json.energy_session_wh }}",
            "device_class": "energy",
            "unit_of_measurement": "Wh",
            "state_class": "total_increasing",
        },
        ("sensor", "status"): {
            "name": "Status",
            "state_topic": state,
            "value_template": "{{ value_json.connector_status }}",
            "icon": "mdi:ev-station",
        },
        ("sensor", "limit_source"): {
            "name": "Limit source",
            "state_topic": state,
            "value_template": "{{ value_json.limit_source }}",
            "entity_category": "diagnostic",
        },
        ("binary_sensor", "connected"): {
            "name": "Connected",
            "state_topic": state,
            "value_template": "{{ value_json.connection_status }}",
            "payload_on": "connected",
            "payload_off": "disconnected",
            "device_class": "connectivity",
            "entity_category": "diagnostic",
        },
        ("number", "limit"): {
            "name": "Power limit",
            "state_topic": state,
            "value_template": "{{ value_json.limit_w }}",
            "command_topic": command,
            "command_template": '{"action": "set_limit", "limit_w": {{ value | int }}, "reason": "Home Assistant"}',
            "min": 0,
            "max": charger.max_power_w,
            "step": 100,
            "mode": "box",
            "device_class": "power",
            "unit_of_measurement": "W",
        },
        ("button", "start"): {
            "name": "Start charging",
            "command_topic": command,
            "payload_press": json.dumps({"action": "start"}),
            "icon": "mdi:play",
        },
        ("button", "stop"): {
            "name": "Stop charging",
            "command_topic": command,
            "payload_press": json.dumps({"action": "stop"}),
            "icon": "mdi:stop",
        },
        ("button", "reset"): {
            "name": "Reset",
            "command_topic": command,
            "payload_press": json.dumps({"action": "reset"}),
            "device_class": "restart",
            "entity_category": "config",
        },
        ("button", "unlock"): {
            "name": "Unlock connector",
            "command_topic": command,
            "payload_press": json.dumps({"action": "unlock"}),
            "icon": "mdi:lock-open-variant",
        },
        ("select", "mode"): {
            "name": "Charging mode",
            "state_topic": state,
            "value_template": "{{ value_json.mode }}",
            "command_topic": config.charger_topic(cp_id, *MODE_SET),
            "options": [mode.value for mode in ChargeMode],
            "icon": "mdi:ev-plug-type2",
        },
        ("text", "target_ready_by"): {
            "name": "Ready by",
            "state_topic": state,
            "value_template": "{{ value_json.target.ready_by if value_json.target else '' }}",
            "command_topic": config.charger_topic(cp_id, *TARGET_SET),
            "command_template": '{"ready_by": "{{ value }}"}',
            "pattern": READY_BY_PATTERN,
            "min": 0,
            "max": 5,
            "icon": "mdi:clock-end",
        },
        ("number", "target_energy"): {
            "name": "Energy to add",
            "state_topic": state,
            "value_template": (
                "{{ (value_json.target.energy_wh / 1000) if value_json.target and "
                "value_json.target.energy_wh is not none else 'None' }}"
            ),
            "command_topic": config.charger_topic(cp_id, *TARGET_SET),
            "command_template": '{"energy_wh": {{ (value * 1000) | round | int }}}',
            "min": 0.5,
            "max": MAX_TARGET_ENERGY_WH // 1000,
            "step": 0.5,
            "mode": "box",
            "device_class": "energy",
            "unit_of_measurement": "kWh",
        },
        ("sensor", "plan"): {
            "name": "Charging plan",
            "state_topic": state,
            "value_template": "{{ value_json.plan_summary or 'no plan yet' }}",
            "json_attributes_topic": state,
            "json_attributes_template": (
                "{{ {'plan_next': value_json.plan_next, 'plan_cost': value_json.plan_cost} | tojson }}"
            ),
            "icon": "mdi:calendar-clock",
        },
    }
    readings = {
        ("sensor", f"current_{phase}"): {
            "name": f"Current {phase.upper()}",
            "state_topic": state,
            "value_template": f"{{{{ value_json.current_{phase}_a }}}}",
            "device_class": "current",
            "unit_of_measurement": "A",
            "state_class": "measurement",
        }
        for phase in ("l1", "l2", "l3")[: max(1, charger.phases)]
    }
    if reports_soc:
        readings[("sensor", "soc")] = {
            "name": "State of charge",
            "state_topic": state,
            "value_template": "{{ value_json.soc_percent }}",
            "device_class": "battery",
            "unit_of_measurement": "%",
            "state_class": "measurement",
        }
    shared = {"device": common["device"], "origin": ORIGIN}
    return [
        Publication(
            f"{config.ha_discovery_prefix}/{component}/{node}/{key}/config",
            {**entity, "unique_id": f"{node}_{key}", **common},
        )
        for (component, key), entity in entities.items()
    ] + [
        Publication(
            f"{config.ha_discovery_prefix}/{component}/{node}/{key}/config",
            {**entity, "unique_id": f"{node}_{key}", **shared, **reading},
        )
        for (component, key), entity in readings.items()
    ]
