"""OBIS codes: names and normalised quantities (IEC 62056-6-1; NEK/NVE list docs; protocols.md §3.5).

Lookup ignores the B (channel) and F fields, so ``1.0.1.7.0.255`` (Aidon, Kaifa) and ``1.1.1.7.0.255``
(Kamstrup) resolve to the same entry.
"""

from __future__ import annotations

from meterui.protocol.records import TupleRecord, tuple_field


class ObisInfo(TupleRecord, tuple[str, str | None, str | None]):
    __slots__ = ()
    _fields = ("name", "quantity", "unit")

    name: str = tuple_field(0)
    quantity: str | None = tuple_field(1)
    unit: str | None = tuple_field(2)
    """The unit implied when a list carries no scaler-unit (list specifications may override)."""

    def __new__(cls, name: str, quantity: str | None = None, unit: str | None = None) -> ObisInfo:
        return tuple.__new__(cls, (name, quantity, unit))


# (A, C, D, E) -> info
OBIS_TABLE: dict[tuple[int, int, int, int], ObisInfo] = {
    # electricity, instantaneous
    (1, 1, 7, 0): ObisInfo("Active power import (+P)", "active_power_import", "W"),
    (1, 2, 7, 0): ObisInfo("Active power export (-P)", "active_power_export", "W"),
    (1, 3, 7, 0): ObisInfo("Reactive power import (+Q)", "reactive_power_import", "var"),
    (1, 4, 7, 0): ObisInfo("Reactive power export (-Q)", "reactive_power_export", "var"),
    (1, 9, 7, 0): ObisInfo("Apparent power import (+S)", None, "VA"),
    (1, 10, 7, 0): ObisInfo("Apparent power export (-S)", None, "VA"),
    (1, 16, 7, 0): ObisInfo("Active power net (+P − −P)", None, "W"),
    (1, 21, 7, 0): ObisInfo("Active power import L1", "active_power_import_l1", "W"),
    (1, 41, 7, 0): ObisInfo("Active power import L2", "active_power_import_l2", "W"),
    (1, 61, 7, 0): ObisInfo("Active power import L3", "active_power_import_l3", "W"),
    (1, 22, 7, 0): ObisInfo("Active power export L1", "active_power_export_l1", "W"),
    (1, 42, 7, 0): ObisInfo("Active power export L2", "active_power_export_l2", "W"),
    (1, 62, 7, 0): ObisInfo("Active power export L3", "active_power_export_l3", "W"),
    (1, 23, 7, 0): ObisInfo("Reactive power import L1", None, "var"),
    (1, 43, 7, 0): ObisInfo("Reactive power import L2", None, "var"),
    (1, 63, 7, 0): ObisInfo("Reactive power import L3", None, "var"),
    (1, 24, 7, 0): ObisInfo("Reactive power export L1", None, "var"),
    (1, 44, 7, 0): ObisInfo("Reactive power export L2", None, "var"),
    (1, 64, 7, 0): ObisInfo("Reactive power export L3", None, "var"),
    (1, 31, 7, 0): ObisInfo("Current L1", "current_l1", "A"),
    (1, 51, 7, 0): ObisInfo("Current L2", "current_l2", "A"),
    (1, 71, 7, 0): ObisInfo("Current L3", "current_l3", "A"),
    (1, 91, 7, 0): ObisInfo("Current neutral", None, "A"),
    (1, 32, 7, 0): ObisInfo("Voltage L1", "voltage_l1", "V"),
    (1, 52, 7, 0): ObisInfo("Voltage L2", "voltage_l2", "V"),
    (1, 72, 7, 0): ObisInfo("Voltage L3", "voltage_l3", "V"),
    (1, 13, 7, 0): ObisInfo("Power factor", "power_factor", None),
    (1, 33, 7, 0): ObisInfo("Power factor L1", None, None),
    (1, 53, 7, 0): ObisInfo("Power factor L2", None, None),
    (1, 73, 7, 0): ObisInfo("Power factor L3", None, None),
    (1, 14, 7, 0): ObisInfo("Frequency", "frequency", "Hz"),
    # electricity, cumulative
    (1, 1, 8, 0): ObisInfo("Active energy import (A+)", "active_energy_import", "Wh"),
    (1, 2, 8, 0): ObisInfo("Active energy export (A-)", "active_energy_export", "Wh"),
    (1, 3, 8, 0): ObisInfo("Reactive energy import (R+)", "reactive_energy_import", "varh"),
    (1, 4, 8, 0): ObisInfo("Reactive energy export (R-)", "reactive_energy_export", "varh"),
    (1, 1, 8, 1): ObisInfo("Active energy import tariff 1", "active_energy_import_t1", "Wh"),
    (1, 1, 8, 2): ObisInfo("Active energy import tariff 2", "active_energy_import_t2", "Wh"),
    (1, 2, 8, 1): ObisInfo("Active energy export tariff 1", "active_energy_export_t1", "Wh"),
    (1, 2, 8, 2): ObisInfo("Active energy export tariff 2", "active_energy_export_t2", "Wh"),
    (1, 3, 8, 1): ObisInfo("Reactive energy import tariff 1", None, "varh"),
    (1, 3, 8, 2): ObisInfo("Reactive energy import tariff 2", None, "varh"),
    (1, 4, 8, 1): ObisInfo("Reactive energy export tariff 1", None, "varh"),
    (1, 4, 8, 2): ObisInfo("Reactive energy export tariff 2", None, "varh"),
    (1, 21, 8, 0): ObisInfo("Active energy import L1", None, "Wh"),
    (1, 41, 8, 0): ObisInfo("Active energy import L2", None, "Wh"),
    (1, 61, 8, 0): ObisInfo("Active energy import L3", None, "Wh"),
    (1, 22, 8, 0): ObisInfo("Active energy export L1", None, "Wh"),
    (1, 42, 8, 0): ObisInfo("Active energy export L2", None, "Wh"),
    (1, 62, 8, 0): ObisInfo("Active energy export L3", None, "Wh"),
    (1, 5, 8, 0): ObisInfo("Reactive energy QI", None, "varh"),
    (1, 6, 8, 0): ObisInfo("Reactive energy QII", None, "varh"),
    (1, 7, 8, 0): ObisInfo("Reactive energy QIII", None, "varh"),
    (1, 8, 8, 0): ObisInfo("Reactive energy QIV", None, "varh"),
    (1, 15, 8, 0): ObisInfo("Active energy absolute (|A|)", None, "Wh"),
    (1, 16, 8, 0): ObisInfo("Active energy net (A+ − A−)", None, "Wh"),
    # electricity, identification (NEK list and Kamstrup codes use A = 1)
    (1, 0, 2, 129): ObisInfo("List version identifier", "list_id", None),
    (1, 0, 0, 5): ObisInfo("Meter ID", "meter_id", None),
    (1, 0, 0, 1): ObisInfo("Meter number", None, None),
    (1, 96, 1, 1): ObisInfo("Meter type", "meter_type", None),
    (1, 0, 2, 0): ObisInfo("Firmware version", None, None),
    # abstract
    (0, 1, 0, 0): ObisInfo("Clock", "meter_clock", None),
    (0, 96, 1, 0): ObisInfo("Meter ID", "meter_id", None),
    (0, 96, 1, 1): ObisInfo("Device ID 2", None, None),
    (0, 96, 1, 2): ObisInfo("Device ID (meter number)", "meter_id", None),
    (0, 96, 3, 0): ObisInfo("Data object 0-0:96.3.0 (meaning unknown)", None, None),
    (0, 96, 13, 1): ObisInfo("Consumer message code", None, None),
    (0, 0, 9, 1): ObisInfo("Local time", None, None),
    (0, 0, 9, 2): ObisInfo("Local date", None, None),
    (0, 24, 1, 0): ObisInfo("M-Bus device", None, None),
    (0, 96, 1, 7): ObisInfo("Meter type", "meter_type", None),
    (0, 42, 0, 0): ObisInfo("Logical device name", None, None),
    (0, 25, 9, 0): ObisInfo("Push setup", None, None),
    (0, 96, 14, 0): ObisInfo("Current tariff", None, None),
    (0, 96, 3, 10): ObisInfo("Disconnect control", None, None),
    (0, 96, 13, 0): ObisInfo("Consumer message", None, None),
    (0, 24, 2, 1): ObisInfo("Gas volume", "gas_volume", "m3"),
    (7, 3, 0, 0): ObisInfo("Gas volume", "gas_volume", "m3"),
    (7, 3, 1, 0): ObisInfo("Gas volume (corrected)", "gas_volume", "m3"),
}

LIST_ID_OBIS = "1.1.0.2.129.255"
CLOCK_KEYS = frozenset({(0, 1, 0, 0)})
PUSH_SETUP_KEYS = frozenset({(0, 25, 9, 0)})


_TEXT_CACHE: dict[bytes, str] = {}


def obis_text(raw: bytes) -> str:
    """``A.B.C.D.E.F`` in decimal."""
    text = _TEXT_CACHE.get(raw)
    if text is None:
        text = "%d.%d.%d.%d.%d.%d" % tuple(raw)  # noqa: UP031 - fastest for six small ints
        if len(_TEXT_CACHE) < 4096:
            _TEXT_CACHE[raw] = text
    return text


def obis_key(raw: bytes) -> tuple[int, int, int, int]:
    return (raw[0], raw[2], raw[3], raw[4])


def lookup(raw: bytes) -> ObisInfo | None:
    """The entry for an OBIS code; energy/power codes sent with A=0 (L+G ZMF100 "Embriq" list) resolve
    to the electricity (A=1) entry."""
    info = OBIS_TABLE.get((raw[0], raw[2], raw[3], raw[4]))
    if info is None and raw[0] == 0 and raw[3] in (7, 8) and raw[2] > 0:
        info = OBIS_TABLE.get((1, raw[2], raw[3], raw[4]))
    return info


def a_zero_quirk(raw: bytes) -> bool:
    """An electricity code sent with A=0 (firmware quirk) that :func:`lookup` read as A=1."""
    return raw[0] == 0 and raw[3] in (7, 8) and raw[2] > 0 and (0, raw[2], raw[3], raw[4]) not in OBIS_TABLE


def describe(raw: bytes) -> str:
    info = lookup(raw)
    return f"{obis_text(raw)} {info.name}" if info else obis_text(raw)


def parse_obis(text: str) -> bytes:
    """``"1.0.1.7.0.255"`` (also ``1-0:1.7.0.255``, with or without F) → 6 bytes; ValueError if malformed."""
    parts = [p for p in text.replace("-", ".").replace(":", ".").replace("*", ".").split(".") if p != ""]
    if len(parts) == 5:
        parts.append("255")
    if len(parts) != 6:
        raise ValueError(f"not an OBIS code: {text!r}")
    values = [int(p) for p in parts]
    if any(not 0 <= v <= 255 for v in values):
        raise ValueError(f"not an OBIS code: {text!r}")
    return bytes(values)


_RESOLVED: dict[bytes, tuple[str, str, str | None, str | None, str]] = {}


def resolve(raw: bytes) -> tuple[str, str, str | None, str | None, str]:
    """(text, name, quantity, default unit, description) for an OBIS code; cached."""
    hit = _RESOLVED.get(raw)
    if hit is None:
        text = obis_text(raw)
        info = lookup(raw)
        if info is None:
            hit = (text, f"OBIS {text}", None, None, text)
        else:
            quirk = " (sent with A=0: firmware quirk, read as electricity)" if a_zero_quirk(raw) else ""
            hit = (text, info.name, info.quantity, info.unit, f"{text} {info.name}{quirk}")
        if len(_RESOLVED) < 4096:
            _RESOLVED[raw] = hit
    return hit
