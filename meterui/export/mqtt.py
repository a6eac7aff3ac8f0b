"""The MQTT exporter: a :class:`~meterui.sinks.base.Sink` that publishes states and discovery with paho.

Reading the port never waits on the broker: :meth:`MqttExporter.on_messages` only turns messages into
payloads and appends them to a bounded queue (the oldest state is dropped, and counted, when it is
full). A worker thread hands them to paho while connected; paho's own network thread connects,
reconnects with back-off (1 s doubling to 60 s) and holds the broker's last will (``offline``,
retained, on ``BASE/status``). Each change of connection state is one log line and shows in
:meth:`MqttExporter.status`. The password is never logged.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from meterui.export.topics import (
    DeviceInfo,
    discovery_payload,
    discovery_topic,
    dumps,
    meter_label,
    meter_number,
    sensor_kind,
    slug,
    state_payload,
    state_topic,
    status_topic,
)
from meterui.export.url import MqttSettings

if TYPE_CHECKING:
    from meterui.pipeline import PipelineStats
    from meterui.protocol.message import Message
    from meterui.sinks.base import PipelineEvent

logger = logging.getLogger(__name__)

DEFAULT_QUEUE = 1000
"""States kept while the broker is away (the newest win)."""
MIN_BACKOFF = 1.0
MAX_BACKOFF = 60.0
ONLINE, OFFLINE = "online", "offline"


@dataclass(frozen=True, slots=True)
class ExporterStatus:
    """A snapshot for the health strip and the log."""

    state: str
    """``connecting``, ``connected``, ``disconnected``, ``refused`` (credentials) or ``closed``."""
    published: int
    """States handed to the broker connection."""
    queued: int
    """States waiting for the broker."""
    dropped: int
    """States lost because the queue was full while the broker was away."""
    last_error: str | None
    target: str
    """``mqtt://user@host:port/base`` (never the password)."""

    @property
    def trouble(self) -> bool:
        return self.state not in ("connected", "closed")

    def describe(self) -> str:
        """One short line, e.g. ``MQTT connected, 42 published`` or ``MQTT down, 12 queued``."""
        words = {
            "connected": "connected",
            "connecting": "connecting",
            "disconnected": "down",
            "refused": "refused",
            "closed": "closed",
        }
        text = f"MQTT {words.get(self.state, self.state)}, {self.published} published"
        if self.queued:
            text += f", {self.queued} queued"
        if self.dropped:
            text += f", {self.dropped} dropped"
        return text


class MqttExporter:
    """Publishes every decoded message (or one per ``settings.interval`` per meter) to MQTT.

    ``log`` receives one line per change of state (default: this module's logger). Call :meth:`start`
    once, then feed it like any sink; :meth:`close` publishes ``offline`` and disconnects.
    """

    def __init__(
        self,
        settings: MqttSettings,
        *,
        queue_size: int = DEFAULT_QUEUE,
        log: Callable[[str], None] | None = None,
        client_id: str | None = None,
        min_backoff: float = MIN_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._log = log or logger.info
        self._clock = clock
        self._cond = threading.Condition()
        self._queue: deque[tuple[str, str]] = deque()
        self._queue_size = max(1, queue_size)
        self._discovery: dict[str, str] = {}
        self._pending_discovery: dict[str, str] = {}
        self._devices: dict[str, DeviceInfo] = {}
        self._sensors: dict[str, dict[str, tuple[str, Any]]] = {}
        self._numbers: dict[str, str] = {}
        self._held: dict[str, dict[str, Any]] = {}
        self._last_sent: dict[str, float] = {}
        self._state = "connecting"
        self._connected = False
        self._closing = False
        self._closed = False
        self._started = False
        self._published = 0
        self._dropped = 0
        self._in_flight = 0
        self._last_error: str | None = None
        self._last_logged: str | None = None
        self._base = settings.base_topic
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id or f"meterui-{uuid.uuid4().hex[:12]}", clean_session=True
        )
        if settings.username:
            self._client.username_pw_set(settings.username, settings.password)
        if settings.tls:
            self._client.tls_set(ca_certs=settings.ca_file)
        self._client.will_set(status_topic(self._base), OFFLINE, qos=1, retain=True)
        self._client.reconnect_delay_set(min_delay=max(1, round(min_backoff)), max_delay=max(1, round(max_backoff)))
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_publish = self._on_publish
        self._worker = threading.Thread(target=self._work, name="meterui-mqtt", daemon=True)

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background (never blocks on the broker) and start publishing."""
        if self._started:
            return
        self._started = True
        self._say(f"MQTT: connecting to {self.settings.describe()}")
        try:
            self._client.connect_async(self.settings.host, self.settings.port, keepalive=30)
        except (OSError, ValueError) as exc:  # pragma: no cover - connect_async only records the target
            self._set_error(f"cannot connect to {self.settings.describe()}: {exc}")
        self._client.loop_start()
        self._worker.start()

    def close(self, timeout: float = 3.0, *, offline: bool = True) -> None:
        """Send what is queued (for up to ``timeout`` s), publish ``offline`` and disconnect. Idempotent.

        ``offline=False``: leave ``BASE/status`` as it is (a successor on the same broker and base topic has
        set it ``online``)."""
        if self._closed:
            return
        self._closed = True
        with self._cond:  # states held back by the interval: the newest values go out before we leave
            for meter, held in self._held.items():
                self._enqueue(state_topic(self._base, meter), dumps(held))
            self._held.clear()
            self._cond.notify_all()
        if self._started and self._state in ("connected", "connecting"):  # not when the broker is known down
            self.flush(timeout)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._started:
            self._worker.join(timeout)
            if self._connected and offline:
                with contextlib.suppress(Exception):
                    info = self._client.publish(status_topic(self._base), OFFLINE, qos=1, retain=True)
                    info.wait_for_publish(timeout)
            with contextlib.suppress(Exception):
                self._client.disconnect()
            self._client.loop_stop()
        with self._cond:
            self._state = "closed"
            self._connected = False

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued was handed to the broker; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._pending_discovery or self._in_flight or not self._connected:
                left = deadline - time.monotonic()
                if left <= 0 or self._closing:
                    return False
                self._cond.wait(min(left, 0.2))
        return True

    def status(self) -> ExporterStatus:
        with self._cond:
            return ExporterStatus(
                self._state,
                self._published,
                len(self._queue),
                self._dropped,
                self._last_error,
                self.settings.describe(),
            )

    # -- Sink --------------------------------------------------------------------------------------------
    def on_messages(self, messages: Sequence[Message], stats: PipelineStats | None = None) -> None:
        """Turn messages into queued states (and discovery configs). Never blocks on the network."""
        now = self._clock()
        with self._cond:
            if self._closing:
                return
            for msg in messages:
                self._take(msg, now)
            self._cond.notify_all()

    def on_event(self, event: PipelineEvent) -> None:
        """Pipeline events need nothing from the exporter (its own state is in :meth:`status`)."""

    # -- turning messages into payloads (called with the lock held) --------------------------------------
    def _meter_key(self, msg: Message) -> str | None:
        number = meter_number(msg)
        if number is not None and msg.meter is not None:
            self._numbers[msg.meter] = number
        if number is None and msg.meter is not None:
            number = self._numbers.get(msg.meter)
        return number or meter_label(msg)

    def _take(self, msg: Message, now: float) -> None:
        if not msg.readings:
            return
        label = self._meter_key(msg)
        if label is None:
            return
        meter = slug(label)
        payload = state_payload(msg, now)
        self._learn(meter, label, msg)
        interval = self.settings.interval
        if interval > 0:
            held = self._held.get(meter)
            if held is not None:
                held["readings"].update(payload["readings"])
                held["time"], held["clock"] = payload["time"], payload["clock"]
                payload = held
            when = msg.received if msg.received is not None else now
            last = self._last_sent.get(meter)
            if last is not None and when - last < interval:
                self._held[meter] = payload
                return
            self._held.pop(meter, None)
            self._last_sent[meter] = when
        self._enqueue(state_topic(self._base, meter), dumps(payload))

    def _enqueue(self, topic: str, payload: str) -> None:
        if len(self._queue) >= self._queue_size:
            self._queue.popleft()
            self._dropped += 1
        self._queue.append((topic, payload))

    def _learn(self, meter: str, label: str, msg: Message) -> None:
        prefix = self.settings.discovery_prefix
        if prefix is None:
            return
        device = self._devices.get(meter)
        changed = False
        if device is None:
            device = self._devices[meter] = DeviceInfo(meter, label)
            changed = True
        changed = device.learn(msg) or changed
        sensors = self._sensors.setdefault(meter, {})
        for r in msg.readings:
            if r.quantity is None or r.quantity in sensors or not isinstance(r.value, int | float):
                continue
            kind = sensor_kind(r.quantity, r.unit)
            if kind is None:
                continue
            sensors[r.quantity] = (r.name, kind)
            self._add_discovery(prefix, device, r.quantity, r.name, kind)
        if changed:
            for quantity, (name, kind) in sensors.items():
                self._add_discovery(prefix, device, quantity, name, kind)

    def _add_discovery(self, prefix: str, device: DeviceInfo, quantity: str, name: str, kind: Any) -> None:
        topic = discovery_topic(prefix, device.slug, quantity)
        text = dumps(discovery_payload(self._base, device, quantity, name, kind))
        if self._discovery.get(topic) != text:
            self._discovery[topic] = text
            self._pending_discovery[topic] = text

    # -- the worker: hands payloads to paho while connected ----------------------------------------------
    def _work(self) -> None:
        qos = self.settings.qos
        while True:
            with self._cond:
                while not self._closing and not (self._connected and (self._pending_discovery or self._queue)):
                    self._cond.wait()
                if self._closing:
                    return
                retain = bool(self._pending_discovery)
                if retain:
                    topic, payload = next(iter(self._pending_discovery.items()))
                    del self._pending_discovery[topic]
                else:
                    topic, payload = self._queue.popleft()
                self._in_flight += 1
            try:
                rc = self._client.publish(topic, payload, qos=1 if retain else qos, retain=retain).rc
            except (OSError, ValueError, RuntimeError) as exc:
                rc = mqtt.MQTT_ERR_UNKNOWN
                self._set_error(f"publish failed: {exc}")
            with self._cond:
                self._in_flight -= 1
                if rc == mqtt.MQTT_ERR_SUCCESS:
                    if not retain:
                        self._published += 1
                else:  # not connected after all (or paho's queue is full): put it back and wait
                    if retain:
                        self._pending_discovery.setdefault(topic, payload)
                    else:
                        self._queue.appendleft((topic, payload))
                    if rc == mqtt.MQTT_ERR_NO_CONN:
                        self._connected = False
                    else:
                        self._cond.wait(0.1)
                self._cond.notify_all()

    # -- paho callbacks (paho's network thread) -----------------------------------------------------------
    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: Any, reason: Any, properties: Any = None
    ) -> None:
        if reason.is_failure:
            self._set_state(
                "refused",
                f"the MQTT broker at {self.settings.describe()} refused the connection: "
                f"{reason} (check the user name and password); retrying",
            )
            return
        client.publish(status_topic(self._base), ONLINE, qos=1, retain=True)
        self._set_state("connected", None, f"MQTT: connected to {self.settings.describe()}")
        with self._cond:
            self._pending_discovery = dict(self._discovery)  # retained, but the broker may have restarted
            self._connected = True
            self._cond.notify_all()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: object, flags: Any, reason: Any, properties: Any = None
    ) -> None:
        with self._cond:
            self._connected = False
            closing = self._closing
            self._cond.notify_all()
        if closing or self._state == "refused":
            return
        self._set_state(
            "disconnected",
            f"lost the MQTT broker at {self.settings.describe()} ({reason}); reconnecting, states are queued",
        )

    def _on_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        if self._state == "refused":
            return
        hint = " (or TLS failed: check the CA file)" if self.settings.tls else ""
        self._set_state(
            "disconnected",
            f"cannot reach the MQTT broker at {self.settings.describe()}{hint}; retrying with back-off, "
            "states are queued",
        )

    def _on_publish(
        self, client: mqtt.Client, userdata: object, mid: int, reason: Any = None, properties: Any = None
    ) -> None:
        with self._cond:
            self._cond.notify_all()

    # -- state and log --------------------------------------------------------------------------------------
    def _set_error(self, text: str) -> None:
        with self._cond:
            self._last_error = text
        self._say(f"MQTT: {text}")

    def _set_state(self, state: str, error: str | None, line: str | None = None) -> None:
        with self._cond:
            self._state = state
            if error is not None:
                self._last_error = error
        self._say(line if line is not None else f"MQTT: {error}")

    def _say(self, line: str) -> None:
        if line != self._last_logged:
            self._last_logged = line
            self._log(line)
