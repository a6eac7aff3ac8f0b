"""MeterModel: latest values, min/max, bounded histories, flat memory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meterui.model import MeterModel, ReadingState
from meterui.protocol.decoder import StreamDecoder
from meterui.protocol.errors import DecryptionError, FramingError
from meterui.protocol.message import Message, Reading
from meterui.protocol.spans import Node

VECTORS = Path(__file__).with_name("data") / "model_kamstrup_vectors.json"  # from shared/vectors/hdlc.json


def msg(
    readings: list[Reading],
    *,
    meter: str | None = "A",
    received: float | None = 100.0,
    error: Exception | None = None,
    index: int = 0,
) -> Message:
    return Message(
        index=index,
        protocol="hdlc",
        offsets=[(0, 1)],
        root=Node("", "message", "frame", 0, 1),
        buffers={"frame": b"\x7e"},
        error=error,
        readings=readings,
        meter=meter,  # type: ignore[arg-type]
        received=received,
    )


def power(value: float | int | str, rid: str = "1.0.1.7.0.255") -> Reading:
    return Reading(rid, "Active power +", value, "W", "power_import")


def test_latest_value_min_max_count() -> None:
    model = MeterModel()
    model.update([msg([power(1000)], received=1.0), msg([power(250.5)], received=2.0)])
    model.update([msg([power(4000)], received=3.0)])
    state = model.get("1.0.1.7.0.255", "A")
    assert state == ReadingState("1.0.1.7.0.255", "Active power +", "W", "power_import", 4000, 250.5, 4000.0, 3.0, 3)
    assert model.values("1.0.1.7.0.255") == [1000.0, 250.5, 4000.0]
    assert list(model.history("1.0.1.7.0.255", "A")) == [(1.0, 1000.0), (2.0, 250.5), (3.0, 4000.0)]


def test_text_values_have_no_min_max_or_history() -> None:
    model = MeterModel()
    model.update([msg([Reading("1.1.0.2.129.255", "List", "Kamstrup_V0001", None, "list_id")])])
    state = model.get("1.1.0.2.129.255")
    assert state is not None and state.min is None and state.max is None and state.count == 1
    assert not state.is_numeric
    assert model.values("1.1.0.2.129.255") == []


def test_bool_and_nan_are_not_numbers() -> None:
    model = MeterModel()
    model.update([msg([power(True), power(float("nan"), "x")])])  # type: ignore[arg-type]
    assert model.get("1.0.1.7.0.255").min is None  # type: ignore[union-attr]
    assert model.values("x") == []


def test_history_is_bounded_and_memory_flat() -> None:
    model = MeterModel(history=50)
    for i in range(40_000):  # more than a day of 2.5 s pushes
        model.update([msg([power(i), power(i * 2, "1.0.2.7.0.255")], received=float(i))])
    hist = model.history("1.0.1.7.0.255")
    assert len(hist) == 50 and hist.maxlen == 50
    assert hist[0] == (39_950.0, 39_950.0) and hist[-1] == (39_999.0, 39_999.0)
    assert len(model.readings("A")) == 2
    state = model.get("1.0.1.7.0.255")
    assert state is not None and state.count == 40_000 and state.min == 0 and state.max == 39_999
    assert model.messages == 40_000


def test_counters_by_layer() -> None:
    model = MeterModel()
    model.update(
        [
            msg([power(1)]),
            msg([], error=FramingError("bad FCS")),
            msg([], error=DecryptionError("wrong key")),
            msg([], error=FramingError("bad HCS")),
        ]
    )
    assert (model.messages, model.ok, model.errors) == (4, 1, 3)
    assert model.errors_by_layer == {"frame": 2, "crypto": 1}
    assert model.last_update == 100.0


def test_meters_latest_and_default_label() -> None:
    model = MeterModel()
    model.update(
        [
            msg([power(10)], meter="A", received=1.0),
            msg([power(20)], meter=None, received=2.0),
            msg([power(30)], meter="B", received=3.0),
            msg([power(5)], meter="A", received=4.0),
        ]
    )
    assert model.meters() == ["A", "meter", "B"]
    latest = model.latest("power_import")
    assert latest is not None and latest.value == 5 and latest.last_update == 4.0
    assert model.latest("voltage_l1") is None
    assert model.values("1.0.1.7.0.255", "B") == [30.0]
    assert model.values("1.0.1.7.0.255") == [10.0, 5.0]  # the meter updated last


def test_number_of_meters_is_capped() -> None:
    model = MeterModel(max_meters=3)
    for i in range(10):
        model.update([msg([power(i)], meter=f"m{i}", received=float(i))])
    assert model.meters() == ["m7", "m8", "m9"]
    assert model.values("1.0.1.7.0.255", "m0") == []


def test_message_without_time_uses_now() -> None:
    model = MeterModel()
    model.update([msg([power(1)], received=None)], now=42.0)
    assert model.get("1.0.1.7.0.255").last_update == 42.0  # type: ignore[union-attr]


def test_reset_minmax_and_clear() -> None:
    model = MeterModel()
    model.update([msg([power(1)]), msg([power(9)]), msg([power(5)])])
    model.reset_minmax()
    state = model.get("1.0.1.7.0.255")
    assert state is not None and (state.min, state.max) == (5.0, 5.0)
    assert len(model.values("1.0.1.7.0.255")) == 3
    model.clear()
    assert model.meters() == [] and model.messages == 0


def test_invalid_history_size() -> None:
    with pytest.raises(ValueError):
        MeterModel(history=0)


def test_fed_from_real_decoded_frames() -> None:
    vectors = json.loads(VECTORS.read_text())["vectors"]
    decoder = StreamDecoder()
    model = MeterModel(history=4)
    for n, vector in enumerate(vectors):
        for frame in vector["frames_hex"]:
            model.update(decoder.feed(bytes.fromhex(frame), received=1000.0 + n))
    assert model.ok == len(vectors) and model.errors == 0
    (meter,) = model.meters()
    expected = vectors[0]["expected"]
    voltage = model.get("1.1.32.7.0.255", meter)
    assert voltage is not None and voltage.count == len(vectors)
    assert voltage.min is not None and voltage.max is not None
    assert voltage.min <= expected["1.1.32.7.0.255"] <= voltage.max  # the first frame's 220 V was seen
    assert len(model.values("1.1.1.7.0.255")) == 4  # bounded to the last 4 of 6
    assert model.get("1.1.96.1.1.255", meter).value == "6841121BN243101040"  # type: ignore[union-attr]
