"""The interpretation cache (issue #8): a push of a layout seen before gives exactly what a fresh walk gives.

Each body is interpreted cold (cache emptied) and warm (the cache primed with another push of the same
layout whose values differ), and the two results must match field by field. The bodies are the meter-list
test bodies (positional, descriptor, Aidon, Austrian, Kamstrup) and the bodies of the captured vectors.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from meterui.protocol import axdr, lists, readings
from meterui.protocol import encode as E
from meterui.protocol.axdr import TAG, VALUE, Tape
from meterui.protocol.spans import Node
from tests.conftest import TEST_KEY, assert_tiles, decode, load_vectors, vector_bytes
from tests.test_meter_lists import BODIES, swiss_rwb_5s
from tests.test_readings import _austrian_body


def _aidon(scaler: int = -1) -> bytes:
    return E.array(
        [
            E.structure(E.obis(f"1.0.{c}.0.255"), E.u32(1000 + i), E.scaler_unit(scaler, 27))
            for i, c in enumerate(("1.7", "2.7", "31.7", "32.7"))
        ]
        + [E.structure(E.obis("0.0.1.0.0.255"), E.octets(E.cosem_datetime(datetime(2026, 5, 4, 13, 14))))]
    )


def _kamstrup(list_id: str = "Kamstrup_V0001") -> bytes:
    return E.structure(
        E.visible(list_id),
        E.obis("1.1.0.0.5.255"),
        E.visible("5706567000000000"),
        E.obis("1.1.96.1.1.255"),
        E.visible("6841121BN243101040"),
        E.obis("1.1.1.7.0.255"),
        E.u32(1234),
        E.obis("1.1.31.7.0.255"),
        E.u32(456),
        E.obis("1.1.32.7.0.255"),
        E.u16(230),
        E.obis("1.1.1.8.0.255"),
        E.u32(99999),
    )


def _vector_bodies() -> list[bytes]:
    out = []
    for name in ("hdlc", "mbus"):
        for vec in load_vectors(name):
            for msg in decode(vector_bytes(vec), key=TEST_KEY):
                body = next((n for n in msg.root.walk() if n.key == "body"), None)
                if body is not None and msg.ok:
                    out.append(bytes(msg.buffers[body.buffer][body.start : body.end]))
    return out


BODY_CASES: dict[str, bytes] = {
    **{f"positional {k}": v for k, v in BODIES.items()},
    "descriptor push": swiss_rwb_5s(),
    "Aidon": _aidon(),
    "Austrian": _austrian_body(),
    "Kamstrup": _kamstrup(),
}


def _tape(body: bytes) -> Tape:
    return axdr.parse_tape(body, 0, len(body))[0]


def _shift(tape: Tape, k: int, every: bool = True) -> Tape:
    """Another push of the same layout: its 32- and 64-bit numbers change (with ``every`` its 16-bit ones
    too: descriptors' class ids, some first elements), and 12-byte octet-strings (clocks) move on."""
    tags = {axdr.DOUBLE_LONG_UNSIGNED, axdr.LONG64_UNSIGNED, axdr.DOUBLE_LONG}
    if every:
        tags |= {axdr.LONG_UNSIGNED, axdr.LONG}
    out: Tape = []
    for t in tape:
        tag, v = t[TAG], t[VALUE]
        if tag in tags:
            v = v + k  # type: ignore[operator]
        elif tag == axdr.OCTET_STRING and isinstance(v, bytes) and len(v) == 12 and readings.looks_like_datetime(v):
            v = v[:5] + bytes([(v[5] + 1) % 24, (v[6] + k) % 60]) + v[7:]
        out.append((t[0], t[1], t[2], v, t[4], t[5]))
    return out


def _result(tape: Tape, profile: lists.MeterProfile | None = None, invert: bool = False) -> dict[str, Any]:
    top = Node("body", "body", "apdu", 0, 0)
    res = readings.interpret_tape(tape, "apdu", top, invert, profile=profile)
    return {
        "readings": [
            (
                r.id,
                r.name,
                r.value,
                type(r.value),
                r.unit,
                r.quantity,
                r.ref[1:] if r.ref else None,
                r.ref[0] is top if r.ref else None,
            )
            for r in res.readings
        ],
        "clock": res.clock,
        "meter_id": res.meter_id,
        "list_id": res.list_id,
        "warnings": res.warnings,
    }


def _cold(tape: Tape, **kw: Any) -> dict[str, Any]:
    readings._PLANS.clear()
    readings._TEMPLATES.clear()
    return _result(tape, **kw)


PROFILES = {
    "none": None,
    "energy=0.1": lists.MeterProfile({"energy": 0.1, "current": 10}),
    "tz": lists.MeterProfile(None, timezone(timedelta(hours=2))),
}


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("name", sorted(BODY_CASES))
def test_a_cached_layout_gives_what_a_fresh_walk_gives(name: str, profile: str) -> None:
    prof = PROFILES[profile]
    tape = _tape(BODY_CASES[name])
    second = _shift(tape, 7)
    want = _cold(second, profile=prof)
    readings._PLANS.clear()
    first = _result(tape, profile=prof)
    assert first != want or not any(t[TAG] in axdr.NUMERIC_TAGS for t in tape)  # the values did change
    assert _result(second, profile=prof) == want
    assert _result(second, profile=prof) == want  # and from the plan the second push left


def test_the_common_layouts_are_cached_and_the_hit_reads_the_new_values() -> None:
    for body in (_aidon(), _kamstrup(), _austrian_body(), swiss_rwb_5s(), *BODIES.values()):
        readings._PLANS.clear()
        tape = _tape(body)
        _result(tape)
        plans = list(readings._PLANS.values())
        assert len(plans) == 1 and plans[0] is not None
        hit = plans[0].apply(_shift(tape, 3, False), "apdu", Node("body", "body", "apdu", 0, 0))
        assert hit is not None
        assert [r.value for r in hit.readings] == [v[2] for v in _cold(_shift(tape, 3, False))["readings"]]


def test_vector_bodies_decode_alike_cold_and_warm() -> None:
    bodies = _vector_bodies()
    assert len(bodies) >= 5
    for body in bodies:
        tape = _tape(body)
        want = _cold(_shift(tape, 11))
        readings._PLANS.clear()
        _result(tape)
        assert _result(_shift(tape, 11)) == want


def test_a_changed_scaler_is_not_read_from_the_cache() -> None:
    readings._PLANS.clear()
    _result(_tape(_aidon(-1)))
    got = _result(_tape(_aidon(-2)))
    assert got == _cold(_tape(_aidon(-2)))
    assert got["readings"][0][2] == 10.0  # 1000 × 10^-2, not × 10^-1


def test_a_changed_list_id_is_not_read_from_the_cache() -> None:
    readings._PLANS.clear()
    _result(_tape(_kamstrup("Kamstrup_V0001")))
    got = _result(_tape(_kamstrup("Kamstrup_V0002")))
    assert got == _cold(_tape(_kamstrup("Kamstrup_V0002")))


def test_profiles_and_clock_conventions_do_not_share_plans() -> None:
    tape = _tape(_kamstrup())
    readings._PLANS.clear()
    plain = _result(tape)
    scaled = _result(tape, profile=PROFILES["energy=0.1"])
    inverted = _result(_tape(_aidon()), invert=True)
    assert plain != scaled
    assert scaled == _cold(tape, profile=PROFILES["energy=0.1"])
    assert inverted == _cold(_tape(_aidon()), invert=True)


def test_the_cache_is_bounded() -> None:
    readings._PLANS.clear()
    for n in range(readings.PLAN_CACHE_SIZE + 20):
        _result(_tape(E.structure(*[E.u16(i) for i in range(n % 40 + 1)], E.visible(f"id{n}"))))
    assert len(readings._PLANS) == readings.PLAN_CACHE_SIZE


# -- whole messages: the byte templates (``readings.match_body``) -------------------------------------
def _shift_bytes(body: bytes, k: int) -> bytes:
    """``body`` with its 32-bit numbers and clocks changed in place (the same layout, other values)."""
    out = bytearray(body)
    for t in _tape(body):
        if t[TAG] in (axdr.DOUBLE_LONG_UNSIGNED, axdr.DOUBLE_LONG):
            out[t[1] + 1 : t[2]] = ((int.from_bytes(body[t[1] + 1 : t[2]], "big") + k) % 2**31).to_bytes(4, "big")
        elif t[TAG] == axdr.OCTET_STRING and t[2] - t[1] == 14 and readings.looks_like_datetime(t[VALUE]):  # type: ignore[arg-type]
            out[t[1] + 8] = (out[t[1] + 8] + k) % 60
    return bytes(out)


def _messages(body: bytes, profile: lists.MeterProfile | None = None) -> list[tuple[Any, ...]]:
    from meterui.protocol.decoder import StreamDecoder

    d = StreamDecoder(profile=profile)
    msgs = d.feed(E.hdlc_frame(E.LLC + E.data_notification(body))) + d.flush()
    assert_tiles(msgs)
    return [(m.to_json(), [(r.span, r.node.span if r.node else None) for r in m.readings]) for m in msgs]


def _cold_messages(body: bytes, profile: lists.MeterProfile | None = None) -> list[tuple[Any, ...]]:
    readings._PLANS.clear()
    readings._TEMPLATES.clear()
    return _messages(body, profile)


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("name", sorted(BODY_CASES))
def test_a_learnt_layout_read_from_bytes_gives_what_a_fresh_decode_gives(name: str, profile: str) -> None:
    prof = PROFILES[profile]
    body = BODY_CASES[name]
    other = _shift_bytes(body, 5)
    want = _cold_messages(other, prof)
    first = _cold_messages(body, prof)
    assert first != want or other == body
    assert _messages(other, prof) == want
    assert _messages(other, prof) == want


def test_common_layouts_are_read_from_bytes() -> None:
    for body in (_aidon(), _kamstrup(), _austrian_body(), swiss_rwb_5s(), BODIES["Kaifa list 3 (3-phase)"]):
        _cold_messages(body)
        assert len(readings._TEMPLATES) == 1
        plan = readings._TEMPLATES[0]
        other = _shift_bytes(body, 9)
        assert readings.match_body(other, 0, len(other), False, None) is plan
        assert readings.match_body(other[:-1], 0, len(other) - 1, False, None) is None  # cut short
        assert readings.match_body(b"\x00" + other[1:], 0, len(other), False, None) is None  # another layout
        assert readings.match_body(other, 0, len(other), True, None) is None  # another clock convention


def test_a_u32_that_could_be_a_swapped_obis_tag_is_not_learnt_as_a_value() -> None:
    # {06 09000001, 06 AABB77DD}: read as two u32; but with 00 in place of 77 the parser takes the first
    # 8 bytes for an OBIS code whose tag a Landis+Gyr firmware swapped, so the bytes are not a template
    body = E.structure(E.structure(E.u32(0x09000001), E.u32(0xAABB77DD)), E.u16(1))
    assert [r[2] for r in _cold(_tape(body))["readings"]] == [0x09000001, 0xAABB77DD, 1]
    assert readings._TEMPLATES == []
    _cold_messages(body)
    assert readings._TEMPLATES == []
    flipped = E.structure(E.structure(E.u32(0x09000001), E.u32(0xAABB00DD)), E.u16(1))
    assert _messages(flipped) == _cold_messages(flipped)
    assert "OBIS" in str(_cold_messages(flipped)) or _cold_messages(flipped) != _cold_messages(body)


def test_vector_messages_decode_alike_cold_and_warm() -> None:
    for body in _vector_bodies():
        other = _shift_bytes(body, 3)
        want = _cold_messages(other)
        _cold_messages(body)
        assert _messages(other) == want


def test_threads_sharing_the_cache_get_what_a_fresh_decode_gives() -> None:
    import threading

    bodies = [_aidon(), _kamstrup(), _austrian_body(), swiss_rwb_5s(), *list(BODIES.values())[:8]]
    wants = [_cold_messages(b) for b in bodies]
    readings._PLANS.clear()
    readings._TEMPLATES.clear()
    failures: list[str] = []

    def work(offset: int) -> None:
        for i in range(60):
            k = (i + offset) % len(bodies)
            if _messages(bodies[k]) != wants[k]:
                failures.append(f"body {k}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
