"""Issue #6: what decoded data may put on a terminal, and what it is called.

* terminal control characters from decoded text are shown escaped (``printable``), in ``--output
  text|tree|hex`` and in the node values the app draws; JSON keeps the raw value, JSON-escaped;
* bytes that belong to no protocol are ``"protocol": "unknown"``, not the protocol of the last frame;
* the output of a decryption that failed is not called plaintext.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from meterui.protocol.decoder import decode_bytes
from meterui.protocol.errors import DecodeError
from meterui.protocol.message import Message
from meterui.protocol.spans import Node
from meterui.protocol.text import json_safe, printable
from meterui.render import render_hex, render_json, render_text, render_tree
from tests.conftest import (
    TEST_KEY,
    encrypted_hdlc,
    encrypted_mbus,
    kamstrup_body,
    load_vectors,
    plain_hdlc,
    vector_bytes,
)

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x9b31m\x7f"
"""Retitle the terminal, clear it, a C1 CSI, DEL."""
RAW_CONTROLS = [chr(c) for c in (*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0))]


def assert_no_controls(text: str) -> None:
    bad = sorted({f"{ord(c):02X}" for c in text if c in RAW_CONTROLS})
    assert not bad, bad


# -- printable ------------------------------------------------------------------------------------
def test_printable_escapes_c0_del_and_c1() -> None:
    assert printable(HOSTILE) == "\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\x7f"
    assert printable("a\nb\tc\rd\x00") == "a\\x0ab\\x09c\\x0dd\\x00"
    for ordinary in ("Kamstrup_V0001", "måler 1.0.1.7.0.255", "", "東京電力", "a b"):
        assert printable(ordinary) == ordinary


def test_json_safe_keeps_the_value_and_escapes_what_json_leaves_raw() -> None:
    encoded = json.dumps({"v": HOSTILE}, ensure_ascii=False)
    safe = json_safe(encoded)
    assert_no_controls(safe)
    assert json.loads(safe) == {"v": HOSTILE}


# -- SKSTACK fields: the sender address of an ERXUDP line, an EVENT line ----------------------------
def _hostile_transcript() -> bytes:
    line = next(v["line"] for v in load_vectors("echonet") if v["id"] == "echonet-E7")
    fields = line.split(" ")
    fields[1] = fields[1][:10] + HOSTILE + fields[1][10:]  # inside a token: no spaces
    return ("SKVER\r\nEVER 1.2.10\r\nOK\r\nEVENT 21 FE80" + HOSTILE + " 00\r\n" + " ".join(fields) + "\r\n").encode(
        "latin-1"
    )


def test_skstack_fields_are_escaped_in_nodes_events_and_meter() -> None:
    from meterui.protocol.decoder import StreamDecoder

    dec = StreamDecoder(fmt="skstack")
    msgs = dec.feed(_hostile_transcript()) + dec.flush()
    assert msgs
    for msg in msgs:
        assert_no_controls(msg.meter or "")
        stack = [msg.root]
        while stack:
            node = stack.pop()
            assert_no_controls(node.display_value() + node.label + node.note)
            stack.extend(node.children or [])
    texts = [e.text for e in dec.events]
    assert any("\\x1b]0;pwned" in t for t in texts)
    for t in texts:
        assert_no_controls(t)


@pytest.mark.parametrize("output", ["text", "tree", "hex", "json", "summary"])
def test_decode_output_never_carries_terminal_controls(tmp_path: Path, output: str) -> None:
    path = tmp_path / "hostile.txt"
    path.write_bytes(_hostile_transcript())
    proc = subprocess.run(
        [sys.executable, "-m", "meterui", "decode", str(path), "--format", "skstack", "--output", output],
        capture_output=True,
        cwd=ROOT,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode("utf-8")
    assert_no_controls(out.replace("\n", ""))
    if output == "tree":
        assert "\\x1b]0;pwned\\x07" in out  # shown, escaped


def test_renderers_escape_controls_from_error_messages_and_readings() -> None:
    root = Node("", "unrecognised data", "data", 0, 1)
    Node("data", "bytes", "data", 0, 1, HOSTILE, HOSTILE, root)
    msg = Message(
        0,
        "unknown",
        [(0, 1)],
        root,
        {"data": b"\x00"},
        error=DecodeError("bad " + HOSTILE),
        meter="m" + HOSTILE,
        warnings=["w" + HOSTILE],
    )
    for render in (render_text, render_tree, render_hex):
        assert_no_controls(render(msg).replace("\n", ""))
    obj = json.loads(render_json(msg))
    assert obj["error"]["message"] == "bad " + HOSTILE  # JSON: the raw value…
    assert_no_controls(render_json(msg))  # …escaped


# -- unknown protocol ------------------------------------------------------------------------------
def test_unrecognised_bytes_belong_to_no_protocol() -> None:
    noise = bytes(range(0x20, 0x60))
    mbus = b"".join(encrypted_mbus(kamstrup_body()))
    hdlc = plain_hdlc(kamstrup_body())
    for data in (noise + hdlc, mbus + noise + hdlc, hdlc + noise + mbus + noise):
        msgs = decode_bytes(data, key=TEST_KEY)
        line = [m for m in msgs if m.layer == "line"]
        assert line and {m.protocol for m in line} == {"unknown"}
        assert {m.protocol for m in msgs if m.layer != "line"} <= {"hdlc", "mbus"}
        assert {json.loads(render_json(m))["protocol"] for m in line} == {"unknown"}


def test_readme_json_contract_names_unknown() -> None:
    readme = (ROOT / "README.md").read_text()
    assert '"protocol": "hdlc"|"mbus"|"dsmr"|"echonet"|"unknown"' in readme


# -- a decryption that failed is not plaintext -----------------------------------------------------
def _apdu_node(msg: Message) -> Node:
    node = next(n for n in msg.root.children or [] if n.key == "apdu")
    return node


def test_wrong_key_output_is_not_called_plaintext() -> None:
    frame = encrypted_hdlc(kamstrup_body(), sc=0x20, auth_key=None)  # no tag: a wrong key shows as garbage
    (bad,) = decode_bytes(frame, key=bytes(range(16, 32)))
    assert bad.layer == "crypto"
    node = _apdu_node(bad)
    assert "not a valid APDU" in node.label and "decryption" in node.label
    assert "plaintext" not in node.label and node.note != "plaintext" and "not plaintext" in node.note
    tree = render_tree(bad)
    assert "decrypted APDU" not in tree and "(plaintext)" not in tree
    (good,) = decode_bytes(frame, key=TEST_KEY)
    assert good.ok and _apdu_node(good).label == "decrypted APDU"


def test_vector_garbage_after_mbus_was_labelled_mbus_before() -> None:
    """The reported case: the Austrian pair, then line noise."""
    pair = next(v for v in load_vectors("mbus") if v["id"].endswith("testkey"))
    msgs = decode_bytes(vector_bytes(pair) + b"\x01\x02\x03" * 20, key=TEST_KEY)
    assert [m.protocol for m in msgs] == ["mbus", "unknown"]
