"""The MQTT bridge (spec: "MQTT Integration"): chargers' state, connectors, transactions and
meter values out; commands, energy readings and grid levels in; Home Assistant discovery.

config.py reads the settings, topics.py names and matches topics, payloads.py reads what is
published from the database, inbound.py carries out what comes in, discovery.py describes the
chargers to Home Assistant and bridge.py holds the connection and ties them together.
"""
