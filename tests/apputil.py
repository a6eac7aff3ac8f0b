"""Shared builders for app-level tests and the screenshot script: deterministic, no wall clock."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from datetime import UTC
from pathlib import Path
from typing import Any

from meterui.app import MeterApp
from meterui.config import Config
from meterui.launch import DEMO_KEY, demo_capture_path
from meterui.pipeline import Pipeline
from meterui.preload import decode_capture
from meterui.sources.replay import ReplaySource


class StillApp(MeterApp):
    """The app on a preloaded slice of the demo capture, with a frozen clock and no blinking cursor."""

    CURSOR_BLINK = False
    LIVE_TICK = None
    START_DELAY = None
    TIMEZONE = UTC  # times on screen do not depend on the machine's time zone

    def __init__(self, limit: int = 120, start: str = "live") -> None:
        messages, stats = decode_capture(demo_capture_path(), DEMO_KEY, limit=limit)
        now = (stats.last_message_time or 0.0) + 1.0
        super().__init__(lambda _cfg: None, Config(key=DEMO_KEY), start=start, clock=lambda: now)
        self.model.update(messages, now=now)
        self.frames.add(messages)
        self.stats = stats


def replay_app(path: Path, speed: float = float("inf"), key: bytes | None = None, **kw: object) -> MeterApp:
    app = QuietApp(
        lambda _cfg: Pipeline(ReplaySource(path), key=key, speed=speed, **kw),  # type: ignore[arg-type]
        Config(key=key),
    )
    app.CURSOR_BLINK = False
    return app


class QuietApp(MeterApp):
    """The app as tests drive it: everything composed at once, no blinking cursor."""

    CURSOR_BLINK = False
    START_DELAY = None


def run_async(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async pilot test under asyncio (the suite needs no pytest async plugin; fixtures pass through)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper
