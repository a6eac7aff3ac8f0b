"""A minimal driver that follows the pipeline's session contract (meterui/sessions/base.py) over a real pty.

It exists only until the pipeline's session seam lands: open the source, ``start``; for every chunk
``on_bytes`` then ``on_messages`` (decoded by the real :class:`StreamDecoder`), ``poll`` after each and
whenever ``now`` passes ``wake_at``; writes go to the real :class:`SerialSource`. Waiting is a poll with
a timeout on a condition, never a sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from meterui.broute.session import BrouteSession
from meterui.protocol.decoder import StreamDecoder
from meterui.protocol.message import Message
from meterui.sessions.base import SessionEvent
from meterui.simulate.broute import PtyModule, VirtualModule
from meterui.sources.serial_port import SerialSource


class Driver:
    def __init__(self, session: BrouteSession, sim: PtyModule) -> None:
        self.session = session
        self.sim = sim
        self.source = SerialSource(sim.device, 115200, "N", 8, 1)
        self.decoder = StreamDecoder(None, None, "skstack")
        self.messages: list[Message] = []
        self.events: list[SessionEvent] = []
        self.writes: list[bytes] = []
        self.received = bytearray()
        self.wake: float | None = None
        self.source.open()
        self.session.start(time.time())
        self._poll(time.time())

    def _poll(self, now: float) -> None:
        out = self.session.poll(now)
        for data in out.writes:
            self.source.write(data)
            self.writes.append(data)
        self.events.extend(out.events)
        self.wake = out.wake_at

    def step(self) -> None:
        now = time.time()
        timeout = 0.05 if self.wake is None else max(0.0, min(0.05, self.wake - now))
        chunk = self.source.read(timeout=timeout)
        now = time.time()
        if chunk is not None:
            self.received += chunk.data
            self.session.on_bytes(chunk.data, now)
            self._poll(now)
            msgs = self.decoder.feed(chunk.data, now)
            self.messages.extend(msgs)
            self.session.on_messages(msgs, now)
            self._poll(now)
        elif self.wake is not None and now >= self.wake:
            self._poll(now)

    def run_until(self, cond: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                states = [f"{e.state}: {e.text}" for e in self.events[-15:]]
                raise AssertionError(f"timed out waiting for {what}; state {self.session.state}; last events: {states}")
            self.step()

    def reopen(self) -> None:
        """What the pipeline does when the session asks (state ``reopen``): close, reopen, tell it."""
        self.source.close()
        self.session.on_connection(False, time.time())
        self._poll(time.time())
        self.source.open()
        self.session.on_connection(True, time.time())
        self._poll(time.time())

    def readings(self, rid: str) -> list[object]:
        return [r.value for m in self.messages for r in m.readings if r.id == rid]

    def states(self) -> list[str]:
        return [e.state for e in self.events]

    def close(self) -> None:
        self.session.stop(time.time())
        self._poll(time.time())
        self.source.close()


SCALE = 0.02
"""Time scale of the virtual module in tests (50× faster than a real one)."""


def make(
    tmp_path: object, dialect: str = "a1", hex_mode: bool = False, **kw: object
) -> tuple[PtyModule, VirtualModule]:
    module = VirtualModule(dialect, hex_mode=hex_mode, time_scale=SCALE, **kw)  # type: ignore[arg-type]
    return PtyModule(module, link=f"{tmp_path}/wisun"), module
