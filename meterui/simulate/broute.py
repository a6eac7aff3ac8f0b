"""A virtual Wi-SUN module (SKSTACK-IP) with a low-voltage smart meter behind it, on a pseudo-terminal.

:class:`VirtualModule` is the sans-IO model: ``feed`` it the bytes a host writes, and ``due(now)``
returns what the module writes back by then (echo-back, ``OK``/``FAIL``, ``EVENT`` lines, ``EPANDESC``
blocks after a realistic scan time, PANA join that fails on wrong credentials, ``ERXUDP`` answers with
plausible moving values, history for the last days). Delays are multiplied by ``time_scale``; the
meter's clock runs ``1 / time_scale`` times faster so energy visibly grows in fast tests.

Occasional failures (failed sends, session expiry, transmit-time limit) come from a seeded random
generator, and each can be forced deterministically through the control methods
(:meth:`VirtualModule.fail_sends`, :meth:`expire_session`, :meth:`tx_limit`, :meth:`restart`,
:meth:`set_silent`, :meth:`push_infc`).

:class:`PtyModule` runs a :class:`VirtualModule` on a pty in a thread and keeps a stable symlink
(``--link``) to it. Protocol references: protocols.md §6, meter-lists.md §5.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import heapq
import math
import os
import random
import select
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path

from meterui.broute import commands as C

DEFAULT_ID = "0123456789ABCDEF0123456789ABCDEF"
DEFAULT_PASSWORD = "PASSWORD1234"
MODULE_MAC = "001D129012345678"
METER_MAC = "00808700301224EF"
METER_CHANNEL = 0x21 + 12
METER_PAN = 0x8888
MULTICAST = "FF02:0000:0000:0000:0000:0000:0000:0001"
NO_DATA = 0xFFFFFFFE
METER_EPCS = (
    0x80,
    0x88,
    0x8A,
    0x8D,
    0x97,
    0x98,
    0x9D,
    0x9E,
    0x9F,
    0xD3,
    0xD7,
    0xE0,
    0xE1,
    0xE2,
    0xE3,
    0xE4,
    0xE5,
    0xE7,
    0xE8,
    0xEA,
    0xEB,
    0xEC,
    0xED,
)
"""Properties the virtual meter answers (everything else gets Get_SNA with PDC 0)."""
VERSIONS = {"a1": "1.2.10", "c2": "1.0.3"}


def _propmap(epcs: tuple[int, ...]) -> bytes:
    if len(epcs) < 16:
        return bytes((len(epcs), *epcs))
    bits = bytearray(16)
    for e in epcs:
        bits[(e - 0x80) % 16] |= 1 << ((e - 0x80) // 16)
    return bytes((len(epcs),)) + bytes(bits)


class Meter:
    """The meter's moving values on an accelerated clock (cumulative energy only grows)."""

    def __init__(self, rng: random.Random, start: float) -> None:
        self.rng = rng
        self.start = start
        self.history_day = 0
        self.history2: tuple[dt.datetime, int] | None = None
        """ED: the newest slot and the number of slots EC reports (``None``: the latest 12)."""
        self.unit_code = 0x02  # 0.01 kWh
        self.base_kwh = 8653.6

    # power (W) as a smooth function of meter time; energy is its exact integral
    @staticmethod
    def _mean_power(t: float) -> float:
        return 450.0 + 300.0 * math.sin(2 * math.pi * t / 86400.0)

    def energy_kwh(self, t: float) -> float:
        integral = 450.0 * t - 300.0 * 86400.0 / (2 * math.pi) * (math.cos(2 * math.pi * t / 86400.0) - 1)
        return self.base_kwh + (integral - self._integral0()) / 3.6e6

    def _integral0(self) -> float:
        t = self.start - 40 * 86400  # the counter started 40 days before the simulation
        return 450.0 * t - 300.0 * 86400.0 / (2 * math.pi) * (math.cos(2 * math.pi * t / 86400.0) - 1)

    def export_kwh(self, t: float) -> float:
        return 12.3 + (t - self.start + 40 * 86400) / 86400.0 * 0.4

    def raw(self, kwh: float) -> int:
        exponent = {0x00: 0, 0x01: 1, 0x02: 2, 0x03: 3}[self.unit_code]
        return int(kwh * 10**exponent) & 0xFFFFFFFF

    def power(self, t: float) -> int:
        return int(self._mean_power(t) + self.rng.uniform(-25, 25))

    def edt(self, epc: int, t: float) -> bytes | None:
        local = dt.datetime.fromtimestamp(t)
        if epc == 0x80:
            return b"\x30"
        if epc == 0x88:
            return b"\x42"
        if epc == 0x8A:
            return bytes.fromhex("000016")
        if epc == 0x8D:
            return b"VIRTUAL00000001"
        if epc == 0x97:
            return bytes((local.hour, local.minute))
        if epc == 0x98:
            return local.year.to_bytes(2, "big") + bytes((local.month, local.day))
        if epc == 0x9D:
            return _propmap((0x80, 0x88, 0xEA, 0xEB))
        if epc == 0x9E:
            return _propmap((0xE5,))
        if epc == 0x9F:
            return _propmap(METER_EPCS)
        if epc == 0xD3:
            return (1).to_bytes(4, "big")
        if epc == 0xD7:
            return b"\x06"
        if epc == 0xE0:
            return self.raw(self.energy_kwh(t)).to_bytes(4, "big")
        if epc == 0xE3:
            return self.raw(self.export_kwh(t)).to_bytes(4, "big")
        if epc == 0xE1:
            return bytes((self.unit_code,))
        if epc in (0xE2, 0xE4):
            return self._history(epc, t)
        if epc == 0xE5:
            return bytes((self.history_day,))
        if epc in (0xEC, 0xED):
            newest, count = self.history2 or (
                local.replace(minute=local.minute - local.minute % 30, second=0, microsecond=0),
                12,
            )
            head = newest.year.to_bytes(2, "big") + bytes((newest.month, newest.day, newest.hour, newest.minute))
            if epc == 0xED:
                return head + bytes((count,))
            body = bytearray(head + bytes((count,)))
            for k in range(count):
                at = (newest - dt.timedelta(minutes=30 * k)).timestamp()
                for kwh in (self.energy_kwh(at), self.export_kwh(at)):
                    body += (self.raw(kwh) if at <= t else NO_DATA).to_bytes(4, "big")
            return bytes(body)
        if epc == 0xE7:
            return self.power(t).to_bytes(4, "big", signed=True)
        if epc == 0xE8:
            p = self._mean_power(t)
            r = int(p / 100 * 10 * 0.6)
            s = int(p / 100 * 10 * 0.4)
            return r.to_bytes(2, "big", signed=True) + s.to_bytes(2, "big", signed=True)
        if epc in (0xEA, 0xEB):
            stamp = local.replace(minute=local.minute - local.minute % 30, second=0, microsecond=0)
            at = stamp.timestamp()
            kwh = self.energy_kwh(at) if epc == 0xEA else self.export_kwh(at)
            return (
                stamp.year.to_bytes(2, "big")
                + bytes((stamp.month, stamp.day, stamp.hour, stamp.minute, 0))
                + self.raw(kwh).to_bytes(4, "big")
            )
        return None

    def _history(self, epc: int, t: float) -> bytes:
        day = self.history_day
        today = dt.datetime.fromtimestamp(t).replace(hour=0, minute=0, second=0, microsecond=0)
        midnight = (today - dt.timedelta(days=day)).timestamp()
        out = bytearray(day.to_bytes(2, "big"))
        for k in range(48):
            at = midnight + 1800 * k
            if at > t:
                out += NO_DATA.to_bytes(4, "big")
            else:
                kwh = self.energy_kwh(at) if epc == 0xE2 else self.export_kwh(at)
                out += self.raw(kwh).to_bytes(4, "big")
        return bytes(out)


class VirtualModule:
    """A sans-IO SKSTACK-IP module in dialect ``a1`` (BP35A1) or ``c2`` (BP35C2, SIDE argument)."""

    def __init__(
        self,
        dialect: str = "a1",
        *,
        hex_mode: bool = False,
        rbid: str = DEFAULT_ID,
        password: str = DEFAULT_PASSWORD,
        time_scale: float = 1.0,
        seed: int = 0,
        min_scan_duration: int = 6,
        send_fail_rate: float = 0.0,
        expire_every: float | None = None,
        tx_limit_every: float | None = None,
        unsupported: tuple[int, ...] = (),
        ropt_unsupported: bool = False,
        now: float | None = None,
    ) -> None:
        if dialect not in ("a1", "c2"):
            raise ValueError("dialect must be a1 or c2")
        self.dialect = dialect
        self.hex_mode = hex_mode  # flash (WOPT): survives restarts
        self.expected_id = rbid
        self.expected_password = password
        self.time_scale = time_scale
        self.rng = random.Random(seed)
        self.min_scan_duration = min_scan_duration
        self.send_fail_rate = send_fail_rate
        self.expire_every = expire_every
        self.tx_limit_every = tx_limit_every
        self.unsupported = frozenset(unsupported)
        """EPCs this meter answers with PDC 0 (Get_SNA), e.g. the optional D3."""
        self._t0 = time.monotonic() if now is None else now
        self.meter = Meter(self.rng, time.time())
        self.silent = False
        self.log: list[str] = []
        """Command words received (``SKSENDTO`` etc.; never their arguments), for tests."""
        self.requests: list[bytes] = []
        """ECHONET Lite frames the meter received."""
        self.infc_acks = 0
        self.wopt_writes = 0
        self._out: list[tuple[float, int, bytes | Callable[[], None]]] = []
        self._seq = 0
        self._buf = bytearray()
        self._now = self._t0
        self._forced_send_failures = 0
        self._forced_drops = 0
        self.ropt_supported = dialect == "a1" or not ropt_unsupported
        self._tid = 0x8000
        self._next_expiry: float | None = None
        self._next_tx_limit: float | None = None
        self._reset()

    # -- state ---------------------------------------------------------------------------------------
    def _reset(self) -> None:
        self.echo = True
        self.registers: dict[str, str] = {"S2": "21", "S3": "FFFF", "SFE": "1", "SA2": "0"}
        self.rbid: str | None = None
        self.password: str | None = None
        self.joined = False
        self.joining = False
        self.limited = False
        self.reauthing = False

    def meter_time(self) -> float:
        """The meter's clock: wall time at start, running ``1 / time_scale`` times faster."""
        return self.meter.start + (self._now - self._t0) / self.time_scale

    @property
    def meter_ip(self) -> str:
        return C.link_local(METER_MAC)

    @property
    def own_ip(self) -> str:
        return C.link_local(MODULE_MAC)

    # -- control API (deterministic failures) ---------------------------------------------------------
    def fail_sends(self, count: int = 1) -> None:
        """The next ``count`` SKSENDTO fail over the air (``EVENT 21 … 01``, no answer)."""
        self._forced_send_failures += count

    def drop_answers(self, count: int = 1) -> None:
        """The meter ignores the next ``count`` requests (the send succeeds, no answer comes)."""
        self._forced_drops += count

    def expire_session(self, reauth_ok: bool = True, now: float | None = None) -> None:
        """PANA lifetime expires now: ``EVENT 29``, then ``EVENT 25`` (or ``24`` when ``reauth_ok`` is false)."""
        now = self._now if now is None else now
        if not self.joined:
            return
        self.joined = False
        self.reauthing = True
        self._emit_event(0x29, at=now)

        def done() -> None:
            self.reauthing = False
            self.joined = reauth_ok
            self._emit_event(0x25 if reauth_ok else 0x24)

        self._at(now + self._delay(2.0), done)

    def tx_limit(self, seconds: float = 30.0, now: float | None = None) -> None:
        """Transmit-time limit: ``EVENT 32`` now, ``EVENT 33`` after ``seconds`` (scaled)."""
        now = self._now if now is None else now
        self.limited = True
        self._emit_event(0x32, at=now)

        def release() -> None:
            self.limited = False
            self._emit_event(0x33)

        self._at(now + self._delay(seconds), release)

    def restart(self) -> None:
        """The module resets (power glitch): it forgets the join, credentials and volatile registers."""
        self._out.clear()
        self._buf.clear()
        self._reset()

    def set_silent(self, silent: bool) -> None:
        """A module that stops answering (wrong baud rate, hung firmware): input dropped, nothing sent."""
        self.silent = silent
        if silent:
            self._out.clear()
            self._buf.clear()

    def push_infc(self, now: float | None = None) -> None:
        """The meter sends EA as INFC (it expects an INFC_Res 0x7A)."""
        now = self._now if now is None else now
        edt = self.meter.edt(0xEA, self.meter_time())
        assert edt is not None
        self._tid += 1
        frame = C.echonet_request(self._tid, 0x74, [(0xEA, edt)], deoj=C.CONTROLLER_EOJ, seoj=C.METER_EOJ)
        if self.joined:
            self._at(now, self._erxudp(frame))

    # -- sans-IO -------------------------------------------------------------------------------------
    def next_time(self) -> float | None:
        times = [self._out[0][0]] if self._out else []
        times += [t for t in (self._next_expiry, self._next_tx_limit) if t is not None]
        return min(times) if times else None

    def due(self, now: float) -> bytes:
        """Everything the module writes up to ``now``."""
        self._now = now
        self._random_events(now)
        out = bytearray()
        while self._out and self._out[0][0] <= now:
            _, _, item = heapq.heappop(self._out)
            if isinstance(item, bytes):
                out += item
            else:
                item()
        return bytes(out)

    def feed(self, data: bytes, now: float) -> None:
        self._now = now
        if self.silent:
            return
        self._buf += data
        while self._buf:
            if self._buf.startswith(b"SKSENDTO "):
                consumed = self._sendto()
                if consumed is None:
                    return  # waiting for the rest of the header or the binary data
                del self._buf[:consumed]
                while self._buf[:1] in (b"\r", b"\n"):
                    del self._buf[:1]
                continue
            ends = [i for i in (self._buf.find(b"\r"), self._buf.find(b"\n")) if i >= 0]
            if not ends:
                return
            end = min(ends)
            line = bytes(self._buf[:end])
            del self._buf[: end + 1]
            if line.strip():
                self._command(line)

    # -- internals -----------------------------------------------------------------------------------
    def _delay(self, seconds: float) -> float:
        return seconds * self.time_scale

    def _at(self, when: float, item: bytes | Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._out, (when, self._seq, item))

    def _say(self, *lines: str, after: float = 0.01) -> None:
        self._at(self._now + self._delay(after), "".join(f"{x}\r\n" for x in lines).encode())

    def _emit_event(
        self, num: int, param: str | None = None, at: float | None = None, sender: str | None = None
    ) -> None:
        parts = ["EVENT", f"{num:02X}", sender or self.meter_ip]
        if self.dialect == "c2":
            parts.append("0")
        if param is not None:
            parts.append(param)
        line = (" ".join(parts) + "\r\n").encode()
        if at is None:
            self._at(self._now, line)
        else:
            self._at(at, line)

    def _random_events(self, now: float) -> None:
        if self.expire_every and self.joined and self._next_expiry is None:
            self._next_expiry = now + self._delay(self.rng.expovariate(1 / self.expire_every))
        if self.tx_limit_every and self.joined and self._next_tx_limit is None:
            self._next_tx_limit = now + self._delay(self.rng.expovariate(1 / self.tx_limit_every))
        if self._next_expiry is not None and now >= self._next_expiry:
            self._next_expiry = None
            self.expire_session(now=now)
        if self._next_tx_limit is not None and now >= self._next_tx_limit:
            self._next_tx_limit = None
            self.tx_limit(self.rng.uniform(5, 30), now=now)

    def _command(self, line: bytes) -> None:
        text = line.decode("ascii", "replace").strip()
        words = text.split()
        head, args = words[0], words[1:]
        self.log.append(head)
        if self.echo:
            self._at(self._now, line + b"\r\n")
        handler = getattr(self, f"_c_{head.lower()}", None)
        if handler is None:
            self._say("FAIL ER04")
            return
        handler(args)

    def _c_skver(self, args: list[str]) -> None:
        self._say(f"EVER {VERSIONS[self.dialect]}", "OK")

    def _c_skinfo(self, args: list[str]) -> None:
        addr16 = "FFFE" if self.dialect == "a1" else "0000"
        self._say(f"EINFO {self.own_ip} {MODULE_MAC} {self.registers['S2']} {self.registers['S3']} {addr16}", "OK")

    def _c_ropt(self, args: list[str]) -> None:
        if not self.ropt_supported:
            self._say("FAIL ER04")
            return
        self._say(f"OK {'01' if self.hex_mode else '00'}")

    def _c_wopt(self, args: list[str]) -> None:
        if len(args) != 1 or args[0] not in ("00", "01"):
            self._say("FAIL ER06")
            return
        self.wopt_writes += 1
        self.hex_mode = args[0] == "01"
        self._say("OK")

    def _c_sksreg(self, args: list[str]) -> None:
        if not args or len(args) > 2:
            self._say("FAIL ER05")
            return
        reg = args[0].upper()
        if reg == "SA2" and self.dialect == "a1":
            self._say("FAIL ER04")
            return
        if len(args) == 1:
            self._say(f"ESREG {self.registers.get(reg, '0')}", "OK")
            return
        self.registers[reg] = args[1].upper()
        if reg == "SFE":
            self.echo = args[1] != "0"
        self._say("OK")

    def _c_sksetpwd(self, args: list[str]) -> None:
        if len(args) != 2 or int(args[0], 16) != len(args[1]) or not 1 <= len(args[1]) <= 32:
            self._say("FAIL ER06")
            return
        self.password = args[1]
        self._say("OK")

    def _c_sksetrbid(self, args: list[str]) -> None:
        if len(args) != 1 or len(args[0]) != 32:
            self._say("FAIL ER06")
            return
        self.rbid = args[0]
        self._say("OK")

    def _c_skscan(self, args: list[str]) -> None:
        want = 4 if self.dialect == "c2" else 3
        if len(args) != want:
            self._say("FAIL ER05")
            return
        duration = int(args[2], 16)
        self._say("OK")
        per_channel = 0.0096 * (2**duration + 1)
        start = self._now
        if duration >= self.min_scan_duration:
            at = start + self._delay(per_channel * (METER_CHANNEL - 0x21 + 0.5))
            self._emit_event(0x20, at=at, sender=self.meter_ip)
            lines = [
                "EPANDESC",
                f"  Channel:{METER_CHANNEL:02X}",
                "  Channel Page:09",
                f"  Pan ID:{METER_PAN:04X}",
                f"  Addr:{METER_MAC}",
                "  LQI:A0",
            ]
            if self.dialect == "c2":
                lines.append("  Side:0")
            lines.append("  PairID:00AABBCC")
            self._at(at, "".join(f"{x}\r\n" for x in lines).encode())
        self._emit_event(0x22, at=start + self._delay(per_channel * C.SCAN_CHANNELS), sender=self.own_ip)

    def _c_skll64(self, args: list[str]) -> None:
        if len(args) != 1 or len(args[0]) != 16:
            self._say("FAIL ER06")
            return
        self._say(C.link_local(args[0]))

    def _c_skjoin(self, args: list[str]) -> None:
        if len(args) != 1:
            self._say("FAIL ER05")
            return
        self._say("OK")
        self.joining = True
        ok = (
            args[0].upper() == self.meter_ip
            and self.registers.get("S2") == f"{METER_CHANNEL:02X}"
            and self.registers.get("S3") == f"{METER_PAN:04X}"
            and self.rbid == self.expected_id
            and self.password == self.expected_password
        )
        for k in range(3):
            self._emit_event(0x21, "00", at=self._now + self._delay(0.5 + k), sender=self.meter_ip)
        self._emit_event(0x02, at=self._now + self._delay(1.0))

        def done() -> None:
            self.joining = False
            self.joined = ok
            self._emit_event(0x25 if ok else 0x24)
            if ok:  # the meter announces itself (node profile instance list, multicast INF)
                frame = C.echonet_request(
                    1, 0x73, [(0xD5, bytes.fromhex("01028801"))], seoj=C.NODE_PROFILE_EOJ, deoj=C.NODE_PROFILE_EOJ
                )
                self._at(self._now + self._delay(0.3), self._erxudp(frame, dest=MULTICAST))

        self._at(self._now + self._delay(3.5), done)

    def _c_skterm(self, args: list[str]) -> None:
        if not self.joined:
            self._say("FAIL ER10")
            return
        self.joined = False
        self._say("OK")
        self._emit_event(0x27, at=self._now + self._delay(0.5))

    def _c_skreset(self, args: list[str]) -> None:
        self.restart()
        self._say("OK")

    def _sendto(self) -> int | None:
        """Parse ``SKSENDTO`` and its binary data; return bytes consumed, ``None`` to wait for more."""
        buf = bytes(self._buf)
        want = 7 if self.dialect == "c2" else 6
        tokens: list[bytes] = []
        pos = 0
        for _ in range(want):
            sp = buf.find(b" ", pos)
            token = buf[pos:] if sp < 0 else buf[pos:sp]
            if b"\r" in token or b"\n" in token:
                self.log.append("SKSENDTO")
                self._say("FAIL ER05")
                return pos + min(i for i in (token.find(b"\r"), token.find(b"\n")) if i >= 0) + 1
            if sp < 0:
                return None
            tokens.append(token)
            pos = sp + 1
        self.log.append("SKSENDTO")
        try:
            datalen = int(tokens[-1], 16)
        except ValueError:
            self._say("FAIL ER06")
            return pos
        if len(buf) < pos + datalen:
            return None
        data = buf[pos : pos + datalen]
        if self.echo:
            self._at(self._now, buf[: pos + datalen] + b"\r\n")
        if not self.joined or self.limited:
            self._say("FAIL ER10")
            return pos + datalen
        if self._forced_send_failures or (self.send_fail_rate and self.rng.random() < self.send_fail_rate):
            self._forced_send_failures = max(0, self._forced_send_failures - 1)
            self._emit_event(0x21, "01", at=self._now + self._delay(0.1))
            self._say("OK", after=0.1)
            return pos + datalen
        self._emit_event(0x21, "00", at=self._now + self._delay(0.1))
        self._say("OK", after=0.1)
        self.requests.append(data)
        reply = self._answer(data)
        if self._forced_drops and reply is not None:
            self._forced_drops -= 1
            return pos + datalen
        if reply is not None:
            self._at(self._now + self._delay(0.8 + self.rng.uniform(0, 0.4)), self._erxudp(reply))
        return pos + datalen

    def _answer(self, frame: bytes) -> bytes | None:
        if len(frame) < 12 or frame[:2] != b"\x10\x81":
            return None
        tid = int.from_bytes(frame[2:4], "big")
        seoj, deoj, esv, opc = frame[4:7], frame[7:10], frame[10], frame[11]
        props: list[tuple[int, bytes]] = []
        pos = 12
        for _ in range(opc):
            epc, pdc = frame[pos], frame[pos + 1]
            props.append((epc, frame[pos + 2 : pos + 2 + pdc]))
            pos += 2 + pdc
        if deoj != C.METER_EOJ:
            return None
        t = self.meter_time()
        if esv == 0x7A:
            self.infc_acks += 1
            return None
        if esv == 0x62:
            out = [(epc, b"" if epc in self.unsupported else self.meter.edt(epc, t) or b"") for epc, _ in props]
            ok = all(e for _, e in out)
            return C.echonet_request(tid, 0x72 if ok else 0x52, out, deoj=seoj, seoj=deoj)
        if esv in (0x60, 0x61):
            ok = True
            for epc, edt in props:
                if epc == 0xE5 and len(edt) == 1 and edt[0] <= 99:
                    self.meter.history_day = edt[0]
                elif epc == 0xED and len(edt) == 7 and 1 <= edt[6] <= 12:
                    try:
                        newest = dt.datetime(int.from_bytes(edt[0:2], "big"), edt[2], edt[3], edt[4], edt[5])
                    except ValueError:
                        ok = False
                        continue
                    self.meter.history2 = (newest, edt[6])
                else:
                    ok = False
            if esv == 0x60 and ok:
                return None
            return C.echonet_request(tid, 0x71 if ok else 0x51, [(e, b"") for e, _ in props], deoj=seoj, seoj=deoj)
        return None

    def _erxudp(self, edata: bytes, dest: str | None = None) -> Callable[[], None]:
        def send() -> None:
            fields = ["ERXUDP", self.meter_ip, dest or self.own_ip, "0E1A", "0E1A", METER_MAC]
            if self.dialect == "c2" and self.registers.get("SA2") == "1":
                fields.append(f"{self.rng.randint(0x90, 0xB0):02X}")
            fields.append("1")
            if self.dialect == "c2":
                fields.append("0")
            fields.append(f"{len(edata):04X}")
            data = edata.hex().upper().encode() if self.hex_mode else edata
            self._at(self._now, " ".join(fields).encode() + b" " + data + b"\r\n")

        return send


class PtyModule:
    """Runs a :class:`VirtualModule` on a pseudo-terminal in a background thread.

    ``path`` is the pty's device; ``link`` (when given) a symlink to it that stays until :meth:`close`.
    The control methods of the module are reached through :meth:`control` (thread-safe).
    """

    def __init__(self, module: VirtualModule, link: str | Path | None = None) -> None:
        self.module = module
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)  # a module nobody reads drops what it sends, as a UART does
        self.path = os.ttyname(self._slave)
        self.link = Path(link) if link else None
        if self.link is not None:
            tmp = self.link.with_name(self.link.name + ".tmp")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(self.path)
            tmp.replace(self.link)
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="virtual-wisun", daemon=True)
        self._thread.start()

    @property
    def device(self) -> str:
        """What to open: the symlink when there is one, else the pty path."""
        return str(self.link) if self.link is not None else self.path

    def control(self, fn: Callable[[VirtualModule], object]) -> object:
        """Call ``fn(module)`` under the lock (e.g. ``sim.control(lambda m: m.expire_session())``)."""
        with self._lock:
            self.module._now = time.monotonic()
            result = fn(self.module)
        os.write(self._wake_w, b"x")
        return result

    def _run(self) -> None:
        master = self._master
        while not self._stop.is_set():
            with self._lock:
                nxt = self.module.next_time()
            timeout = 0.5 if nxt is None else min(0.5, max(0.0, nxt - time.monotonic()))
            try:
                ready, _, _ = select.select([master, self._wake_r], [], [], timeout)
            except (OSError, ValueError):
                return
            if self._wake_r in ready:
                os.read(self._wake_r, 64)
            data = b""
            if master in ready:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    return
            with self._lock:
                now = time.monotonic()
                if data:
                    self.module.feed(data, now)
                out = self.module.due(now)
            if out:
                try:
                    os.write(master, out)  # what does not fit in the pty's buffer is lost
                except BlockingIOError:
                    pass  # nobody reads (the session closed the port): do not block close() on a full buffer
                except OSError:
                    return

    def close(self) -> None:
        self._stop.set()
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=5)
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.link is not None and self.link.is_symlink():
            self.link.unlink()

    def __enter__(self) -> PtyModule:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
