#!/usr/bin/env python3
"""Regenerate ``screenshots/*.svg`` from the bundled demo capture (``make screenshots``).

Drives the real app with ``run_test`` at 80x24 and 120x40 on a deterministic slice of the demo capture
(frozen clock, no blinking cursor) and saves each screen with ``save_screenshot``. Never edit the SVGs
by hand: run this script.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meterui.config import Config  # noqa: E402
from meterui.launch import DEMO_KEY, demo_capture_path  # noqa: E402
from meterui.sources.base import Chunk  # noqa: E402
from meterui.sources.serial_port import PortInfo  # noqa: E402
from tests.apputil import StillApp  # noqa: E402

OUT = ROOT / "screenshots"
SIZES = [(80, 24), (120, 40)]
PORTS = [
    PortInfo("/dev/ttyUSB0", "FT232R USB UART - M-Bus slave", "0403:6001", "A10KZP7Q"),
    PortInfo("/dev/ttyUSB1", "CP2102 USB to UART Bridge", "10c4:ea60", "0001"),
    PortInfo("/dev/ttyAMA0", "Raspberry Pi UART", None, None),
]

Step = Callable[[object], Awaitable[None]]


async def _shoot(name: str, size: tuple[int, int], start: str, steps: Step | None = None) -> Path:
    app = StillApp(limit=160 if start == "live" else 60, start=start)
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.3)
        if steps is not None:
            await steps(pilot)
        await pilot.pause(0.3)
        path = OUT / f"{name}-{size[0]}x{size[1]}.svg"
        app.save_screenshot(filename=path.name, path=str(OUT))
    return path


async def _inspector_steps(pilot) -> None:  # type: ignore[no-untyped-def]
    app = pilot.app
    screen = app.screen
    # show an encrypted Austrian frame with its decrypted APDU
    for summary_pos in range(len(app.frames)):
        s = app.frames.summary(summary_pos)
        if s.protocol == "mbus" and s.verdict.startswith("ok"):
            screen.show_index(s.index)
            break
    await pilot.pause(0.3)


async def _help_steps(pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("question_mark")


class _DemoPort:
    """The wizard's listen test reads the start of the demo capture, then the "port" ends (``EOFError``,
    as a replay file does): the test finishes on the data, not after a wall-clock wait."""

    description = "/dev/ttyUSB0"

    def __init__(self, chunks: int = 12) -> None:
        from meterui.sources.recording import read_recording

        self._chunks = [c.data for c in read_recording(demo_capture_path())][:chunks]

    def open(self) -> None:
        pass

    def read(self, timeout: float = 0.2) -> Chunk | None:
        if not self._chunks:
            raise EOFError
        return Chunk(self._chunks.pop(0), None)

    def close(self) -> None:
        pass


async def _setup_steps(pilot) -> None:  # type: ignore[no-untyped-def]
    """The listen step with its verdict: the feature to show (README "Setup wizard: listen step")."""
    from meterui.screens.setup import SetupWizard

    wizard = SetupWizard(
        Config(port="/dev/ttyUSB0", key=DEMO_KEY, preset="generic"), ports=PORTS, source_factory=lambda cfg: _DemoPort()
    )
    pilot.app.push_screen(wizard)
    await pilot.pause(0.3)
    await pilot.press("enter", "enter", "enter", "enter", "enter")  # port, meter, serial, keys, MQTT → listen
    for _ in range(600):
        if wizard.report is not None:
            break
        await pilot.pause(0.05)
    else:
        raise RuntimeError("the listen test did not finish")
    await pilot.pause(0.3)


async def main() -> int:
    OUT.mkdir(exist_ok=True)
    made = []
    for size in SIZES:
        made.append(await _shoot("live", size, "live"))
        made.append(await _shoot("inspector", size, "inspector", _inspector_steps))
        made.append(await _shoot("setup", size, "live", _setup_steps))
        made.append(await _shoot("help", size, "live", _help_steps))
    for path in made:
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
