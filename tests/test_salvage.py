"""Nothing that arrived intact is lost: a notification body cut short inside a valid frame still yields the
readings of its complete elements (with the apdu error reported), and garbage from a wrong key yields none."""

from __future__ import annotations

import pytest

from meterui.protocol import encode as E
from meterui.protocol.axdr import COUNT, END, NEXT, parse_tape
from meterui.protocol.decoder import decode_bytes
from meterui.protocol.errors import DecodeError
from meterui.protocol.spans import tiling_gaps

KEY = bytes(range(16))


def _body() -> bytes:
    return E.array(
        [
            E.structure(E.obis("1.0.1.7.0.255"), E.u32(1234), E.scaler_unit(0, 27)),
            E.structure(E.obis("1.0.32.7.0.255"), E.u16(2301), E.scaler_unit(-1, 35)),
            E.structure(E.obis("1.0.31.7.0.255"), E.u16(170), E.scaler_unit(-2, 33)),
        ]
    )


@pytest.mark.parametrize("cut", range(1, 20))
def test_cut_body_keeps_the_complete_registers(cut: int) -> None:
    apdu = E.data_notification(_body(), 0x40000000, None)
    (msg,) = decode_bytes(E.hdlc_frame(E.LLC + apdu[:-cut]))
    assert msg.error is not None and msg.error.layer == "apdu"
    assert tiling_gaps(msg.root, msg.buffers) == []
    got = {r.id: (r.value, r.unit) for r in msg.readings}
    # the third item is 17 bytes (4 + 6 + 3 + 6 - 2 for the struct header counted in 19): whatever the
    # cut, the first two registers are whole and must come through, scaled
    if cut <= 19:
        assert got["1.0.1.7.0.255"] == (1234, "W")
        assert got["1.0.32.7.0.255"] == (230.1, "V")
    assert "1.0.31.7.0.255" not in got or got["1.0.31.7.0.255"] == (1.7, "A")
    assert all(r.value != r.id for r in msg.readings)  # no dangling OBIS code as a value
    for r in msg.readings:
        assert r.node is not None and r.node.start < r.node.end  # linked to intact bytes


def test_salvaged_tape_closes_open_containers() -> None:
    data = _body()[:-5]
    salvage: list = []
    with pytest.raises(DecodeError):
        parse_tape(data, 0, len(data), salvage)
    (tape,) = salvage
    assert tape[0][COUNT] == 3 and tape[0][NEXT] == len(tape)  # the array holds its three (partial) items
    assert tape[0][END] <= len(data)
    last_item = max(i for i, t in enumerate(tape) if t[0] == 0x02 and t[COUNT] <= 3 and i > 0)
    assert tape[last_item][NEXT] == len(tape)


def test_wrong_key_yields_no_readings_from_garbage() -> None:
    apdu = E.data_notification(_body(), 0x40000000, None)
    frames = b"".join(E.mbus_frames(E.glo_ciphering(apdu, b"KFM\x00\x00\x00\x00\x01", 9, KEY, 0x21), 100))
    (msg,) = decode_bytes(frames, key=bytes(16))
    assert msg.error is not None and msg.error.layer == "crypto"
    assert msg.readings == []
    (good,) = decode_bytes(frames, key=KEY)
    assert good.ok and len(good.readings) == 3


def test_flat_pair_whose_scaler_unit_was_cut_is_not_reported_unscaled() -> None:
    body = E.structure(
        E.obis("1.0.1.7.0.255"),
        E.u32(500),
        E.scaler_unit(0, 27),
        E.obis("1.0.32.7.0.255"),
        E.u16(2301),
        E.scaler_unit(-1, 35),
    )
    apdu = E.data_notification(body, 0, None)
    (msg,) = decode_bytes(E.hdlc_frame(E.LLC + apdu[:-2]))  # inside the last scaler-unit
    got = {r.id: (r.value, r.unit) for r in msg.readings}
    assert got == {"1.0.1.7.0.255": (500, "W")}


def test_auto_format_waits_for_content_before_choosing() -> None:
    # found by hypothesis: a leading newline must not make the decoder pick "raw" before it sees a line
    from meterui.protocol.decoder import StreamDecoder

    data = (
        b"\r\nERXUDP FE80:0000:0000:0000:02FF:EEDD:CCBB:AA99 FE80:0000:0000:0000:02FF:EEDD:CCBB:AA88 0E1A 0E1A "
        b"00808700301224EF 1 0012 1081000102880105FF017201E70400000274\r\n"
    )
    whole = StreamDecoder()
    one = whole.feed(data) + whole.flush()
    byte = StreamDecoder()
    split = [m for i in range(len(data)) for m in byte.feed(data[i : i + 1])] + byte.flush()
    assert [m.to_json() for m in one] == [m.to_json() for m in split]
    assert whole.fmt == byte.fmt == "skstack" and one[0].ok and one[0].readings[0].value == 628
