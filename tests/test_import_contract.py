"""The decoding core and ``meterui decode`` never import Textual or Rich (style.md: import contract)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECK = (
    "assert not any(m.split('.')[0] in ('textual', 'rich') for m in sys.modules), "
    "sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))"
)


def run(code: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True, cwd=ROOT, timeout=60)


def test_core_modules_import_no_ui_library() -> None:
    code = (
        "import meterui.protocol.decoder, meterui.protocol.skstack, meterui.cli, meterui.render; "
        "import meterui.protocol.encode, meterui.protocol.echonet, meterui.protocol.inputs; import sys; " + CHECK
    )
    proc = run(code)
    assert proc.returncode == 0, proc.stderr.decode()


def test_every_protocol_module_imports_no_ui_library() -> None:
    mods = sorted(p.stem for p in (ROOT / "meterui" / "protocol").glob("*.py") if p.stem != "__init__")
    code = "import importlib, sys\n" + "".join(f"importlib.import_module('meterui.protocol.{m}')\n" for m in mods)
    proc = run(code + CHECK)
    assert proc.returncode == 0, proc.stderr.decode()


def test_meterui_decode_run_imports_no_ui_library() -> None:
    """Run the real ``decode`` command in a subprocess and look at sys.modules when it has finished."""
    frame = "7EA0E22B2113239AE6E7000F000000000C07E3011501172B0AFF80000002190A0E4B616D73747275705F5630303031"
    code = (
        "import sys, io; from meterui.cli import main; "
        "rc = main(['decode', '-', '--output', 'json']); "
        "sys.stdout.flush(); " + CHECK + "; assert rc == 0"
    )
    proc = run(code, stdin=bytes.fromhex(frame))
    assert proc.returncode == 0, proc.stderr.decode()
    assert b'"index": 0' in proc.stdout


def test_python_dash_m_decode_imports_no_ui_library() -> None:
    """``python -m meterui decode`` itself: an atexit hook checks sys.modules at interpreter exit."""
    code = (
        "import atexit, sys, runpy\n"
        "def check():\n"
        "    bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')]\n"
        "    if bad:\n"
        "        sys.stderr.write('UI modules imported: %r' % bad[:5]); sys.stderr.flush()\n"
        "        import os; os._exit(3)\n"
        "atexit.register(check)\n"
        "sys.argv = ['meterui', 'decode', '-', '--output', 'summary']\n"
        "runpy.run_module('meterui', run_name='__main__')\n"
    )
    proc = run(code, stdin=b"\x7e\xa0\x07garbage")
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.startswith(b"messages=")
