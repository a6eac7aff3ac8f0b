"""Decoder speed: µs per frame in-process and whole-process, and ``meterui decode`` start-up.

Usage: ``python bench/bench_decode.py [--quick] [--json] [--baseline-ref REF | --baseline DIR]``

With a baseline (a git ref of this repository, unpacked with ``git archive`` into a temporary
directory, or a source tree), every figure is measured for both trees in the same run, interleaved,
and reported as a ratio (after / before): the machine's load then affects both alike.

Figures, per tree:

* in-process (CPU time): a StreamDecoder fed 4 KiB chunks of (a) a plaintext Kamstrup list frame, (b) an encrypted
  two-segment Austrian M-Bus message (GCM, no tag), (c) an encrypted + authenticated HDLC frame (Aidon
  list), all built with ``meterui.protocol.encode``; and (d) case (a) with every message's whole span
  tree built and walked (what the inspector does); best of 3, run in a child process whose
  ``sys.path`` starts with the tree;
* whole-process: ``python -m meterui decode FILE --output json`` and ``--output summary`` on a hex file
  of 100,000 frames (one per line, as captures are): CPU time (user + system) of the process, best of
  N, which load on other cores inflates less than wall time; wall time too. The JSON outputs of both
  trees are compared byte for byte;
* start-up: ``meterui decode`` of a one-frame file against ``python -c pass`` (best of 20, CPU time).

Child processes run without ``PYTHONDONTWRITEBYTECODE`` (after one warm-up run that writes the
bytecode caches), as an installed package runs: pip compiles bytecode at install time.
Stdlib + meterui only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KEY = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
AUTH = bytes.fromhex("C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF")
CHUNK = 4096
TARGETS: dict[str, float] = {
    "plaintext Kamstrup (HDLC)": 50.0,
    "encrypted M-Bus pair (GCM, no tag)": 100.0,
    "encrypted+auth HDLC (GCM, tag)": 100.0,
    "decode --output json": 50.0,
    "decode --output summary": 40.0,
    "one-frame decode / python -c pass": 2.0,
}


# -- frames (built in the child, from the tree under test) ---------------------------------------


def cases() -> list[tuple[str, bytes, dict[str, Any]]]:
    from meterui.protocol import encode as E

    kam = E.structure(
        E.visible("Kamstrup_V0001"),
        E.obis("1.1.0.0.5.255"),
        E.visible("5706567000000000"),
        E.obis("1.1.96.1.1.255"),
        E.visible("6841121BN243101040"),
        *[
            x
            for c in ("1.7", "2.7", "3.7", "4.7", "31.7", "51.7", "71.7")
            for x in (E.obis(f"1.1.{c}.0.255"), E.u32(1234))
        ],
        *[x for c in ("32.7", "52.7", "72.7") for x in (E.obis(f"1.1.{c}.0.255"), E.u16(230))],
    )
    kam_frame = E.hdlc_frame(
        E.LLC + E.data_notification(kam, dt=b"\x07\xe3\x01\x15\x01\x17\x2b\x0a\xff\x80\x00\x00"),
        dest=b"\x2b",
        src=b"\x21",
    )
    aidon = E.array(
        [
            E.structure(E.obis(f"1.0.{c}.0.255"), E.u32(1000 + i), E.structure(E.i8(-1), E.enum(27)))
            for i, c in enumerate(
                ("1.7", "2.7", "3.7", "4.7", "31.7", "51.7", "71.7", "32.7", "52.7", "72.7", "1.8", "2.8")
            )
        ]
    )
    apdu = E.data_notification(aidon, dt=E.cosem_datetime(None))
    enc = E.hdlc_frame(E.LLC + E.glo_ciphering(apdu, b"KAME\x00\x00\x00\x01", 1, KEY, 0x30, AUTH))
    mbus = b"".join(E.mbus_frames(E.glo_ciphering(apdu, b"KFM\x10\x00\x00\x00\x07", 7, KEY, sc=0x21), 120))
    return [
        ("plaintext Kamstrup (HDLC)", kam_frame, {}),
        ("encrypted M-Bus pair (GCM, no tag)", mbus, {"key": KEY}),
        ("encrypted+auth HDLC (GCM, tag)", enc, {"key": KEY, "auth_key": AUTH}),
    ]


def _run_case(frame: bytes, n: int, kw: dict[str, Any], walk: bool) -> tuple[float, int]:
    from meterui.protocol.decoder import StreamDecoder

    stream = frame * n
    dec = StreamDecoder(fmt="raw", **kw)
    ok = 0
    t0 = time.process_time()  # CPU time: other processes on the machine inflate it less than wall time
    for i in range(0, len(stream), CHUNK):
        for m in dec.feed(stream[i : i + CHUNK]):
            ok += m.error is None
            if walk:
                for _ in m.root.walk():
                    pass
    for m in dec.flush():
        ok += m.error is None
    return time.process_time() - t0, ok


def child_inprocess(n: int) -> list[dict[str, Any]]:
    """Runs inside a child whose sys.path starts with the tree under test."""
    from meterui.protocol.decoder import StreamDecoder
    from meterui.protocol.spans import tiling_gaps

    out = []
    all_cases = cases()
    runs = [(name, frame, kw, False) for name, frame, kw in all_cases]
    runs.append(("plaintext Kamstrup, whole tree walked", all_cases[0][1], {}, True))
    for name, frame, kw, walk in runs:
        dec = StreamDecoder(fmt="raw", **kw)
        msgs = dec.feed(frame) + dec.flush()
        spans_ok = len(msgs) == 1 and msgs[0].ok and tiling_gaps(msgs[0].root, msgs[0].buffers) == []
        best = float("inf")
        for _ in range(3):
            secs, good = _run_case(frame, n, kw, walk)
            if good != n:
                raise SystemExit(f"{name}: decoded {good} good messages, expected {n}")
            best = min(best, secs)
        out.append(
            {"case": name, "us_per_frame": best / n * 1e6, "spans_complete": spans_ok, "bytes_per_frame": len(frame)}
        )
    return out


# -- running trees ------------------------------------------------------------------------------


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    env["PYTHONHASHSEED"] = "0"
    return env


def cpu_run(argv: list[str], cwd: Path, stdout: Any = subprocess.DEVNULL) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one child run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=child_env(), stdout=stdout, stderr=subprocess.PIPE, check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, wall


def tree_module(tree: Path) -> str:
    """Check that a child started in ``tree`` imports meterui from it (not from an installed copy)."""
    proc = subprocess.run(
        [sys.executable, "-c", "import meterui, sys; print(meterui.__file__)"],
        cwd=tree,
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    path = proc.stdout.strip()
    if not Path(path).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"a child started in {tree} imports meterui from {path}: cannot bench that tree")
    return path


def unpack_ref(ref: str, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def write_hex(path: Path, frame: bytes, n: int) -> None:
    line = frame.hex() + "\n"
    with path.open("w") as f:
        f.write("# bench capture: one Kamstrup list frame per line\n")
        f.write(line * n)


def measure(trees: dict[str, Path], args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    frame = cases()[0][1]
    big, one = tmp / "frames.hex", tmp / "one.hex"
    write_hex(big, frame, args.cli_frames)
    write_hex(one, frame, 1)
    for tree in trees.values():  # warm-up: bytecode caches, and the tree is what gets imported
        tree_module(tree)
        cpu_run([sys.executable, "-m", "meterui", "decode", str(one), "--output", "json"], tree)

    res: dict[str, dict[str, Any]] = {label: {} for label in trees}
    # in-process cases, one child per tree and repeat, interleaved
    for _ in range(args.repeats):
        for label, tree in trees.items():
            proc = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--child", str(tree), "--frames", str(args.frames)],
                cwd=tree,
                env=child_env(),
                capture_output=True,
                text=True,
            )
            if proc.returncode:
                raise SystemExit(f"in-process bench failed on {tree}: {proc.stderr.strip()[-500:]}")
            for r in json.loads(proc.stdout):
                old = res[label].get(r["case"])
                if old is None or r["us_per_frame"] < old["us"]:
                    res[label][r["case"]] = {"us": r["us_per_frame"], "spans_complete": r["spans_complete"]}

    # whole-process, interleaved between trees
    digests: dict[str, str] = {}
    for output in ("json", "summary"):
        best = {label: (float("inf"), float("inf")) for label in trees}
        for _ in range(args.repeats):
            for label, tree in trees.items():
                out_path = tmp / f"out-{label}.txt"
                with out_path.open("wb") as out:
                    cpu, wall = cpu_run(
                        [sys.executable, "-m", "meterui", "decode", str(big), "--output", output], tree, stdout=out
                    )
                best[label] = (min(best[label][0], cpu), min(best[label][1], wall))
                if output == "json":
                    digests[label] = hashlib.sha256(out_path.read_bytes()).hexdigest()
                else:
                    res[label]["summary line"] = out_path.read_text().strip()
        for label in trees:
            cpu, wall = best[label]
            res[label][f"decode --output {output}"] = {
                "us": cpu / args.cli_frames * 1e6,
                "wall_us": wall / args.cli_frames * 1e6,
            }

    # start-up: one frame vs python -c pass
    starts = {label: float("inf") for label in trees}
    bare = float("inf")
    for _ in range(args.start_runs):
        bare = min(bare, cpu_run([sys.executable, "-c", "pass"], ROOT)[0])
        for label, tree in trees.items():
            starts[label] = min(
                starts[label],
                cpu_run([sys.executable, "-m", "meterui", "decode", str(one), "--output", "json"], tree)[0],
            )
    for label in trees:
        res[label]["one-frame decode / python -c pass"] = {"ratio": starts[label] / bare, "ms": starts[label] * 1e3}
    return {
        "trees": {k: str(v) for k, v in trees.items()},
        "results": res,
        "python_c_pass_ms": bare * 1e3,
        "json_identical": len(set(digests.values())) == 1,
        "cli_frames": args.cli_frames,
        "frames": args.frames,
    }


def report(data: dict[str, Any]) -> None:
    res = data["results"]
    labels = list(res)
    after = labels[-1]
    before = labels[0] if len(labels) > 1 else None
    head = f"{'measure':44}" + "".join(f"{lb:>12}" for lb in labels) + ("   ratio" if before else "") + "  target"
    print(head)
    print("-" * len(head))
    fmt: Callable[[dict[str, Any]], float]
    for key in res[after]:
        if key == "summary line":
            continue
        row = res[after][key]
        unit, fmt = ("µs/frame", lambda r: r["us"]) if "us" in row else ("× pass", lambda r: r["ratio"])
        vals = [fmt(res[lb][key]) for lb in labels if key in res[lb]]
        line = f"{key + ' (' + unit + ')':44}" + "".join(f"{v:12.2f}" for v in vals)
        if before and key in res[before]:
            line += f"   {fmt(res[after][key]) / fmt(res[before][key]):5.2f}"
        target = TARGETS.get(key)
        if target is not None:
            line += f"  ≤{target:g}" + ("  ok" if fmt(row) <= target else "  MISSED")
        print(line)
        if "wall_us" in row:
            print(f"{'  wall time (µs/frame)':44}" + "".join(f"{res[lb][key]['wall_us']:12.2f}" for lb in labels))
        if "ms" in row:
            print(
                f"{'  CPU ms (python -c pass: ' + format(data['python_c_pass_ms'], '.1f') + ' ms)':44}"
                + "".join(f"{res[lb][key]['ms']:12.1f}" for lb in labels)
            )
    spans = all(r.get("spans_complete", True) for r in res[after].values() if isinstance(r, dict))
    print(
        f"spans tile every buffer: {'yes' if spans else 'NO'}   "
        f"JSON output identical across trees: {data['json_identical'] if before else 'n/a'}"
    )
    print(f"summary: {res[after].get('summary line', '')}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer frames and repeats (smoke run)")
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    ap.add_argument("--baseline-ref", metavar="REF", help="git ref of the code to compare against (e.g. main)")
    ap.add_argument("--baseline", metavar="DIR", type=Path, help="source tree of the code to compare against")
    ap.add_argument("--tree", type=Path, default=ROOT, help="the tree under test (default: this checkout)")
    ap.add_argument("--frames", type=int, default=20_000, help="frames per in-process case")
    ap.add_argument("--cli-frames", type=int, default=100_000, help="frames in the whole-process file")
    ap.add_argument("--repeats", type=int, default=3, help="whole-process runs per tree (best counts)")
    ap.add_argument("--start-runs", type=int, default=20, help="start-up runs per tree (best counts)")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        sys.path.insert(0, str(args.child))
        print(json.dumps(child_inprocess(args.frames)))
        return 0
    if args.quick:
        args.frames, args.cli_frames, args.repeats, args.start_runs = 2_000, 10_000, 2, 8
    with tempfile.TemporaryDirectory(prefix="meterui-bench-") as tmpname:
        tmp = Path(tmpname)
        trees: dict[str, Path] = {}
        if args.baseline_ref:
            trees[f"before:{args.baseline_ref}"[:12]] = unpack_ref(args.baseline_ref, tmp / "baseline")
        elif args.baseline:
            trees["before"] = args.baseline
        trees["after" if trees else "now"] = args.tree
        data = measure(trees, args, tmp)
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        report(data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
