"""Shared fixtures and helpers for the decoder tests.

The captured test vectors live in ``tests/data/vectors`` (copied into the repository, with where each frame
comes from in its README), so the suite runs on a fresh clone from any directory; no test skips for them.
Helpers here are imported by the test modules as ``from tests.conftest import ...`` (``tests`` is a
package, so pytest registers this file as ``tests.conftest`` and the import reuses that module).
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from meterui.protocol import encode as E
from meterui.protocol.decoder import StreamDecoder, decode_bytes
from meterui.protocol.message import Message
from meterui.protocol.spans import tiling_gaps
from meterui.quantities import QUANTITIES as ALL_QUANTITIES

VECTORS_DIR = Path(__file__).resolve().parent / "data" / "vectors"
requires_vectors = pytest.mark.usefixtures("vectors_dir")
"""Marks tests that read the vectors (kept for the test modules that use it; the vectors are always present)."""

TEST_KEY_HEX = "000102030405060708090A0B0C0D0E0F"
TEST_KEY = bytes.fromhex(TEST_KEY_HEX)
AUTH_KEY_HEX = "C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF"
AUTH_KEY = bytes.fromhex(AUTH_KEY_HEX)
SYSTEM_TITLE = bytes.fromhex("4B414D4500000001")  # "KAME" + serial

QUANTITIES = ALL_QUANTITIES  # the vocabulary lives in meterui.quantities
UNITS = frozenset({"W", "kW", "var", "kvar", "VA", "Wh", "kWh", "varh", "kvarh", "V", "A", "Hz", "m3"})
JSON_KEYS = {
    "index",
    "protocol",
    "ok",
    "error",
    "offsets",
    "encrypted",
    "authenticated",
    "system_title",
    "invocation_counter",
    "clock",
    "readings",
}
READING_KEYS = {"id", "quantity", "name", "value", "unit"}


@pytest.fixture(autouse=True, scope="session")
def _crash_logs_stay_out_of_the_home_directory(tmp_path_factory: pytest.TempPathFactory) -> None:
    """An internal error writes ``crash.log`` under the user state dir: in tests, a temporary one
    (subprocesses inherit it)."""
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state"))


# -- vectors --------------------------------------------------------------------------------------
def load_vectors(name: str) -> list[dict[str, Any]]:
    """The vectors of ``name`` (``hdlc``, ``mbus``, ``echonet``) from ``tests/data/vectors``."""
    return json.loads((VECTORS_DIR / f"{name}.json").read_text())


def vector_bytes(vec: dict[str, Any]) -> bytes:
    return b"".join(bytes.fromhex(f) for f in vec["frames_hex"])


def vector_by_id(vid: str) -> dict[str, Any]:
    for name in ("hdlc", "mbus"):
        for vec in load_vectors(name):
            if vec["id"] == vid:
                return vec
    raise KeyError(f"no vector {vid!r} in {VECTORS_DIR}")


@pytest.fixture
def vectors_dir() -> Path:
    return VECTORS_DIR


# -- checks applied to every message of every test ------------------------------------------------
def assert_tiles(msgs: list[Message]) -> None:
    for msg in msgs:
        gaps = tiling_gaps(msg.root, msg.buffers)
        assert gaps == [], f"message {msg.index}: {gaps}"


def assert_vocabulary(msgs: list[Message]) -> None:
    for msg in msgs:
        for r in msg.readings:
            assert r.quantity is None or r.quantity in QUANTITIES, (r.id, r.quantity)
            assert r.unit is None or r.unit in UNITS, (r.id, r.unit)


def decode(data: bytes, **kw: Any) -> list[Message]:
    """``decode_bytes`` plus the invariants every message must satisfy."""
    msgs = decode_bytes(data, **kw)
    assert_tiles(msgs)
    assert_vocabulary(msgs)
    return msgs


def feed_chunks(data: bytes, sizes: list[int] | int, **kw: Any) -> list[Message]:
    """Feed ``data`` to a fresh StreamDecoder in chunks of the given size(s), then flush."""
    dec = StreamDecoder(**kw)
    out: list[Message] = []
    pos = 0
    i = 0
    while pos < len(data):
        n = sizes if isinstance(sizes, int) else sizes[i % len(sizes)]
        out += dec.feed(data[pos : pos + max(1, n)])
        pos += max(1, n)
        i += 1
    out += dec.flush()
    assert_tiles(out)
    return out


def by_id(msg: Message) -> dict[str, Any]:
    return {r.id: r for r in msg.readings}


def good(msgs: list[Message]) -> list[Message]:
    return [m for m in msgs if m.ok]


# -- synthetic frames -----------------------------------------------------------------------------
CLOCK = datetime(2024, 3, 5, 12, 34, 56)


def kamstrup_body(meter_type: str = "6841121BN243101040", current_raw: int = 1091) -> bytes:
    """A Kamstrup_V0001 list-1 body: list id, then OBIS/value pairs (no scalers in band)."""
    return E.structure(
        E.visible("Kamstrup_V0001"),
        E.obis("1.1.0.0.5.255"),
        E.visible("5706567000000000"),
        E.obis("1.1.96.1.1.255"),
        E.visible(meter_type),
        E.obis("1.1.1.7.0.255"),
        E.u32(2824),
        E.obis("1.1.31.7.0.255"),
        E.u32(current_raw),
        E.obis("1.1.32.7.0.255"),
        E.u16(230),
        E.obis("1.1.1.8.0.255"),
        E.u32(4422800),
    )


def aidon_body() -> bytes:
    """An Aidon-style array of {OBIS, value[, scaler-unit]} items."""
    return E.array(
        [
            E.structure(E.obis("1.1.0.2.129.255"), E.visible("AIDON_V0001")),
            E.structure(E.obis("0.0.96.1.0.255"), E.visible("7359992890941742")),
            E.structure(E.obis("1.0.1.7.0.255"), E.u32(1234), E.scaler_unit(0, 27)),
            E.structure(E.obis("1.0.31.7.0.255"), E.i16(13), E.scaler_unit(-1, 33)),
            E.structure(E.obis("1.0.32.7.0.255"), E.u16(2301), E.scaler_unit(-1, 35)),
            E.structure(E.obis("1.0.1.8.0.255"), E.u32(12345), E.scaler_unit(1, 30)),
        ]
    )


def plain_hdlc(body: bytes, **kw: Any) -> bytes:
    return E.hdlc_frame(E.LLC + E.data_notification(body, dt=E.cosem_datetime(CLOCK)), **kw)


def encrypted_hdlc(
    body: bytes, key: bytes = TEST_KEY, auth_key: bytes | None = AUTH_KEY, sc: int = 0x30, ic: int = 42
) -> bytes:
    apdu = E.data_notification(body, dt=E.cosem_datetime(CLOCK))
    return E.hdlc_frame(E.LLC + E.glo_ciphering(apdu, SYSTEM_TITLE, ic, key, sc=sc, auth_key=auth_key))


def encrypted_mbus(body: bytes, key: bytes = TEST_KEY, max_data: int = 120, ic: int = 7) -> list[bytes]:
    apdu = E.data_notification(body, dt=E.cosem_datetime(CLOCK, -60))
    return E.mbus_frames(E.glo_ciphering(apdu, SYSTEM_TITLE, ic, key, sc=0x21), max_data)
