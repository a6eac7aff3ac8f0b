"""Test helpers for MQTT: a paho subscriber that records what arrives, and a gate between client and broker."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.broker import free_port


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    qos: int

    def json(self) -> Any:
        return json.loads(self.payload)


class Subscriber:
    """Connects, subscribes to ``topics`` and waits until the broker acknowledged the subscription."""

    def __init__(self, port: int, topics: list[str], user: str | None = None, password: str | None = None) -> None:
        self.messages: list[Received] = []
        self.topics = topics
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        if user:
            self.client.username_pw_set(user, password)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe([(t, 1) for t in topics])
        self.client.loop_start()
        if not self._subscribed.wait(20):
            self.close()
            raise RuntimeError("subscription not acknowledged")

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        # amqtt 0.12 hands a new subscriber retained messages of other topics too: keep what was asked for
        if not any(mqtt.topic_matches_sub(t, msg.topic) for t in self.topics):
            return
        with self._cond:
            self.messages.append(Received(msg.topic, msg.payload, bool(msg.retain), msg.qos))
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return list(self.messages)

    def on(self, topic: str) -> list[Received]:
        with self._cond:
            return [m for m in self.messages if m.topic == topic]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.disconnect()
        self.client.loop_stop()


class Gate:
    """A TCP relay to ``127.0.0.1:target``: while shut, every connection is closed at once."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = free_port()
        self.open = False
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._socks: list[socket.socket] = []
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            if not self.open:
                conn.close()
                continue
            try:
                up = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                conn.close()
                continue
            up.settimeout(None)
            self._socks += [conn, up]
            threading.Thread(target=self._pipe, args=(conn, up), daemon=True).start()
            threading.Thread(target=self._pipe, args=(up, conn), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stop = True
        self._server.close()
        for s in self._socks:
            with contextlib.suppress(OSError):
                s.close()
