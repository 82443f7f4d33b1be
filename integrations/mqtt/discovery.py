"""Home Assistant MQTT discovery: each charger appears as a device with sensors (power,
session energy, status, limit source), a connectivity sensor, a number for its power limit
and start/stop buttons, all reading the state topic and writing the command topic."""

import json
import re

from chargers.models import Charger
from integrations.mqtt.config import MqttConfig
from integrations.mqtt.topics import Publication

ORIGIN = {"name": "Gray Logic EV bridge"}


def _object_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


def charger_discovery(*, config: MqttConfig, charger: Charger) -> list[Publication]:
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
    }
    return [
        Publication(
            f"{config.ha_discovery_prefix}/{component}/{node}/{key}/config",
            {**entity, "unique_id": f"{node}_{key}", **common},
        )
        for (component, key), entity in entities.items()
    ]
