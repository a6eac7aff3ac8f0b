"""The speed-ups of issue #8 give exactly what the plain code gave.

* ``render_json`` (``--output json``) is byte for byte ``json.dumps(msg.to_json(), ensure_ascii=False,
  separators=(", ", ": "))``, the public contract, on every kind of message;
* hex text parsed by ``bytes.fromhex`` (whole chunks, plain lines) gives the bytes and errors of the
  reference syntax (separators removed, ``#`` comments, digits joined across lines);
* a plaintext decode never imports the AES or HMAC modules; the decode command leaves the garbage
  collector's thresholds as it found them.

Frames come from the project's encoders (``tests/conftest.py``) and an ECHONET Lite line built here.
"""

from __future__ import annotations

import gc
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterui.cli import main
from meterui.protocol import encode as E
from meterui.protocol.decoder import StreamDecoder
from meterui.protocol.errors import DecodeError, LineError
from meterui.protocol.inputs import HexStream, hex_digits, parse_hex_text
from meterui.protocol.message import Message, Reading
from meterui.protocol.skstack import SkstackDecoder
from meterui.protocol.spans import Node
from meterui.render import render_json
from tests.conftest import (
    AUTH_KEY,
    TEST_KEY,
    aidon_body,
    encrypted_hdlc,
    encrypted_mbus,
    kamstrup_body,
    plain_hdlc,
)

ROOT = Path(__file__).resolve().parents[1]


def contract(msg: Message) -> str:
    """The JSON line as the contract defines it (README: ``--output json``)."""
    return json.dumps(msg.to_json(), ensure_ascii=False, separators=(", ", ": "))


def decoded(data: bytes, **kw: Any) -> list[Message]:
    dec = StreamDecoder(**kw)
    return dec.feed(data) + dec.flush()


# -- render_json ---------------------------------------------------------------------------------

# An ECHONET Lite Get_Res with instantaneous power (E7) and current (E8) in an ERXUDP line (ASCII hex).
_EDATA = "1081000102880105FF017202" + "E70400000302" + "E80400320014"
ERXUDP = (
    f"ERXUDP FE80:0000:0000:0000:02FF:EEDD:CCBB:AA99 FE80:0000:0000:0000:02FF:EEDD:CCBB:AA88 0E1A 0E1A "
    f"00808700301224EF 1 {len(_EDATA) // 2:04X} {_EDATA}\r\n"
).encode()


def corpus() -> list[Message]:
    msgs: list[Message] = []
    msgs += decoded(plain_hdlc(kamstrup_body()) + plain_hdlc(aidon_body()), fmt="raw")
    msgs += decoded(encrypted_hdlc(aidon_body()), key=TEST_KEY, auth_key=AUTH_KEY, fmt="raw")  # authenticated
    msgs += decoded(encrypted_hdlc(aidon_body()), key=TEST_KEY, fmt="raw")  # encrypted, tag not checked
    msgs += decoded(encrypted_hdlc(aidon_body()), fmt="raw")  # crypto error: no key
    msgs += decoded(encrypted_hdlc(aidon_body()), key=bytes(16), auth_key=AUTH_KEY, fmt="raw")  # wrong key
    msgs += decoded(b"".join(encrypted_mbus(aidon_body())), key=TEST_KEY, fmt="raw")
    msgs += decoded(b"\x00garbage\xff" + plain_hdlc(kamstrup_body())[:-5], fmt="raw")  # line, frame errors
    msgs += decoded(E.hdlc_frame(E.LLC + bytes([0x0F, 1, 2, 3])), fmt="raw")  # apdu error
    msgs += SkstackDecoder().feed(ERXUDP)
    return msgs


def test_the_corpus_covers_every_kind_of_message() -> None:
    msgs = corpus()
    assert {m.protocol for m in msgs} >= {"hdlc", "mbus", "echonet"}
    assert {m.layer for m in msgs} >= {None, "line", "crypto", "apdu"}
    assert {m.authenticated for m in msgs} == {None, True, False}
    assert any(m.system_title for m in msgs) and any(m.invocation_counter is not None for m in msgs)
    values = [r.value for m in msgs for r in m.readings]
    assert {type(v) for v in values} >= {int, float, str}


def test_render_json_is_the_contract_byte_for_byte() -> None:
    for msg in corpus():
        assert render_json(msg) == contract(msg), msg
        assert json.loads(render_json(msg)) == msg.to_json()


def test_render_json_repeated_layouts_use_the_current_values() -> None:
    """The encoded text around a reading is reused across messages; the value never is."""
    a = decoded(plain_hdlc(kamstrup_body(current_raw=1091)), fmt="raw")[0]
    b = decoded(plain_hdlc(kamstrup_body(current_raw=2000)), fmt="raw")[0]
    assert render_json(a) == contract(a) and render_json(b) == contract(b)
    assert '"value": 10.91' in render_json(a) and '"value": 20.0' in render_json(b)


def _message(readings: list[Reading], **kw: Any) -> Message:
    return Message(
        index=7,
        protocol="hdlc",
        offsets=[(0, 5), (9, 12)],
        root=Node("", "message", "frame", 0, 1),
        buffers={"frame": b"\x7e"},
        readings=readings,
        **kw,
    )


@pytest.mark.parametrize(
    "value",
    [
        0,
        -1,
        2**70,
        1.5,
        -0.0,
        1e16,
        1e-7,
        float("nan"),
        float("inf"),
        float("-inf"),
        True,
        False,
        "",
        'æøå ° µ \u2028 " \\ \n \x00',
        "😀",
    ],
)
def test_render_json_values_of_every_type(value: Any) -> None:
    msg = _message(
        [
            Reading("1.0.1.7.0.255", 'Ünïcode "name"', value, "W", "active_power_import"),
            Reading("E8", "name", value, None, None),
        ],
        clock="2024-03-05T12:34:56+01:00",
        system_title=b"KAME\x00\x00\x00\x01",
        invocation_counter=4294967295,
        encrypted=True,
        authenticated=False,
        error=DecodeError('bad "tag" ø'),
    )
    assert render_json(msg) == contract(msg)


def test_render_json_int_and_str_subclasses_encode_as_json_does() -> None:
    class Code(str):
        pass

    class Count(int):
        pass

    msg = _message([Reading(Code("1.0.1.7.0.255"), "n", Count(5), Code("W"), None)])
    assert render_json(msg) == contract(msg)


def test_render_json_follows_a_reading_whose_json_shape_differs() -> None:
    """A Reading subclass with its own ``to_json`` is encoded from it, not from the cached layout."""

    class Extra(Reading):
        __slots__ = ()

        def to_json(self) -> dict[str, Any]:
            return {**super().to_json(), "extra": 1}

    msg = _message([Reading("1.0.1.7.0.255", "n", 5, "W", None), Extra("1.0.1.7.0.255", "n", 5, "W", None)])
    assert render_json(msg) == contract(msg)
    assert '"extra": 1' in render_json(msg)


def test_decode_output_json_is_the_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = plain_hdlc(kamstrup_body()) * 3 + b"junk" + encrypted_hdlc(aidon_body())
    path = tmp_path / "c.hex"
    path.write_text(data.hex() + "\n")
    assert main(["decode", str(path), "--output", "json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [contract(m) for m in decoded(data, fmt="raw")]
    assert len(lines) == 5


# -- hex text ------------------------------------------------------------------------------------

_SEP = re.compile(r"[\s:,;\-]+|0[xX](?=[0-9a-fA-F])")


def reference(text: str) -> bytes:
    """The hex syntax as specified (README): separators and comments removed, lines joined."""
    digits = ""
    for n, line in enumerate(text.splitlines(), 1):
        cleaned = _SEP.sub("", line.split("#", 1)[0])
        bad = re.search(r"[^0-9a-fA-F]", cleaned)
        if bad:
            raise LineError(f"line {n}: {bad.group(0)!r} is not a hex digit")
        digits += cleaned
    if len(digits) % 2:
        raise LineError("odd number of hex digits: the input ends in half a byte")
    return bytes.fromhex(digits)


HEX_TEXT = st.lists(
    st.sampled_from(
        [
            "7E",
            "a0",
            "0",
            "F",
            " ",
            "  ",
            ":",
            "0x",
            "#c\n",
            "# 7E\n",
            "\n",
            "\r\n",
            ",",
            "g",
            "\t",
            "\x0b",
            "\x0c",
            "\x1c",
            "\xa0",
            "é",
            "ff",
            "\u2028",
        ]
    ),
    max_size=80,
).map("".join)


def stream(text: str, cuts: list[int]) -> bytes:
    """Feed whole lines, in chunks of several lines cut at ``cuts`` (as ``meterui decode`` does)."""
    lines = text.splitlines(keepends=True)
    hs = HexStream()
    out = b""
    pos = 0
    for cut in [*sorted(cuts), len(lines)]:
        out += hs.feed("".join(lines[pos:cut]))
        pos = max(pos, cut)
    return out + hs.finish()


@settings(max_examples=400, deadline=None)
@given(text=HEX_TEXT, cuts=st.lists(st.integers(0, 40), max_size=4))
def test_hex_parsing_agrees_with_the_reference_syntax(text: str, cuts: list[int]) -> None:
    try:
        want = reference(text)
    except LineError as exc:
        with pytest.raises(LineError) as got:
            parse_hex_text(text)
        assert got.value.message == exc.message
        with pytest.raises(LineError) as got_stream:
            stream(text, cuts)
        assert got_stream.value.message == exc.message
        return
    assert parse_hex_text(text) == want
    assert stream(text, cuts) == want


def test_whole_chunk_fast_path_counts_lines_for_later_errors() -> None:
    hs = HexStream()
    assert hs.feed("7EA0 01\n02 03\r\n04\n") == bytes.fromhex("7EA0010203 04")
    with pytest.raises(LineError, match="line 4: 'g'"):
        hs.feed("0g\n")


def test_an_odd_digit_carried_over_joins_the_next_chunk() -> None:
    hs = HexStream()
    assert hs.feed("7EA\n") == b"\x7e"
    assert hs.feed("0 11\n") == bytes.fromhex("A011")
    hs.finish()


@pytest.mark.parametrize(
    ("line", "digits"),
    [
        ("7ea0ff", "7ea0ff"),
        ("7E A0 FF  # note", "7EA0FF"),
        ("0x7E:0xa0", "7Ea0"),
        ("", ""),
        ("# only", ""),
        ("7 E", "7E"),
    ],
)
def test_hex_digits_of_one_line(line: str, digits: str) -> None:
    assert hex_digits(line) == digits


# -- start-up and the garbage collector ----------------------------------------------------------


def test_plaintext_decode_imports_no_aes_hmac_shutil_or_json(tmp_path: Path) -> None:
    path = tmp_path / "plain.hex"
    path.write_text(plain_hdlc(kamstrup_body()).hex())
    code = (
        "import sys; from meterui.cli import main; rc = main(['decode', sys.argv[1], '--output', 'json']); "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('Crypto', 'hmac', 'shutil', 'json')); "
        "assert rc == 0 and not bad, bad"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    assert b'"ok": true' in proc.stdout


def test_encrypted_decode_still_decrypts_and_checks_the_tag(tmp_path: Path) -> None:
    path = tmp_path / "enc.hex"
    path.write_text(encrypted_hdlc(aidon_body()).hex())
    code = (
        "import sys; from meterui.cli import main; "
        "sys.exit(main(['decode', sys.argv[1], '--output', 'json', '--key', sys.argv[2], "
        "'--auth-key', sys.argv[3]]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path), TEST_KEY.hex(), AUTH_KEY.hex()],
        capture_output=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    out = json.loads(proc.stdout)
    assert out["ok"] and out["encrypted"] and out["authenticated"] is True


def test_decode_restores_the_gc_thresholds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.hex"
    path.write_text(plain_hdlc(kamstrup_body()).hex())
    before = gc.get_threshold()
    assert main(["decode", str(path), "--output", "summary"]) == 0
    assert gc.get_threshold() == before
    assert main(["decode", str(tmp_path / "missing.hex")]) == 2
    assert gc.get_threshold() == before
    assert "ok=1" in capsys.readouterr().out


@pytest.mark.parametrize("columns", ["60", "133", "0", "junk", None])
def test_help_width_follows_the_shutil_rule(monkeypatch: pytest.MonkeyPatch, columns: str | None) -> None:
    import shutil

    from meterui.cli import _HelpFormatter, _parser

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert _HelpFormatter("meterui")._width == shutil.get_terminal_size().columns - 2
    assert isinstance(_parser()._get_formatter(), _HelpFormatter)
