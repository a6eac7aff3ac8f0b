#!/usr/bin/env python3
"""Generate the bundled demo capture ``meterui/data/demo.rec`` with the project's own encoders.

Two meters share the line, as in a multi-meter lab capture:
* an Aidon 3-phase meter (Norway, HDLC, plaintext, in-band scalers): list 1 every 2.5 s, list 2 every
  10 s, list 3 (clock and energies) every 60 s;
* a Kaifa MA309M (Austria, TINETZ style): two M-Bus segments carrying general-glo-ciphering (security
  control 0x21, no tag) under the public test key 000102…0F, every 5 s, with PV export at midday.
The load follows a plausible daily curve compressed into the capture (one capture minute ≈ two meter
hours), so the demo shows a whole day's shape. Some line noise and one corrupted frame are included.

Deterministic: the same bytes every run. Usage: ``python scripts/make_demo.py [OUTPUT]``.
"""

from __future__ import annotations

import math
import random
import sys
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from meterui.protocol import encode as E
from meterui.sources.base import Chunk
from meterui.sources.recording import HEADER, format_chunk

DEMO_KEY = bytes(range(16))
SYSTEM_TITLE = bytes.fromhex("4B464D1020003774")
START = datetime(2026, 1, 15, 0, 0, 0)
T0 = 1768435200.0  # 2026-01-15T00:00:00Z: recorded timestamps
DURATION = 720.0  # seconds of capture (12 minutes)
DAY_PER_SECOND = 86400.0 / DURATION  # meter seconds per capture second
STEP = 2.5


def household_load(hour: float, rng: random.Random) -> float:
    """A plausible household load in W over the day: night base, morning and evening peaks."""
    base = 280 + 60 * math.sin(hour / 24 * 2 * math.pi * 6)  # fridge/freezer cycling
    morning = 1800 * math.exp(-(((hour - 7.2) / 0.8) ** 2))
    midday = 700 * math.exp(-(((hour - 12.5) / 1.5) ** 2))
    evening = 2600 * math.exp(-(((hour - 18.5) / 1.6) ** 2)) + 900 * math.exp(-(((hour - 21.0) / 1.0) ** 2))
    spikes = 2000 if rng.random() < 0.04 else 0  # kettle, oven
    return max(120.0, base + morning + midday + evening + spikes + rng.gauss(0, 40))


def pv_power(hour: float) -> float:
    return max(0.0, 3200 * math.sin((hour - 7.0) / 10.0 * math.pi)) if 7.0 < hour < 17.0 else 0.0


def aidon_item(code: str, value: bytes, scaler: int | None = None, unit: int | None = None) -> bytes:
    if scaler is None:
        return E.structure(E.obis(code), value)
    return E.structure(E.obis(code), value, E.scaler_unit(scaler, unit or 255))


def aidon_frame(
    kind: int, p_import: float, volts: list[float], amps: list[float], energy_wh: float, clock: datetime
) -> bytes:
    items = [aidon_item("1.0.1.7.0.255", E.u32(round(p_import)), 0, 27)]
    if kind >= 2:
        items = [
            aidon_item("1.1.0.2.129.255", E.visible("AIDON_V0001")),
            aidon_item("0.0.96.1.0.255", E.visible("7359992890941742")),
            aidon_item("0.0.96.1.7.255", E.visible("6525")),
            items[0],
            aidon_item("1.0.2.7.0.255", E.u32(0), 0, 27),
            aidon_item("1.0.3.7.0.255", E.u32(round(p_import * 0.12)), 0, 29),
            aidon_item("1.0.4.7.0.255", E.u32(0), 0, 29),
            aidon_item("1.0.31.7.0.255", E.i16(round(amps[0] * 10)), -1, 33),
            aidon_item("1.0.51.7.0.255", E.i16(round(amps[1] * 10)), -1, 33),
            aidon_item("1.0.71.7.0.255", E.i16(round(amps[2] * 10)), -1, 33),
            aidon_item("1.0.32.7.0.255", E.u16(round(volts[0] * 10)), -1, 35),
            aidon_item("1.0.52.7.0.255", E.u16(round(volts[1] * 10)), -1, 35),
            aidon_item("1.0.72.7.0.255", E.u16(round(volts[2] * 10)), -1, 35),
        ]
    if kind >= 3:
        items += [
            aidon_item("0.0.1.0.0.255", E.octets(E.cosem_datetime(clock, -60, 0x00))),
            aidon_item("1.0.1.8.0.255", E.u32(round(energy_wh / 10)), 1, 30),
            aidon_item("1.0.2.8.0.255", E.u32(0), 1, 30),
            aidon_item("1.0.3.8.0.255", E.u32(round(energy_wh * 0.012)), 1, 32),
            aidon_item("1.0.4.8.0.255", E.u32(0), 1, 32),
        ]
    apdu = E.data_notification(E.array(items), 0x40000000, None)
    return E.hdlc_frame(E.LLC + apdu, dest=b"\x41", src=b"\x08\x83")


def kaifa_at_frames(
    ic: int,
    clock: datetime,
    p_import: float,
    p_export: float,
    volts: list[float],
    amps: list[float],
    energies: list[float],
) -> list[bytes]:
    dt = E.cosem_datetime(clock, -60, 0x00)

    def reg(code: str, value: bytes, scaler: int, unit: int) -> bytes:
        return E.structure(E.obis(code), value, E.scaler_unit(scaler, unit))

    body = E.structure(
        E.obis("0.0.1.0.0.255"),
        E.octets(dt),
        E.obis("0.0.96.1.0.255"),
        E.octets(b"1KFM0200014196"),
        E.structure(E.obis("0.0.42.0.0.255"), E.octets(b"KFM1200200014196")),
        reg("1.0.32.7.0.255", E.u16(round(volts[0] * 10)), -1, 35),
        reg("1.0.52.7.0.255", E.u16(round(volts[1] * 10)), -1, 35),
        reg("1.0.72.7.0.255", E.u16(round(volts[2] * 10)), -1, 35),
        reg("1.0.31.7.0.255", E.u16(round(amps[0] * 100)), -2, 33),
        reg("1.0.51.7.0.255", E.u16(round(amps[1] * 100)), -2, 33),
        reg("1.0.71.7.0.255", E.u16(round(amps[2] * 100)), -2, 33),
        reg("1.0.1.7.0.255", E.u32(round(p_import)), 0, 27),
        reg("1.0.2.7.0.255", E.u32(round(p_export)), 0, 27),
        reg("1.0.1.8.0.255", E.u32(round(energies[0])), 0, 30),
        reg("1.0.2.8.0.255", E.u32(round(energies[1])), 0, 30),
        reg("1.0.3.8.0.255", E.u32(round(energies[2])), 0, 32),
        reg("1.0.4.8.0.255", E.u32(round(energies[3])), 0, 32),
    )
    apdu = E.data_notification(body, 0x00290000 + ic, dt)
    ciphered = E.glo_ciphering(apdu, SYSTEM_TITLE, ic, DEMO_KEY, sc=0x21)
    return E.mbus_frames(ciphered, max_data=245)


def phase_values(total: float, rng: random.Random, nominal: float = 230.0) -> tuple[list[float], list[float]]:
    shares = (0.45, 0.32, 0.23)
    volts = [nominal + 2.5 * math.sin(i * 2.1) - total / 3 * 0.0012 + rng.gauss(0, 0.4) for i in range(3)]
    amps = [max(0.05, total * s / v) for s, v in zip(shares, volts, strict=True)]
    return volts, amps


def build() -> list[tuple[float, bytes]]:
    rng = random.Random(20261121)
    chunks: list[tuple[float, bytes]] = []
    energy_aidon = 12_345_670.0
    energy_at = [7_713_000.0, 868_025.0, 10.0, 556_923.0]
    ic = 7014
    steps = int(DURATION / STEP)
    bad_at = steps // 3
    for i in range(steps):
        t = i * STEP
        clock = START + timedelta(seconds=t * DAY_PER_SECOND)
        hour = clock.hour + clock.minute / 60
        load = household_load(hour, rng)
        volts, amps = phase_values(load, rng)
        energy_aidon += load * STEP * DAY_PER_SECOND / 3600
        kind = 3 if i % 24 == 0 else 2 if i % 4 == 0 else 1
        frame = aidon_frame(kind, load, volts, amps, energy_aidon, clock)
        if i == bad_at:  # one frame corrupted on the line: a flipped byte inside the information field
            frame = frame[:20] + bytes([frame[20] ^ 0x5A]) + frame[21:]
        chunks.append((T0 + t, frame))
        if i % 2 == 1:  # the Austrian meter every 5 s, half a step later
            load_at = household_load(hour, rng) * 0.8
            pv = pv_power(hour)
            p_imp, p_exp = max(0.0, load_at - pv), max(0.0, pv - load_at)
            v_at, a_at = phase_values(load_at + pv, rng, 231.0)
            energy_at[0] += p_imp * 5 * DAY_PER_SECOND / 3600
            energy_at[1] += p_exp * 5 * DAY_PER_SECOND / 3600
            energy_at[3] += p_imp * 0.05 * 5 * DAY_PER_SECOND / 3600
            ic += 1
            for k, seg in enumerate(kaifa_at_frames(ic, clock, p_imp, p_exp, v_at, a_at, energy_at)):
                chunks.append((T0 + t + 1.2 + 0.4 * k, seg))
        if i % 48 == 17:  # line noise between frames
            chunks.append((T0 + t + 2.0, bytes(rng.randrange(256) for _ in range(rng.randint(3, 9)))))
    chunks.sort(key=lambda c: c[0])
    return chunks


def main() -> int:
    default = Path(__file__).resolve().parents[1] / "meterui" / "data" / "demo.rec"
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    chunks = build()
    with out.open("w", encoding="ascii", newline="\n") as f:
        f.write(HEADER + "\n")
        f.write(
            "# source: meterui demo capture (generated by scripts/make_demo.py; the Austrian meter uses "
            "the public demo test key, see meterui/launch.py)\n"
        )
        for t, data in chunks:
            f.write(format_chunk(Chunk(data, t), t))
    print(f"wrote {out} ({len(chunks)} chunks, {sum(len(d) for _, d in chunks)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
