"""Topic names and payloads: the state JSON and Home Assistant discovery (Domoticz reads the same).

Pure functions over decoded :class:`~meterui.protocol.message.Message` objects; the meter knowledge
(which quantity is which Home Assistant device class, who made a meter) is in the tables below.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from meterui.protocol.message import Message

_SLUG = re.compile(r"[^a-z0-9_-]")

IDENTITY_QUANTITIES = frozenset({"meter_id", "meter_type", "list_id", "meter_clock"})
"""Quantities that describe the meter rather than measure something: in the state, never a sensor."""


@dataclass(frozen=True, slots=True)
class SensorKind:
    """How Home Assistant should read one unit: device class, state class, its unit and a factor."""

    device_class: str | None
    state_class: str
    unit: str | None
    factor: float = 1.0
    """Multiply the state's value (in the JSON contract's unit) by this to get ``unit``."""


# unit in the JSON contract -> Home Assistant's view of it. Energy is shown in kWh, as HA expects.
SENSOR_BY_UNIT: dict[str, SensorKind] = {
    "W": SensorKind("power", "measurement", "W"),
    "kW": SensorKind("power", "measurement", "kW"),
    "var": SensorKind("reactive_power", "measurement", "var"),
    "kvar": SensorKind("reactive_power", "measurement", "kvar"),
    "VA": SensorKind("apparent_power", "measurement", "VA"),
    "V": SensorKind("voltage", "measurement", "V"),
    "A": SensorKind("current", "measurement", "A"),
    "Hz": SensorKind("frequency", "measurement", "Hz"),
    "Wh": SensorKind("energy", "total_increasing", "kWh", 0.001),
    "kWh": SensorKind("energy", "total_increasing", "kWh"),
    # Home Assistant has no device class for reactive energy in every version: a plain counter
    "varh": SensorKind(None, "total_increasing", "kvarh", 0.001),
    "kvarh": SensorKind(None, "total_increasing", "kvarh"),
    "m3": SensorKind("gas", "total_increasing", "m³"),
}
SENSOR_BY_QUANTITY: dict[str, SensorKind] = {
    "power_factor": SensorKind("power_factor", "measurement", None),
}

# The first three letters of a DLMS system title are the FLAG manufacturer id.
MANUFACTURER_BY_FLAG: dict[str, str] = {
    "KAM": "Kamstrup",
    "KFM": "Kaifa",
    "AID": "Aidon",
    "LGZ": "Landis+Gyr",
    "ISK": "Iskraemeco",
    "SAG": "Sagemcom",
    "HON": "Honeywell",
    "ELS": "Elster",
}
# A list id (OBIS 1.1.0.2.129.255) starts with the maker's name in the Norwegian lists.
MANUFACTURER_BY_LIST_PREFIX: dict[str, str] = {
    "aidon": "Aidon",
    "kfm": "Kaifa",
    "kamstrup": "Kamstrup",
}


def slug(text: str) -> str:
    """Lower-case, every character other than ``[a-z0-9_-]`` replaced by ``_``."""
    return _SLUG.sub("_", text.lower()) or "_"


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def meter_number(msg: Message) -> str | None:
    """The meter number when this message carries one."""
    for r in msg.readings:
        if r.quantity == "meter_id":
            return _text(r.value) or (str(r.value) if isinstance(r.value, int) else None)
    return None


def meter_label(msg: Message) -> str | None:
    """The meter as decoded: its number, else the system title, HDLC address or module sender."""
    return meter_number(msg) or msg.meter


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def state_payload(msg: Message, received: float) -> dict[str, Any]:
    """``{"time", "clock", "readings": {QUANTITY or reading id: value}}`` in the JSON contract's units."""
    readings: dict[str, Any] = {}
    for r in msg.readings:
        readings[r.quantity or r.id] = r.value
    return {
        "time": _iso(msg.received if msg.received is not None else received),
        "clock": msg.clock,
        "readings": readings,
    }


def sensor_kind(quantity: str, unit: str | None) -> SensorKind | None:
    """How Home Assistant reads a quantity, or ``None`` when it gets no sensor."""
    if quantity in IDENTITY_QUANTITIES:
        return None
    kind = SENSOR_BY_QUANTITY.get(quantity)
    if kind is None and unit is not None:
        kind = SENSOR_BY_UNIT.get(unit)
    return kind


@dataclass(slots=True)
class DeviceInfo:
    """What is known about one meter (filled in as messages arrive)."""

    slug: str
    label: str
    manufacturer: str | None = None
    model: str | None = None

    def learn(self, msg: Message) -> bool:
        """Update from ``msg``; True when something new was learned."""
        before = (self.manufacturer, self.model)
        if self.manufacturer is None and msg.system_title is not None:
            flag = msg.system_title[:3].decode("ascii", "replace").upper()
            self.manufacturer = MANUFACTURER_BY_FLAG.get(flag)
        for r in msg.readings:
            if r.quantity == "meter_type" and self.model is None:
                self.model = _text(r.value)
            elif r.quantity == "list_id" and self.manufacturer is None and (text := _text(r.value)):
                for prefix, name in MANUFACTURER_BY_LIST_PREFIX.items():
                    if text.lower().startswith(prefix):
                        self.manufacturer = name
        if self.manufacturer is None and msg.list_id:
            for prefix, name in MANUFACTURER_BY_LIST_PREFIX.items():
                if msg.list_id.lower().startswith(prefix):
                    self.manufacturer = name
        return (self.manufacturer, self.model) != before

    def device(self) -> dict[str, Any]:
        out: dict[str, Any] = {"identifiers": [f"meterui_{self.slug}"], "name": f"Meter {self.label}"}
        if self.manufacturer:
            out["manufacturer"] = self.manufacturer
        if self.model:
            out["model"] = self.model
        return out


def state_topic(base: str, meter: str) -> str:
    return f"{base}/{meter}/state"


def status_topic(base: str) -> str:
    return f"{base}/status"


def discovery_topic(prefix: str, meter: str, quantity: str) -> str:
    return f"{prefix}/sensor/meterui_{meter}/{quantity}/config"


def value_template(quantity: str, kind: SensorKind) -> str:
    """Reads one quantity from the state JSON; renders empty (ignored by HA) when a message lacks it."""
    value = f"value_json.readings.{quantity}"
    if kind.factor != 1.0:
        value = f"({value} * {kind.factor:g})"
    return f"{{% if '{quantity}' in value_json.readings %}}{{{{ {value} }}}}{{% endif %}}"


def discovery_payload(base: str, device: DeviceInfo, quantity: str, name: str, kind: SensorKind) -> dict[str, Any]:
    """One Home Assistant MQTT discovery config for a sensor."""
    payload: dict[str, Any] = {
        "name": name,
        "unique_id": f"meterui_{device.slug}_{quantity}",
        "object_id": f"meterui_{device.slug}_{quantity}",
        "state_topic": state_topic(base, device.slug),
        "value_template": value_template(quantity, kind),
        "state_class": kind.state_class,
        "availability_topic": status_topic(base),
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": device.device(),
    }
    if kind.device_class is not None:
        payload["device_class"] = kind.device_class
    if kind.unit is not None:
        payload["unit_of_measurement"] = kind.unit
    return payload


def dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
