"""Per-vendor list specifications: fixed scaling and positional layouts (meter-lists.md §1-§3).

Self-describing bodies (Aidon, Austrian Kaifa/Sagemcom/Honeywell) carry OBIS codes and in-band
scaler-units and need nothing from here. Lists without in-band scalers are identified by their list
version identifier and scaled from :data:`LIST_SCALING`; lists without OBIS codes are laid out by
:data:`POSITIONAL`, matched on the element count, each element's A-XDR type and (where the layout
has one) the text of the first element, so a list that does not match exactly falls back to the
generic decode instead of being mislabelled. Descriptor pushes (an in-band push-object list, L+G
E450) are mapped by descriptor; values they send without a scaler get :data:`E450_DEFAULTS`.
"""

from __future__ import annotations

from meterui.protocol import axdr
from meterui.protocol.records import TupleRecord, tuple_field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import tzinfo

# A scaling rule: (C, D) of the OBIS code -> (power-of-ten scaler, unit)
Scaling = dict[tuple[int, int], tuple[int, str | None]]

_POWER_UNITS: Scaling = {(1, 7): (0, "W"), (2, 7): (0, "W"), (3, 7): (0, "var"), (4, 7): (0, "var")}
_PHASE_POWER: Scaling = {(c, 7): (0, "W") for c in (21, 41, 61, 22, 42, 62)}
_PHASE_POWER.update({(c, 7): (0, "var") for c in (23, 43, 63, 24, 44, 64)})

KAMSTRUP_V0001: Scaling = {
    **_POWER_UNITS,
    **_PHASE_POWER,
    (31, 7): (-2, "A"),
    (51, 7): (-2, "A"),
    (71, 7): (-2, "A"),
    (32, 7): (0, "V"),
    (52, 7): (0, "V"),
    (72, 7): (0, "V"),
    (13, 7): (-2, None),
    (33, 7): (-2, None),
    (53, 7): (-2, None),
    (73, 7): (-2, None),
    (1, 8): (1, "Wh"),
    (2, 8): (1, "Wh"),
    (3, 8): (1, "varh"),
    (4, 8): (1, "varh"),
    (21, 8): (1, "Wh"),
    (41, 8): (1, "Wh"),
    (61, 8): (1, "Wh"),
    (22, 8): (1, "Wh"),
    (42, 8): (1, "Wh"),
    (62, 8): (1, "Wh"),
}
"""Kamstrup_V0001: currents 0.01 A, voltages 1 V, energies 10 Wh (KNVE §2.7-2.9); the Danish Omnipower
list adds power factors ×0.01 (total and per phase) and per-phase energies with the unit and scaling of
the totals (meter-lists.md §3.2). Swedish meters send Wh: a per-installation override corrects that."""

KAMSTRUP_CT: Scaling = {**KAMSTRUP_V0001, (31, 7): (-3, "A"), (51, 7): (-3, "A"), (71, 7): (-3, "A")}
"""Kamstrup CT meters (meter type starting ``685``): currents 0.001 A."""

KFM_001: Scaling = {
    **_POWER_UNITS,
    (31, 7): (-3, "A"),
    (51, 7): (-3, "A"),
    (71, 7): (-3, "A"),
    (32, 7): (-1, "V"),
    (52, 7): (-1, "V"),
    (72, 7): (-1, "V"),
    (1, 8): (0, "Wh"),
    (2, 8): (0, "Wh"),
    (3, 8): (0, "varh"),
    (4, 8): (0, "varh"),
}
"""Kaifa KFM_001 (Norway): currents mA, voltages 0.1 V, energies Wh (meter-lists.md §2.2)."""

E450_DEFAULTS: Scaling = {
    **_POWER_UNITS,
    **_PHASE_POWER,
    (31, 7): (-2, "A"),
    (51, 7): (-2, "A"),
    (71, 7): (-2, "A"),
    (91, 7): (-2, "A"),
    (32, 7): (0, "V"),
    (52, 7): (0, "V"),
    (72, 7): (0, "V"),
    (13, 7): (-3, None),
    (33, 7): (-3, None),
    (53, 7): (-3, None),
    (73, 7): (-3, None),
    (14, 7): (0, "Hz"),
    **{(c, 8): (0, "Wh") for c in (1, 2, 15, 16)},
    **{(c, 8): (0, "varh") for c in (3, 4, 5, 6, 7, 8)},
}
"""Landis+Gyr E450 descriptor pushes carry no scalers (meter-lists.md §1.5, consensus of SCS, CY and
WW_Go): W, var, Wh, varh, Hz and V as sent; currents ×0.01 A; power factors ×0.001."""
E450_DEFAULTS_NAME = "Landis+Gyr E450 defaults"

LIST_SCALING: dict[str, Scaling] = {"Kamstrup_V0001": KAMSTRUP_V0001, "KFM_001": KFM_001}


def scaling_for(list_id: str | None, meter_type: str | None) -> Scaling | None:
    if list_id is None:
        return None
    if list_id == "Kamstrup_V0001" and meter_type and meter_type.startswith("685"):
        return KAMSTRUP_CT
    return LIST_SCALING.get(list_id)


# -- positional layouts ------------------------------------------------------------------------------
class Field(TupleRecord, tuple[str, frozenset[int] | None, tuple[int, str | None] | None]):
    __slots__ = ()
    _fields = ("obis", "tags", "scale")

    obis: str = tuple_field(0)
    """``A.B.C.D.E.F``; empty for a position the reference does not label (decoded generically)."""
    tags: frozenset[int] | None = tuple_field(1)
    """A-XDR types accepted at this position (None: any)."""
    scale: tuple[int, str | None] | None = tuple_field(2)
    """(power-of-ten scaler, unit) from the list specification; None: the list's scaling or as sent."""

    def __new__(cls, obis: str, tags: frozenset[int] | None, scale: tuple[int, str | None] | None = None) -> Field:
        return tuple.__new__(cls, (obis, tags, scale))


_STR = frozenset({axdr.OCTET_STRING, axdr.VISIBLE_STRING})
_U32 = frozenset({axdr.DOUBLE_LONG_UNSIGNED})
_U16 = frozenset({axdr.LONG_UNSIGNED})
_UINT = frozenset({axdr.LONG_UNSIGNED, axdr.DOUBLE_LONG_UNSIGNED})
_FLAG = frozenset({axdr.BOOLEAN, axdr.ENUM})
_CLOCK = frozenset({axdr.OCTET_STRING, axdr.DATE_TIME})
_TIME = frozenset({axdr.OCTET_STRING, axdr.TIME})
_DATE = frozenset({axdr.OCTET_STRING, axdr.DATE})
_V01 = (-1, "V")
_A001 = (-2, "A")


def _f(obis: str, tags: frozenset[int] | None, scale: tuple[int, str | None] | None = None) -> Field:
    return Field(obis, tags, scale)


def _e(cde: str, tags: frozenset[int] | None = _U32, scale: tuple[int, str | None] | None = None) -> Field:
    """An electricity field ``1-0:C.D.E``."""
    return Field(f"1.0.{cde}.255", tags, scale)


_ANY = _f("", None)

_KFM_HEAD = [
    _f("1.1.0.2.129.255", _STR),
    _f("0.0.96.1.0.255", _STR),
    _f("0.0.96.1.7.255", _STR),
    _e("1.7.0"),
    _e("2.7.0"),
    _e("3.7.0"),
    _e("4.7.0"),
]
_KFM_1PH = [_e("31.7.0"), _e("32.7.0")]
_KFM_3PH = [_e("31.7.0"), _e("51.7.0"), _e("71.7.0"), _e("32.7.0"), _e("52.7.0"), _e("72.7.0")]
_KFM_ENERGY = [_f("0.0.1.0.0.255", _CLOCK), _e("1.8.0"), _e("2.8.0"), _e("3.8.0"), _e("4.8.0")]

_ISK_HEAD = [_f("0.0.42.0.0.255", _STR), _f("0.0.96.1.2.255", _STR)]
_PQ = [_e("1.7.0"), _e("2.7.0"), _e("3.7.0"), _e("4.7.0")]
_U3 = [_e(f"{c}.7.0", _U16, _V01) for c in (32, 52, 72)]
_I3 = [_e(f"{c}.7.0", _U16, _A001) for c in (31, 51, 71)]
_PPH = [_e(f"{c}.7.0", _UINT) for c in (21, 41, 61)]
_PPH_EXP = [_e(f"{c}.7.0", _UINT) for c in (22, 42, 62)]
_TARIFF_E = [_e(f"{c}.8.{t}") for c in (1, 2) for t in (0, 1, 2)]


class PositionalList(TupleRecord, tuple[str, str | None, list[Field], tuple[str, bytes] | None]):
    __slots__ = ()
    _fields = ("name", "list_id", "fields", "first")

    name: str = tuple_field(0)
    list_id: str | None = tuple_field(1)
    """The list id the first element must equal (Kaifa ``KFM_001``), reported as the message's list id."""
    fields: list[Field] = tuple_field(2)
    first: tuple[str, bytes] | None = tuple_field(3)
    """Extra rule on the first element: ("prefix", b"ISK") on its text, or ("push", b"") for an
    octet-string holding a push-setup logical name (…:25.9.0.255)."""

    def __new__(
        cls, name: str, list_id: str | None, fields: list[Field], first: tuple[str, bytes] | None = None
    ) -> PositionalList:
        return tuple.__new__(cls, (name, list_id, fields, first))


_IMX50 = [
    _f("0.0.25.9.0.255", frozenset({axdr.OCTET_STRING})),
    _f("0.0.96.1.1.255", _STR),
    _f("0.0.0.9.1.255", _TIME),
    _f("0.0.0.9.2.255", _DATE),
    *[_e(f"{c}.8.0") for c in (1, 2, 3, 4)],
    _e("1.7.0"),
    _e("2.7.0"),
]
"""The IMx50 push body: push-setup name, meter number, time, date, four energies, two powers."""

POSITIONAL: list[PositionalList] = [
    # Kaifa NO (meter-lists.md §2.2): 1, 9, 13, 14, 18 elements; the model string is 7 or 8 characters
    PositionalList("Kaifa list 1", "KFM_001", [_e("1.7.0")]),
    PositionalList("Kaifa list 2 (1-phase)", "KFM_001", _KFM_HEAD + _KFM_1PH),
    PositionalList("Kaifa list 2 (3-phase)", "KFM_001", _KFM_HEAD + _KFM_3PH),
    PositionalList("Kaifa list 3 (1-phase)", "KFM_001", _KFM_HEAD + _KFM_1PH + _KFM_ENERGY),
    PositionalList("Kaifa list 3 (3-phase)", "KFM_001", _KFM_HEAD + _KFM_3PH + _KFM_ENERGY),
    # Iskraemeco, Slovenia: [1] logical device name "ISK…", [2] device id (meter-lists.md §2.3)
    PositionalList(
        "Iskra SI 18 (3-phase power)", None, _ISK_HEAD + _PQ + _U3 + _I3 + _PPH + _PPH_EXP, ("prefix", b"ISK")
    ),
    PositionalList(
        "Iskra SI 12 (energy)",
        None,
        [*_ISK_HEAD, _f("0.0.96.3.10.255", _FLAG), _f("0.0.96.14.0.255", _STR), *_TARIFF_E, _e("3.8.0"), _e("4.8.0")],
        ("prefix", b"ISK"),
    ),
    PositionalList("Iskra SI 12 (3-phase)", None, _ISK_HEAD + _U3 + _I3 + _PQ, ("prefix", b"ISK")),
    PositionalList(
        "Iskra SI 10 (1-phase)",
        None,
        _ISK_HEAD
        + _PQ
        + [_e("32.7.0", _U16, _V01), _e("31.7.0", _U16, _A001), _e("21.7.0", _UINT), _e("22.7.0", _UINT)],
        ("prefix", b"ISK"),
    ),
    PositionalList(
        "Iskra SI 10 (tariff energy)",
        None,
        _ISK_HEAD + [_e(f"{c}.8.{t}") for c in (1, 2, 3, 4) for t in (1, 2)],
        ("prefix", b"ISK"),
    ),
    PositionalList(
        "Iskra SI 9", None, _ISK_HEAD + _PQ + [_e("32.7.0", _U16, _V01), _e("2.8.1"), _e("2.8.2")], ("prefix", b"ISK")
    ),
    PositionalList(
        "Iskra SI 8 (1-phase)",
        None,
        [*_ISK_HEAD, _e("32.7.0", _U16, _V01), _e("31.7.0", _U16, _A001), *_PQ],
        ("prefix", b"ISK"),
    ),
    # Iskraemeco without the LDN (meter-lists.md §2.4)
    PositionalList(
        "Iskra IE.5 Croatia (33)",
        None,
        [_ANY] * 3
        + _TARIFF_E
        + [_e(f"{c}.8.0") for c in (5, 6, 7, 8)]
        + [_e("1.7.0", _UINT), _e("2.7.0", _UINT), _e("13.7.0", _U32, (-3, None))]
        + _PPH
        + _PPH_EXP
        + _U3
        + _I3
        + [_ANY] * 5,
    ),
    PositionalList(
        "Iskra IE.5 Croatia (28)",
        None,
        [_ANY] * 3 + _TARIFF_E + [_e("1.7.0", _UINT), _e("2.7.0", _UINT)] + _PPH + _PPH_EXP + _U3 + _I3 + [_ANY] * 5,
    ),
    PositionalList(
        "Iskra AM550 Switzerland (15)",
        None,
        [
            *_TARIFF_E,
            _f("", frozenset({axdr.OCTET_STRING})),
            _f("0.0.1.0.0.255", _CLOCK),
            _e("2.7.0"),
            _e("1.7.0"),
            *[_e(f"{c}.7.0", _UINT, _A001) for c in (31, 51, 71)],
            _e("32.7.0", _UINT, _V01),
            _e("72.7.0", _UINT, _V01),
        ],
    ),
    # Austria IMx50 (Iskraemeco AM550, Siemens IM350): [1] push-setup logical name, [2] customer meter number
    PositionalList("IMx50 Austria (10)", None, _IMX50, ("push", b"")),
    PositionalList(
        "IMx50 Austria (12, with consumer message)",
        None,
        [*_IMX50, _f("0.0.96.13.0.255", _STR), _f("0.0.96.13.1.255", None)],
        ("push", b""),
    ),
    # Landis+Gyr (meter-lists.md §2.5)
    PositionalList(
        "L+G E450 Wiener Netze (9)",
        None,
        [
            _f("0.0.1.0.0.255", frozenset({axdr.OCTET_STRING})),
            _e("1.8.0"),
            _e("2.8.0"),
            _e("3.8.0"),
            _e("4.8.0"),
            _e("1.7.0"),
            _e("2.7.0"),
            _e("3.7.0"),
            _e("4.7.0"),
        ],
    ),
    PositionalList(
        "L+G Austria LNG2 (14)",
        None,
        [_e(f"{c}.7.0", _U16, (0, "V")) for c in (32, 52, 72)]
        + _I3
        + [
            _e("1.7.0"),
            _e("2.7.0"),
            _e("1.8.0"),
            _e("2.8.0"),
            _f("", _U16),
            _f("", _U16),
            _f("", _U16),
            _f("0.0.96.1.0.255", _STR),
        ],
    ),
    PositionalList(
        "L+G Austria LNG2 (11)",
        None,
        [_e(f"{c}.7.0", _U16, (0, "V")) for c in (32, 52, 72)]
        + _I3
        + [_e("1.7.0"), _e("2.7.0"), _e("1.8.0"), _e("2.8.0"), _f("0.0.96.1.0.255", _STR)],
    ),
]
"""Bodies of bare values (no OBIS codes) identified by element count, per-position types and the first
element's text (meter-lists.md §2). Positions the reference leaves unlabelled stay unlabelled."""

_BY_COUNT: dict[int, list[PositionalList]] = {}
for _spec in POSITIONAL:
    _BY_COUNT.setdefault(len(_spec.fields), []).append(_spec)


def _first_ok(spec: PositionalList, first_raw: bytes | None) -> bool:
    if spec.list_id is not None and len(spec.fields) > 1:
        return first_raw == spec.list_id.encode("ascii")
    if spec.first is None:
        return True
    if first_raw is None:
        return False
    kind, arg = spec.first
    if kind == "prefix":
        return first_raw.startswith(arg)
    return len(first_raw) == 6 and first_raw[2:5] == b"\x19\x09\x00"  # …:25.9.0


def match_positional(kinds: list[int], first_raw: bytes | str | None) -> PositionalList | None:
    """Find a positional layout whose length, per-position types and first-element rule match exactly."""
    candidates = _BY_COUNT.get(len(kinds))
    if not candidates:
        return None
    if isinstance(first_raw, str):
        first_raw = first_raw.encode("utf-8", "replace")
    for spec in candidates:
        if not _first_ok(spec, first_raw):
            continue
        if all(f.tags is None or k in f.tags for k, f in zip(kinds, spec.fields, strict=True)):
            return spec
    return None


def has_push_setup_head(first_raw: bytes | None) -> bool:
    """Is the first element a push-setup logical name (the IMx50 head)?"""
    return first_raw is not None and len(first_raw) == 6 and first_raw[2:5] == b"\x19\x09\x00"


_FIELD_OBIS: dict[str, bytes] = {}


def field_obis(field: Field) -> bytes:
    """The 6 OBIS bytes of a positional field (parsed once)."""
    raw = _FIELD_OBIS.get(field.obis)
    if raw is None:
        raw = _FIELD_OBIS[field.obis] = bytes(int(x) for x in field.obis.split("."))
    return raw


for _spec in POSITIONAL:
    for _fld in _spec.fields:
        if _fld.obis:
            field_obis(_fld)


# -- per-installation scaling override ----------------------------------------------------------------
SCALE_GROUPS: dict[str, frozenset[tuple[int, int]]] = {
    "energy": frozenset(
        (c, 8) for c in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 16, 21, 22, 23, 24, 41, 42, 43, 44, 61, 62, 63, 64)
    ),
    "power": frozenset((c, 7) for c in (1, 2, 3, 4, 9, 10, 16, 21, 22, 23, 24, 41, 42, 43, 44, 61, 62, 63, 64)),
    "voltage": frozenset((c, 7) for c in (32, 52, 72)),
    "current": frozenset((c, 7) for c in (31, 51, 71, 91)),
    "pf": frozenset((c, 7) for c in (13, 33, 53, 73)),
}
"""What a ``--scale GROUP=FACTOR`` override applies to, by OBIS (C, D)."""


def apply_factor(value: int | float, factor: float) -> int | float:
    """``value × factor`` without binary noise for decimal factors (0.1 × 3 is 0.3, not 0.30000000000000004)."""
    if factor == int(factor):
        return value * int(factor)
    out = value * factor
    return round(out, 12) if isinstance(out, float) else out


class MeterProfile:
    """Per-installation decoding choices a frame cannot tell: a scaling override and a time zone.

    ``scale`` maps OBIS (C, D) → factor applied after the list's own scaling (source "user override").
    ``tz`` gives meters whose clock deviation is "not specified" their UTC offset.
    """

    __slots__ = ("scale", "scale_text", "tz")

    def __init__(self, scale: dict[str, float] | None = None, tz: tzinfo | None = None) -> None:
        self.scale: dict[tuple[int, int], float] = {}
        for group, factor in (scale or {}).items():
            for cd in SCALE_GROUPS[group]:
                self.scale[cd] = factor
        self.scale_text = ",".join(f"{g}={f:g}" for g, f in (scale or {}).items())
        self.tz = tz


def parse_scale(text: str) -> dict[str, float]:
    """``"energy=0.1,voltage=0.01"`` → ``{"energy": 0.1, "voltage": 0.01}``; ValueError (one line) if malformed.

    The wizard and the CLI both call this; the factor must be a positive power of ten."""
    out: dict[str, float] = {}
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        group, sep, num = part.partition("=")
        group = group.strip().lower()
        if not sep or group not in SCALE_GROUPS:
            raise ValueError(f"bad scale {part!r}: expected GROUP=FACTOR with GROUP one of {', '.join(SCALE_GROUPS)}")
        try:
            factor = float(num)
        except ValueError:
            raise ValueError(f"bad scale factor {num.strip()!r} for {group}") from None
        if factor <= 0 or not _power_of_ten(factor):
            raise ValueError(f"bad scale factor {num.strip()!r} for {group}: use a power of ten (0.1, 10, …)")
        out[group] = factor
    return out


def _power_of_ten(x: float) -> bool:
    import math

    e = math.log10(x)
    return abs(e - round(e)) < 1e-9 and -6 <= round(e) <= 6
