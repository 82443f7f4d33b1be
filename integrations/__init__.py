"""Bridges to other systems (MQTT), on top of the apps they publish and steer."""
