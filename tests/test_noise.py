"""Valid frames interleaved with line noise (stray 0x7E / 0x68 / 0x16 / 0xA0 bytes): every frame is recovered."""

from __future__ import annotations

import random

import pytest

from meterui.protocol import encode as E
from meterui.protocol.decoder import StreamDecoder, decode_bytes
from tests.conftest import (
    AUTH_KEY,
    TEST_KEY,
    aidon_body,
    assert_tiles,
    assert_vocabulary,
    encrypted_hdlc,
    encrypted_mbus,
    kamstrup_body,
    load_vectors,
    plain_hdlc,
    vector_bytes,
)

KEYS = {"key": TEST_KEY, "auth_key": AUTH_KEY}


def _pool() -> list[bytes]:
    pool = [vector_bytes(v) for v in load_vectors("hdlc")]
    pool += [vector_bytes(v) for v in load_vectors("mbus") if v.get("key_hex") == "000102030405060708090A0B0C0D0E0F"]
    pool += [
        plain_hdlc(kamstrup_body()),
        plain_hdlc(kamstrup_body(meter_type="6851121BN243101040", current_raw=4321)),
        plain_hdlc(aidon_body(), dest=b"\x02\x21", src=b"\x02\x04\x06\x21"),
        encrypted_hdlc(kamstrup_body()),
        encrypted_hdlc(aidon_body(), sc=0x20, auth_key=None, ic=99),
        b"".join(encrypted_mbus(aidon_body(), max_data=50)),
        b"".join(E.mbus_frames(E.data_notification(aidon_body()), 250)),
        b"".join(E.hdlc_segments(E.LLC + E.data_notification(kamstrup_body()), 40)),
        b"".join(E.hdlc_frame(E.LLC + b) for b in E.gbt_blocks(E.data_notification(aidon_body()), 30)),
    ]
    return pool


POOL = _pool()


def _signature(msg) -> tuple:
    return (msg.protocol, msg.clock, tuple((r.id, r.value, r.unit) for r in msg.readings))


EXPECTED = []
for _item in POOL:
    _msgs = decode_bytes(_item, fmt="raw", **KEYS)
    assert len(_msgs) == 1 and _msgs[0].ok, _msgs[0].error
    EXPECTED.append(_signature(_msgs[0]))


def noise(rng: random.Random, n: int) -> bytes:
    special = b"\x7e\x68\x16\xa0\xa8\xe6\xdb\x0f"
    return bytes(rng.choice(special) if rng.random() < 0.35 else rng.randrange(256) for _ in range(n))


def build(seed: int) -> tuple[bytes, list[tuple], list[int]]:
    rng = random.Random(seed)
    data = bytearray(noise(rng, rng.randrange(0, 30)))
    expected = []
    for _ in range(12):
        i = rng.randrange(len(POOL))
        data += POOL[i]
        expected.append(EXPECTED[i])
        gap = rng.choice([0, 0, 1, 2, 5, rng.randrange(0, 80)])
        data += noise(rng, gap)
    sizes = [rng.choice([1, 3, 17, 64, 256, 4096]) for _ in range(5)]
    return bytes(data), expected, sizes


@pytest.mark.parametrize("seed", range(60))
def test_every_frame_is_recovered_in_order(seed: int) -> None:
    data, expected, sizes = build(seed)
    dec = StreamDecoder(fmt="raw", **KEYS)
    msgs = []
    pos = i = 0
    while pos < len(data):
        n = sizes[i % len(sizes)]
        msgs += dec.feed(data[pos : pos + n])
        pos += n
        i += 1
    msgs += dec.flush()
    assert_tiles(msgs)
    assert_vocabulary(msgs)
    got = [_signature(m) for m in msgs if m.ok]
    assert got == expected
    assert [m.index for m in msgs] == list(range(len(msgs)))
    # noise is reported, never silently turned into readings
    assert all(m.readings == [] for m in msgs if not m.ok)


@pytest.mark.parametrize("seed", range(5))
def test_noise_alone_yields_no_good_message(seed: int) -> None:
    rng = random.Random(1000 + seed)
    data = noise(rng, 3000)
    msgs = decode_bytes(data, fmt="raw", **KEYS)
    assert_tiles(msgs)
    assert not any(m.ok for m in msgs)
    assert msgs


def test_heavy_noise_with_many_7e_and_68() -> None:
    rng = random.Random(7)
    frames = [plain_hdlc(kamstrup_body(current_raw=i)) for i in range(1, 30)]
    data = b"".join(
        bytes(rng.choice(b"\x7e\x68\x7e\xa0\x68\x68") for _ in range(rng.randrange(1, 12))) + f for f in frames
    )
    msgs = decode_bytes(data, fmt="raw")
    assert_tiles(msgs)
    currents = [next(r.value for r in m.readings if r.id == "1.1.31.7.0.255") for m in msgs if m.ok]
    assert currents == pytest.approx([i / 100 for i in range(1, 30)])
