"""MQTT for tests: a client that records what the bridge publishes, and control of the real
Mosquitto on 127.0.0.1:1883 (stopped and started again the way CI machines start it)."""

import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

BROKER_HOST, BROKER_PORT = "127.0.0.1", 1883
MOSQUITTO_START = ["mosquitto", "-d", "-c", "/etc/mosquitto/mosquitto.conf"]


@dataclass(frozen=True)
class Message:
    topic: str
    raw: bytes
    qos: int
    retain: bool
    at: float

    @property
    def json(self):
        return json.loads(self.raw)


class Recorder:
    """Subscribes to a topic filter and keeps every message it receives."""

    def __init__(self, topic_filter: str):
        self.topic_filter = topic_filter
        self.messages: list[Message] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:12]}")
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *args: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)

    def __enter__(self) -> "Recorder":
        self.client.connect(BROKER_HOST, BROKER_PORT, keepalive=30)
        self.client.loop_start()
        assert self._subscribed.wait(10), "the test client could not subscribe"
        return self

    def __exit__(self, *exc) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        client.subscribe(self.topic_filter, qos=1)

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append(
                Message(message.topic, bytes(message.payload), message.qos, bool(message.retain), time.monotonic())
            )

    def on(self, topic: str) -> list[Message]:
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    def wait_for(self, topic: str, check=lambda payload: True, timeout_s: float = 15.0) -> Message:
        """The first message on the topic whose JSON payload passes the check."""
        deadline = time.monotonic() + timeout_s
        while True:
            for message in self.on(topic):
                try:
                    payload = message.json
                except ValueError:
                    payload = message.raw.decode(errors="replace")
                if check(payload):
                    return message
            if time.monotonic() > deadline:
                seen = [m.raw[:300] for m in self.on(topic)]
                raise AssertionError(f"nothing matching on {topic} within {timeout_s} s; seen: {seen}")
            time.sleep(0.02)

    def publish(self, topic: str, payload: bytes | str | dict, *, qos: int = 1, retain: bool = False) -> None:
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(10)


def clear_retained(topic_filter: str) -> None:
    """Remove every retained message under the filter, so test runs leave the broker clean."""
    with Recorder(topic_filter) as recorder:
        time.sleep(0.5)
        topics = {m.topic for m in recorder.messages if m.retain}
        for topic in topics:
            recorder.publish(topic, b"", retain=True)


def broker_reachable() -> bool:
    try:
        socket.create_connection((BROKER_HOST, BROKER_PORT), timeout=1).close()
        return True
    except OSError:
        return False


def broker_stop() -> None:
    for pid in subprocess.run(["pgrep", "-x", "mosquitto"], capture_output=True, text=True).stdout.split():
        os.kill(int(pid), signal.SIGTERM)
    deadline = time.monotonic() + 15
    while broker_reachable():
        assert time.monotonic() < deadline, "Mosquitto did not stop"
        time.sleep(0.1)


def broker_start() -> None:
    """Start Mosquitto as CI machines do, unless it runs; wait until it listens."""
    if not broker_reachable():
        subprocess.run(MOSQUITTO_START, check=True, timeout=15)
    deadline = time.monotonic() + 15
    while not broker_reachable():
        assert time.monotonic() < deadline, "Mosquitto did not start"
        time.sleep(0.1)
