"""Typed faults (issue #7): the decoder marks the bytes at fault with ``Node.fault``; nothing reads labels.

Each case builds a message that fails in one known place and checks that exactly the nodes there carry
the fault (with the kind of the error), that :func:`framestore.error_spans` reports their bytes, and that
a node whose *text* reads like an error (a meter sending the string "wrong checksum") is not at fault.
"""

from __future__ import annotations

from datetime import datetime

from meterui.framestore import error_spans, is_error_node
from meterui.protocol import axdr
from meterui.protocol import encode as E
from meterui.protocol.errors import ErrorKind
from meterui.protocol.message import Message
from meterui.protocol.spans import Context, Node
from tests.conftest import AUTH_KEY, SYSTEM_TITLE, TEST_KEY, decode

BODY = E.structure(E.visible("wrong checksum, error: bad frame"), E.obis("1.0.1.7.0.255"), E.u32(1234))


def _faults(msg: Message) -> list[tuple[str, ErrorKind]]:
    return [(n.path, n.fault) for n in msg.root.walk() if n.fault is not None]


def _one(data: bytes, **kw: object) -> Message:
    msgs = decode(data, **kw)  # type: ignore[arg-type]
    assert len(msgs) == 1
    return msgs[0]


def test_a_good_message_has_no_fault_even_where_its_text_reads_like_one() -> None:
    msg = _one(E.hdlc_frame(E.LLC + E.data_notification(BODY)))
    assert msg.ok
    assert _faults(msg) == []
    assert error_spans(msg) == []
    texts = [n for n in msg.root.walk() if "wrong" in str(n.value)]
    assert texts and not any(is_error_node(n) for n in texts)


def test_bad_fcs_marks_the_fcs_and_nothing_else() -> None:
    frame = bytearray(E.hdlc_frame(E.LLC + E.data_notification(BODY)))
    frame[-2] ^= 0xFF
    msg = _one(bytes(frame))
    assert not msg.ok and msg.error is not None and msg.error.kind == ErrorKind.BAD_FRAME
    faults = _faults(msg)
    assert [kind for _, kind in faults] == [ErrorKind.BAD_FRAME]
    assert faults[0][0].endswith("fcs")
    fcs = msg.root.find(faults[0][0])
    assert fcs is not None and fcs.span in error_spans(msg)
    hcs = next(n for n in msg.root.walk() if n.key == "hcs")
    assert hcs.fault is None  # the header's checksum is good


def test_bad_mbus_checksum_marks_the_checksum() -> None:
    apdu = E.data_notification(BODY)
    frames = [bytearray(f) for f in E.mbus_frames(apdu, 300)]
    frames[0][-2] ^= 0x01
    msg = _one(b"".join(bytes(f) for f in frames))
    assert not msg.ok
    faults = _faults(msg)
    assert faults and all(kind == ErrorKind.BAD_FRAME for _, kind in faults)
    assert any(path.endswith("checksum") for path, _ in faults)


def test_a_truncated_body_marks_the_rest_as_truncated() -> None:
    body = E.structure(E.obis("1.0.1.7.0.255"), E.u32(1234), E.obis("1.0.2.7.0.255"), E.u32(5))
    apdu = E.data_notification(body)[:-3]  # the last value cut short
    msg = _one(E.hdlc_frame(E.LLC + apdu))
    assert msg.error is not None and msg.error.kind == ErrorKind.TRUNCATED
    rest = [n for n in msg.root.leaves() if n.fault is not None]
    assert rest and all(n.fault == ErrorKind.TRUNCATED for n in rest)
    payload_len = len(msg.buffers["payload"])
    assert max(n.end for n in rest if n.buffer == "payload") == payload_len  # the bytes up to the end
    assert all(s in error_spans(msg) for s in (n.span for n in rest))


def test_an_unknown_tag_marks_the_undecoded_bytes() -> None:
    body = E.structure(E.obis("1.0.1.7.0.255"), b"\x07\x01\x02")  # 0x07 is no A-XDR type
    msg = _one(E.hdlc_frame(E.LLC + E.data_notification(body)))
    assert msg.error is not None and msg.error.kind == ErrorKind.UNDECODED
    faults = [n for n in msg.root.leaves() if n.fault is not None]
    assert [n.fault for n in faults] == [ErrorKind.UNDECODED]
    assert msg.buffers["payload"][faults[0].start] == 0x07


def _encrypted(sc: int, auth: bytes | None) -> bytes:
    return E.hdlc_frame(E.LLC + E.glo_ciphering(E.data_notification(BODY), SYSTEM_TITLE, 7, TEST_KEY, sc, auth))


def test_missing_key_marks_the_ciphertext() -> None:
    msg = _one(_encrypted(0x30, AUTH_KEY))
    assert msg.error is not None and msg.error.kind == ErrorKind.KEY_MISSING
    faults = _faults(msg)
    assert {path.rsplit("/", 1)[-1] for path, _ in faults} == {"ciphertext", "auth_tag"}
    assert {kind for _, kind in faults} == {ErrorKind.KEY_MISSING}
    ct = next(n for n in msg.root.walk() if n.key == "ciphertext")
    assert ct.span in error_spans(msg)


def test_failed_authentication_marks_the_ciphertext_and_tag() -> None:
    msg = _one(_encrypted(0x30, AUTH_KEY), key=TEST_KEY, auth_key=bytes(16))
    assert msg.error is not None and msg.error.kind == ErrorKind.AUTH_FAILED
    assert {kind for _, kind in _faults(msg)} == {ErrorKind.AUTH_FAILED}


def test_wrong_key_without_tag_marks_the_decryption_output() -> None:
    msg = _one(_encrypted(0x20, None), key=bytes(16))
    assert msg.error is not None and msg.error.kind == ErrorKind.DECRYPT_GARBAGE
    apdu = next(n for n in msg.root.walk() if n.key == "apdu")
    assert apdu.fault == ErrorKind.DECRYPT_GARBAGE
    assert any(n.fault is not None and n.buffer == "apdu" for n in msg.root.leaves())


def test_noise_is_marked_as_noise() -> None:
    msg = _one(bytes(range(0x20, 0x40)))
    assert msg.error is not None
    assert {kind for _, kind in _faults(msg)} == {ErrorKind.NOISE}


def test_lazy_builders_get_a_typed_context_and_date_time_octets_are_split() -> None:
    clock = E.octets(E.cosem_datetime(datetime(2026, 5, 4, 13, 14, 15)))
    body = E.structure(E.obis("0.0.1.0.0.255"), clock, E.obis("1.0.1.7.0.255"), E.u32(5))
    msg = _one(E.hdlc_frame(E.LLC + E.data_notification(body)))
    note = next(n for n in msg.root.walk() if n.key == "notification")
    assert note.context == Context(False, None)
    elem = next(
        n for n in msg.root.walk() if n.kind == axdr.OCTET_STRING and isinstance(n.value, bytes) and len(n.value) == 12
    )
    assert elem.expand is axdr.expand_datetime_octets or elem.label == "date-time (octet-string)"
    value = next(c for c in elem.children or [] if c.key == "value")
    assert value.children  # split into year, month, day…
    plain = next(n for n in msg.root.walk() if n.kind == axdr.OCTET_STRING and n.value == bytes([1, 0, 1, 7, 0, 255]))
    assert all(not (c.children) for c in plain.children or [])


def test_node_fault_defaults_to_none() -> None:
    assert Node("k", "label", "b", 0, 1).fault is None
    assert Node("k", "label", "b", 0, 1, fault=ErrorKind.TRUNCATED).fault == ErrorKind.TRUNCATED
