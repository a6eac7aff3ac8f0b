"""Property tests: random and mutated bytes into every decoder entry point.

Only our own error types (``MeterError`` subclasses) may escape the low-level functions; the stream
decoder's ``feed``/``flush`` never raise; every message tiles its buffers; nothing hangs (inputs ≤ 2 KB).
"""

from __future__ import annotations

import itertools
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterui.protocol import axdr
from meterui.protocol import encode as E
from meterui.protocol.decoder import StreamDecoder, decode_bytes
from meterui.protocol.errors import MeterError
from meterui.protocol.inputs import HexStream, parse_hex_text
from meterui.protocol.keys import parse_key
from meterui.protocol.spans import Node, tiling_gaps
from tests.conftest import TEST_KEY, aidon_body, encrypted_hdlc, encrypted_mbus, kamstrup_body, load_vectors, plain_hdlc
from tests.conftest import vector_bytes as _vb

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SEEDS = [_vb(v) for v in load_vectors("hdlc") + load_vectors("mbus")] + [
    plain_hdlc(kamstrup_body()),
    plain_hdlc(aidon_body()),
    encrypted_hdlc(kamstrup_body()),
    b"".join(encrypted_mbus(aidon_body())),
    b"".join(E.hdlc_segments(E.LLC + E.data_notification(kamstrup_body()), 30)),
    b"".join(E.hdlc_frame(E.LLC + b) for b in E.gbt_blocks(E.data_notification(kamstrup_body()), 25)),
]
SEEDS = [s for s in SEEDS if len(s) <= 2048]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "flag", "dup"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[i : i + draw(st.integers(1, 8))]
        elif op == "truncate":
            del data[i:]
        elif op == "flag":
            data[i:i] = draw(st.sampled_from([b"\x7e", b"\x68", b"\x7e\xa0", b"\x68\x10\x10\x68", b"\xdb\x08"]))
        else:
            j = draw(st.integers(i, len(data)))
            data[j:j] = data[i:j][:64]
    return bytes(data[:2048])


stream_bytes = st.one_of(
    st.binary(max_size=2048),
    mutated(),
    st.lists(
        st.sampled_from([b"\x7e", b"\x68", b"\xa0", b"\x16", b"\x00", b"\xe6\xe7\x00", b"\x0f", b"\xdb"]), max_size=200
    ).map(b"".join),
)
chunkings = st.lists(st.integers(1, 300), min_size=1, max_size=10)


def feed_all(data: bytes, sizes: list[int], **kw) -> list:
    dec = StreamDecoder(**kw)
    out = []
    pos = i = 0
    while pos < len(data):
        n = sizes[i % len(sizes)]
        out += dec.feed(data[pos : pos + n])  # must not raise
        pos += n
        i += 1
    out += dec.flush()
    return out


def _no_line(objs) -> list[dict]:
    return [
        {k: v for k, v in o.items() if k != "index"}
        for o in objs
        if o["error"] is None or o["error"]["layer"] != "line"
    ]


INTERNAL = "internal decoder error"
"""How StreamDecoder reports an exception it caught from its own code (decoder.py: ``_error_message``)."""


def assert_no_internal_error(msgs: list) -> None:
    """ "Never raises" is not enough: an exception turned into a message is a bug all the same."""
    for m in msgs:
        assert m.error is None or INTERNAL not in m.error.message, m.error.message


def check_messages(msgs: list) -> None:
    assert_no_internal_error(msgs)
    for m in msgs:
        assert tiling_gaps(m.root, m.buffers) == [], (m.index, m.error)
        obj = m.to_json()
        json.dumps(obj)
        assert obj["ok"] == (obj["error"] is None)
    assert [m.index for m in msgs] == list(range(len(msgs)))


@SETTINGS
@given(data=stream_bytes, sizes=chunkings, keyed=st.booleans())
def test_stream_decoder_never_raises_and_always_tiles(data: bytes, sizes: list[int], keyed: bool) -> None:
    kw = {"key": TEST_KEY} if keyed else {}
    msgs = feed_all(data, sizes, **kw)
    check_messages(msgs)
    # chunking changes nothing: not the frames, the decoded messages nor the line-noise reports
    whole = [m.to_json() for m in feed_all(data, [len(data) or 1], **kw)]
    assert [{k: v for k, v in m.to_json().items() if k != "index"} for m in msgs] == [
        {k: v for k, v in o.items() if k != "index"} for o in whole
    ]
    # every input byte belongs to at most one message, except a flag shared by two HDLC frames
    spans = sorted(s for m in msgs for s in m.offsets)
    for (_, e1), (s2, _) in itertools.pairwise(spans):
        assert e1 <= s2 or (e1 == s2 + 1 and data[s2] == 0x7E)
    assert all(0 <= s < e <= len(data) for s, e in spans)


@SETTINGS
@given(data=stream_bytes)
def test_decode_bytes_and_raw_format(data: bytes) -> None:
    check_messages(decode_bytes(data, fmt="raw"))
    check_messages(decode_bytes(data, key=TEST_KEY, auth_key=TEST_KEY, fmt="raw"))


@SETTINGS
@given(data=st.binary(min_size=1, max_size=2048))
def test_decode_bytes_auto_format_never_raises(data: bytes) -> None:
    msgs = decode_bytes(data)
    assert_no_internal_error(msgs)
    for m in msgs:
        assert tiling_gaps(m.root, m.buffers) == []


def test_the_checks_catch_an_internal_error_turned_into_a_message(monkeypatch) -> None:
    """The property tests above would pass a decoder that fails inside and reports it as a message;
    the checks they run must not."""
    import pytest

    from meterui.protocol import hdlc

    def broken(*_a: object) -> None:
        raise RuntimeError("a bug inside the decoder")

    frame = plain_hdlc(kamstrup_body())
    check_messages(decode_bytes(frame))  # passes on a healthy decoder
    monkeypatch.setattr(hdlc, "parse_header", broken)
    msgs = decode_bytes(frame)  # still never raises…
    assert msgs and any(INTERNAL in m.error.message for m in msgs if m.error)
    with pytest.raises(AssertionError, match=INTERNAL):  # …but the checks fail
        check_messages(msgs)


def _axdr_inputs() -> st.SearchStrategy[bytes]:
    leaves = st.sampled_from(
        [
            E.u8(1),
            E.u32(2),
            E.i64(-3),
            E.f32(1.5),
            E.octets(b"ab"),
            E.visible("x"),
            E.null(),
            E.enum(3),
            E.boolean(True),
            b"\x19" + bytes(12),
            b"\x04\x03\xa0",
        ]
    )
    tree = st.recursive(
        leaves,
        lambda kids: st.one_of(
            st.lists(kids, max_size=5).map(lambda x: E.structure(*x)), st.lists(kids, max_size=5).map(E.array)
        ),
        max_leaves=30,
    )
    return st.one_of(
        st.binary(max_size=512),
        tree,
        tree.flatmap(
            lambda b: st.integers(0, max(0, len(b) - 1)).map(
                lambda i: b[:i] + bytes([b[i] ^ 0x55]) + b[i + 1 :] if b else b
            )
        ),
    )


@SETTINGS
@given(data=_axdr_inputs())
def test_parse_data_raises_only_meter_errors(data: bytes) -> None:
    root = Node("", "root", "b", 0, len(data))
    try:
        node, end = axdr.parse_data(data, 0, len(data), "b", "x", root)
    except MeterError as exc:
        assert exc.layer == "apdu"
        return
    assert 0 < end <= len(data) and node.end == end
    # the element's leaves tile exactly the bytes it consumed
    assert tiling_gaps(root, {"b": data[:end]}) == []


HEX_TOKENS = ["7E", "a0", " ", ":", "0x", "0X", "0", "x", "#c\n", "#", "\n", "\r\n", "\r", ",", "g", "\t", "ff", "é"]


@SETTINGS
@given(
    text=st.one_of(st.text(max_size=300), st.lists(st.sampled_from(HEX_TOKENS), max_size=100).map("".join)),
    cuts=st.lists(st.integers(0, 300), max_size=12),
)
def test_parse_hex_text_raises_only_meter_errors(text: str, cuts: list[int]) -> None:
    try:
        out = parse_hex_text(text)
    except MeterError as exc:
        assert exc.layer == "line"
        out = None
    # the incremental reader agrees with the one-shot parser, in lines or in pieces cut anywhere (inside a
    # "0x", a comment, a CR LF), and raises what it raises
    bounds = sorted({0, len(text), *(c for c in cuts if c < len(text))})
    for pieces in (text.splitlines(keepends=True), [text[a:b] for a, b in itertools.pairwise(bounds)]):
        hs = HexStream()
        try:
            got: bytes | None = b"".join(hs.feed(piece) for piece in pieces) + hs.finish()
        except MeterError as exc:
            assert exc.layer == "line"
            got = None
        assert got == out, pieces


@SETTINGS
@given(data=st.binary(min_size=1, max_size=600))
def test_parse_hex_text_round_trip(data: bytes) -> None:
    text = "# capture\n" + "\n".join(
        ":".join(f"{b:02x}" for b in data[i : i + 16]) + "  # c" for i in range(0, len(data), 16)
    )
    assert parse_hex_text(text) == data


@SETTINGS
@given(
    text=st.one_of(
        st.text(max_size=80),
        st.binary(max_size=40),
        st.lists(st.sampled_from(["0", "f", "A", " ", ":", "0x", "-", "g"]), max_size=60).map("".join),
    )
)
def test_parse_key_raises_only_meter_errors(text: str | bytes) -> None:
    try:
        key = parse_key(text)
    except MeterError as exc:
        assert exc.layer == "crypto"
        if isinstance(text, str) and len(text.strip()) >= 4:
            assert text.strip() not in exc.message
        return
    assert key is None or len(key) == 16
