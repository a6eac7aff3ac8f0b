"""The result of decoding one message: what the CLI prints and the TUI draws.

A *message* is one application-level unit after reassembly: one HDLC frame, several HDLC segments or
GBT blocks, a pair of M-Bus segments, one ERXUDP line, or a run of unrecognised bytes. The JSON form
(:meth:`Message.to_json`) is a public interface: scripts depend on it.
"""

from __future__ import annotations

from meterui.protocol.errors import MeterError
from meterui.protocol.records import Record
from meterui.protocol.spans import Node
from meterui.protocol.text import printable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Reading:
    """One value read from a meter, after scaling.

    ``node`` is the decode-tree node holding the value (for linking a table row to its bytes). It may
    be resolved lazily from ``ref = (subtree, buffer, start, end)``, so decoding stays cheap.
    """

    __slots__ = ("_node", "id", "name", "quantity", "ref", "unit", "value")

    def __init__(
        self,
        id: str,
        name: str,
        value: int | float | str,
        unit: str | None = None,
        quantity: str | None = None,
        node: Node | None = None,
        ref: tuple[Node, str, int, int] | None = None,
    ) -> None:
        self.id = id
        """OBIS as ``A.B.C.D.E.F`` in decimal; for ECHONET the EPC (``E7``, ``E8.R``…)."""
        self.name = name
        self.value = value
        self.unit = unit
        self.quantity = quantity
        self._node = node
        self.ref = ref

    @property
    def node(self) -> Node | None:
        if self._node is None and self.ref is not None:
            top, buffer, start, end = self.ref
            self._node = top.find_span(buffer, start, end)
        return self._node

    @property
    def span(self) -> tuple[str, int, int] | None:
        if self.ref is not None:
            return self.ref[1:]  # type: ignore[return-value]
        node = self._node
        return None if node is None else (node.buffer, node.start, node.end)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "quantity": self.quantity, "name": self.name, "value": self.value, "unit": self.unit}

    def format_value(self) -> str:
        v = self.value
        if isinstance(v, float):
            return f"{v:.6g}" if abs(v) < 1e6 else f"{v:.1f}"
        return printable(str(v))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Reading):
            return NotImplemented
        return (self.id, self.name, self.value, self.unit, self.quantity) == (
            other.id,
            other.name,
            other.value,
            other.unit,
            other.quantity,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Reading({self.id!r}, {self.name!r}, {self.value!r}, {self.unit!r}, {self.quantity!r})"


class Message(Record):
    """One decoded (or failed) message."""

    __slots__ = (  # noqa: RUF023 (field order: the constructor's, as repr shows it)
        "index",
        "protocol",
        "offsets",
        "root",
        "buffers",
        "error",
        "encrypted",
        "authenticated",
        "system_title",
        "invocation_counter",
        "clock",
        "readings",
        "meter",
        "list_id",
        "received",
        "warnings",
        "context",
    )
    index: int
    protocol: str
    """``hdlc``, ``mbus``, ``dsmr`` or ``echonet``; ``unknown`` for bytes that belong to no protocol."""
    offsets: list[tuple[int, int]]
    """Half-open ``[start, end)`` byte ranges of the input stream that make up this message."""
    root: Node
    buffers: dict[str, bytes]
    error: MeterError | None
    encrypted: bool
    authenticated: bool | None
    system_title: bytes | None
    invocation_counter: int | None
    clock: str | None
    readings: list[Reading]
    meter: str | None
    """A stable label for the meter that sent it (system title, meter id or sender address)."""
    list_id: str | None
    received: float | None
    """Arrival time (UNIX seconds) when known: live ports and timestamped recordings."""
    warnings: list[str]
    context: Any
    """What decoding it depended on besides its bytes (a ``meterui.protocol.decoder.DecodeContext``:
    options such as the deviation sign, ECHONET D3/E1 scaling), so it can be decoded again alike."""

    def __init__(
        self,
        index: int,
        protocol: str,
        offsets: list[tuple[int, int]],
        root: Node,
        buffers: dict[str, bytes],
        error: MeterError | None = None,
        encrypted: bool = False,
        authenticated: bool | None = None,
        system_title: bytes | None = None,
        invocation_counter: int | None = None,
        clock: str | None = None,
        readings: list[Reading] | None = None,
        meter: str | None = None,
        list_id: str | None = None,
        received: float | None = None,
        warnings: list[str] | None = None,
        context: Any = None,
    ) -> None:
        self.index = index
        self.protocol = protocol
        self.offsets = offsets
        self.root = root
        self.buffers = buffers
        self.error = error
        self.encrypted = encrypted
        self.authenticated = authenticated
        self.system_title = system_title
        self.invocation_counter = invocation_counter
        self.clock = clock
        self.readings = [] if readings is None else readings
        self.meter = meter
        self.list_id = list_id
        self.received = received
        self.warnings = [] if warnings is None else warnings
        self.context = context

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def layer(self) -> str | None:
        return None if self.error is None else self.error.layer

    @property
    def size(self) -> int:
        return sum(end - start for start, end in self.offsets)

    def verdict(self) -> str:
        if self.error is None:
            return "ok" if not self.warnings else "ok*"
        return f"{self.error.layer} error"

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "protocol": self.protocol,
            "ok": self.error is None,
            "error": None if self.error is None else {"layer": self.error.layer, "message": self.error.message},
            "offsets": [[s, e] for s, e in self.offsets],
            "encrypted": self.encrypted,
            "authenticated": self.authenticated,
            "system_title": None if self.system_title is None else self.system_title.hex().upper(),
            "invocation_counter": self.invocation_counter,
            "clock": self.clock,
            "readings": [r.to_json() for r in self.readings],
        }
