"""The session seam: a sans-IO conversation with a device behind a writable source.

A session sits between a writable source and the decoder. Bytes read and decoded messages go in; bytes
to write, the time it next wants to be woken and events for the UI and log come out. It does no I/O and
reads no clock: the pipeline passes ``now`` (UNIX seconds) in every call, so a test can drive a session
with a fake clock and a pseudo-terminal, and the same session runs in the app, ``monitor`` and tests.

The pipeline's contract, after opening the source: ``start(now)``; then for every chunk read
``on_bytes`` and, after decoding it, ``on_messages``; ``on_connection(False/True)`` when the source goes
and comes back; ``poll(now)`` after each of those calls and whenever ``now`` passes the last
``SessionOutput.wake_at``. Each ``SessionOutput.writes`` item is written to the source in order (and
recorded as sent). ``stop(now)`` at the end (its writes are sent when the source is still open).
"""

from __future__ import annotations

from collections.abc import Sequence

from meterui.protocol.records import FrozenRecord, Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol, runtime_checkable

    from meterui.protocol.message import Message
else:
    from meterui.protocol.structural import Protocol, runtime_checkable


class SessionEvent(FrozenRecord):
    """A step of the session for the health strip and the log (``scanning``, ``joined``, ``expired``…).

    ``text`` is one line for a person and never holds a password or an ID in full.
    """

    __slots__ = (
        "state",
        "text",
        "trouble",
    )

    state: str
    text: str
    trouble: bool

    def __init__(
        self,
        state: str,
        text: str,
        trouble: bool = False,
    ) -> None:
        object.__setattr__(self, "state", state)
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "trouble", trouble)


class SessionOutput(Record):
    """What a session wants done: bytes to write in order, when to be woken, what to tell the user."""

    __slots__ = (  # noqa: RUF023 (field order: the constructor's, as repr shows it)
        "writes",
        "wake_at",
        "events",
    )

    writes: list[bytes]
    wake_at: float | None
    events: list[SessionEvent]

    def __init__(
        self,
        writes: list[bytes] | None = None,
        wake_at: float | None = None,
        events: list[SessionEvent] | None = None,
    ) -> None:
        self.writes = [] if writes is None else writes
        self.wake_at = wake_at
        self.events = [] if events is None else events


@runtime_checkable
class Session(Protocol):
    """A sans-IO conversation driven by the pipeline (see the module docstring for the call order)."""

    @property
    def state(self) -> str:
        """The current state's short name, e.g. ``joined``."""
        ...

    def start(self, now: float) -> None: ...

    def on_bytes(self, data: bytes, now: float) -> None: ...

    def on_messages(self, messages: Sequence[Message], now: float) -> None: ...

    def on_connection(self, connected: bool, now: float) -> None: ...

    def poll(self, now: float) -> SessionOutput: ...

    def stop(self, now: float) -> None: ...
