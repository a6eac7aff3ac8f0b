"""Decoder throughput: µs per frame for full decoding (framing, checksums, decryption, A-XDR, readings, spans).

Usage: python bench/bench_decode.py [--quick] [--json]

Cases: (a) a plaintext Kamstrup list frame from shared/vectors, (b) the encrypted two-segment M-Bus message
under the test key, (c) an encrypted + authenticated HDLC frame built with meterui.protocol.encode. Each is
fed to a StreamDecoder in 4 KiB chunks; best of 3. Then ``python -m meterui decode FILE --output summary``
is timed on a hex file of 100,000 frames (wall time, best of 2). Stdlib + meterui only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meterui.protocol import encode as E  # noqa: E402
from meterui.protocol.decoder import StreamDecoder  # noqa: E402
from meterui.protocol.spans import tiling_gaps  # noqa: E402

VECTORS = ROOT.parent / "shared" / "vectors"
KEY = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
AUTH = bytes.fromhex("C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF")
CHUNK = 4096
TARGETS = {"plaintext Kamstrup (HDLC)": 50.0, "encrypted M-Bus pair (GCM, no tag)": 100.0,
           "encrypted+auth HDLC (GCM, tag)": 100.0}


def _vector(name: str, vid: str) -> bytes | None:
    path = VECTORS / f"{name}.json"
    if not path.is_file():
        return None
    for v in json.loads(path.read_text()):
        if v["id"] == vid:
            return b"".join(bytes.fromhex(f) for f in v["frames_hex"])
    return None


def _kamstrup_synthetic() -> bytes:
    body = E.structure(E.visible("Kamstrup_V0001"), E.obis("1.1.0.0.5.255"), E.visible("5706567000000000"),
                       E.obis("1.1.96.1.1.255"), E.visible("6841121BN243101040"),
                       *[x for c in ("1.7", "2.7", "3.7", "4.7", "31.7", "51.7", "71.7")
                         for x in (E.obis(f"1.1.{c}.0.255"), E.u32(1234))],
                       *[x for c in ("32.7", "52.7", "72.7") for x in (E.obis(f"1.1.{c}.0.255"), E.u16(230))])
    return E.hdlc_frame(E.LLC + E.data_notification(body, dt=b"\x07\xe3\x01\x15\x01\x17\x2b\x0a\xff\x80\x00\x00"),
                        dest=b"\x2b", src=b"\x21")


def cases() -> list[tuple[str, bytes, int, dict]]:
    kam = _vector("hdlc", "kamstrup-list1-a") or _kamstrup_synthetic()
    mbus = _vector("mbus", "vkw-kaifa-ma309m-testkey")
    aidon = E.array([E.structure(E.obis(f"1.0.{c}.0.255"), E.u32(1000 + i), E.structure(E.i8(-1), E.enum(27)))
                     for i, c in enumerate(("1.7", "2.7", "3.7", "4.7", "31.7", "51.7", "71.7", "32.7", "52.7",
                                            "72.7", "1.8", "2.8"))])
    apdu = E.data_notification(aidon, dt=E.cosem_datetime(None))
    enc = E.hdlc_frame(E.LLC + E.glo_ciphering(apdu, b"KAME\x00\x00\x00\x01", 1, KEY, 0x30, AUTH))
    out = [("plaintext Kamstrup (HDLC)", kam, 1, {})]
    if mbus is not None:
        out.append(("encrypted M-Bus pair (GCM, no tag)", mbus, 1, {"key": KEY}))
    out.append(("encrypted+auth HDLC (GCM, tag)", enc, 1, {"key": KEY, "auth_key": AUTH}))
    return out


def run_case(frame: bytes, n: int, kw: dict) -> tuple[float, int]:
    """Decode n copies fed in 4 KiB chunks; return (seconds, good messages)."""
    stream = frame * n
    dec = StreamDecoder(fmt="raw", **kw)
    ok = 0
    t0 = time.perf_counter()
    for i in range(0, len(stream), CHUNK):
        for m in dec.feed(stream[i:i + CHUNK]):
            ok += m.error is None
    for m in dec.flush():
        ok += m.error is None
    return time.perf_counter() - t0, ok


def check_spans(frame: bytes, kw: dict) -> bool:
    """Walk one message's whole tree (building lazy children) and check the leaves tile every buffer."""
    dec = StreamDecoder(fmt="raw", **kw)
    msgs = dec.feed(frame) + dec.flush()
    return len(msgs) == 1 and msgs[0].ok and all(tiling_gaps(m.root, m.buffers) == [] for m in msgs) and \
        sum(1 for _ in msgs[0].root.walk()) > 10


def cli_bench(frame: bytes, n: int, repeats: int) -> tuple[float, str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "frames.hex"
        line = frame.hex() + "\n"
        with path.open("w") as f:
            f.write("# bench capture\n")
            for _ in range(n):
                f.write(line)
        best = float("inf")
        out = ""
        for _ in range(repeats):
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "meterui", "decode", str(path), "--output", "summary"],
                                  capture_output=True, cwd=ROOT, check=True)
            best = min(best, time.perf_counter() - t0)
            out = proc.stdout.decode().strip()
    return best, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer frames (smoke run)")
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    args = ap.parse_args(argv)
    n = 2_000 if args.quick else 20_000
    cli_n = 10_000 if args.quick else 100_000
    results = []
    for name, frame, msgs_per, kw in cases():
        spans_ok = check_spans(frame, kw)
        best = float("inf")
        good = 0
        for _ in range(3):
            secs, good = run_case(frame, n, kw)
            best = min(best, secs)
        if good != n * msgs_per:
            raise SystemExit(f"{name}: decoded {good} good messages, expected {n * msgs_per}")
        results.append({"case": name, "frames": n, "bytes_per_frame": len(frame),
                        "us_per_frame": round(best / n * 1e6, 2), "target_us": TARGETS.get(name),
                        "spans_complete": spans_ok})
    kam = cases()[0][1]
    wall, summary = cli_bench(kam, cli_n, 2)
    cli = {"case": "meterui decode --output summary (hex file)", "frames": cli_n, "wall_s": round(wall, 3),
           "us_per_frame": round(wall / cli_n * 1e6, 2), "summary": summary}
    if args.json:
        print(json.dumps({"decoder": results, "cli": cli}, indent=2))
        return 0
    print(f"{'case':40} {'frames':>8} {'bytes':>6} {'µs/frame':>9} {'target':>8}  spans")
    for r in results:
        target = f"≤{r['target_us']:.0f}" if r["target_us"] else "-"
        verdict = "" if r["target_us"] is None else (" ok" if r["us_per_frame"] <= r["target_us"] else " SLOW")
        print(f"{r['case']:40} {r['frames']:>8} {r['bytes_per_frame']:>6} {r['us_per_frame']:>9.1f} "
              f"{target:>8}{verdict:5}  {'complete' if r['spans_complete'] else 'GAPS'}")
    print(f"{cli['case']:40} {cli['frames']:>8} {'':>6} {cli['us_per_frame']:>9.1f} {'':>8}       "
          f"wall {cli['wall_s']:.2f} s")
    print(f"  {cli['summary']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
