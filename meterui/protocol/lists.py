"""Per-vendor list specifications: fixed scaling and positional layouts (protocols.md §3.4-§3.6).

Self-describing bodies (Aidon, Austrian Kaifa/Sagemcom/Honeywell) carry OBIS codes and in-band
scaler-units and need nothing from here. Lists without in-band scalers are identified by their list
version identifier and scaled from :data:`LIST_SCALING`; lists without OBIS codes are laid out by
:data:`POSITIONAL`, matched on the element count and each element's A-XDR type, so a list that does
not match exactly falls back to the generic decode instead of being mislabelled.
"""

from __future__ import annotations

from typing import NamedTuple

from meterui.protocol import axdr

# A scaling rule: (C, D) of the OBIS code -> (power-of-ten scaler, unit)
Scaling = dict[tuple[int, int], tuple[int, str | None]]

_POWER_UNITS: Scaling = {(1, 7): (0, "W"), (2, 7): (0, "W"), (3, 7): (0, "var"), (4, 7): (0, "var")}

KAMSTRUP_V0001: Scaling = {
    **_POWER_UNITS,
    (31, 7): (-2, "A"), (51, 7): (-2, "A"), (71, 7): (-2, "A"),
    (32, 7): (0, "V"), (52, 7): (0, "V"), (72, 7): (0, "V"),
    (1, 8): (1, "Wh"), (2, 8): (1, "Wh"), (3, 8): (1, "varh"), (4, 8): (1, "varh"),
}
"""Kamstrup_V0001 (Norway): currents 0.01 A, voltages 1 V, energies 10 Wh [AMSHAN-KAMSTRUP, STEVEW]."""

KAMSTRUP_CT: Scaling = {**KAMSTRUP_V0001, (31, 7): (-3, "A"), (51, 7): (-3, "A"), (71, 7): (-3, "A")}
"""Kamstrup CT meters (meter type starting ``685``): currents 0.001 A."""

KFM_001: Scaling = {
    **_POWER_UNITS,
    (31, 7): (-3, "A"), (51, 7): (-3, "A"), (71, 7): (-3, "A"),
    (32, 7): (-1, "V"), (52, 7): (-1, "V"), (72, 7): (-1, "V"),
    (1, 8): (0, "Wh"), (2, 8): (0, "Wh"), (3, 8): (0, "varh"), (4, 8): (0, "varh"),
}
"""Kaifa KFM_001 (Norway): currents mA, voltages 0.1 V, energies Wh [AMSHAN-KAIFA, AMSR-IEC]."""

LIST_SCALING: dict[str, Scaling] = {"Kamstrup_V0001": KAMSTRUP_V0001, "KFM_001": KFM_001}


def scaling_for(list_id: str | None, meter_type: str | None) -> Scaling | None:
    if list_id is None:
        return None
    if list_id == "Kamstrup_V0001" and meter_type and meter_type.startswith("685"):
        return KAMSTRUP_CT
    return LIST_SCALING.get(list_id)


class Field(NamedTuple):
    obis: str
    tags: frozenset[int]
    """A-XDR types accepted at this position."""


_STR = frozenset({axdr.OCTET_STRING, axdr.VISIBLE_STRING})
_U32 = frozenset({axdr.DOUBLE_LONG_UNSIGNED})
_CLOCK = frozenset({axdr.OCTET_STRING, axdr.DATE_TIME})


def _f(obis: str, tags: frozenset[int]) -> Field:
    return Field(obis, tags)


_KFM_HEAD = [_f("1.1.0.2.129.255", _STR), _f("0.0.96.1.0.255", _STR), _f("0.0.96.1.7.255", _STR),
             _f("1.0.1.7.0.255", _U32), _f("1.0.2.7.0.255", _U32), _f("1.0.3.7.0.255", _U32),
             _f("1.0.4.7.0.255", _U32)]
_KFM_1PH = [_f("1.0.31.7.0.255", _U32), _f("1.0.32.7.0.255", _U32)]
_KFM_3PH = [_f("1.0.31.7.0.255", _U32), _f("1.0.51.7.0.255", _U32), _f("1.0.71.7.0.255", _U32),
            _f("1.0.32.7.0.255", _U32), _f("1.0.52.7.0.255", _U32), _f("1.0.72.7.0.255", _U32)]
_KFM_ENERGY = [_f("0.0.1.0.0.255", _CLOCK), _f("1.0.1.8.0.255", _U32), _f("1.0.2.8.0.255", _U32),
               _f("1.0.3.8.0.255", _U32), _f("1.0.4.8.0.255", _U32)]


class PositionalList(NamedTuple):
    name: str
    list_id: str
    fields: list[Field]


POSITIONAL: list[PositionalList] = [
    PositionalList("Kaifa list 1", "KFM_001", [_f("1.0.1.7.0.255", _U32)]),
    PositionalList("Kaifa list 2 (1-phase)", "KFM_001", _KFM_HEAD + _KFM_1PH),
    PositionalList("Kaifa list 2 (3-phase)", "KFM_001", _KFM_HEAD + _KFM_3PH),
    PositionalList("Kaifa list 3 (1-phase)", "KFM_001", _KFM_HEAD + _KFM_1PH + _KFM_ENERGY),
    PositionalList("Kaifa list 3 (3-phase)", "KFM_001", _KFM_HEAD + _KFM_3PH + _KFM_ENERGY),
]
"""Kaifa NO lists are a structure of bare values identified by their element count (1, 9, 13, 14,
18) [AMSHAN-KAIFA, STEVEW]. Lists 2 and 3 also start with the list id ``KFM_001``."""


def match_positional(kinds: list[int], first_text: str | None) -> PositionalList | None:
    """Find a positional layout whose length and per-position types match exactly."""
    for spec in POSITIONAL:
        if len(spec.fields) != len(kinds):
            continue
        if len(kinds) > 1 and first_text != spec.list_id:
            continue
        if all(k in f.tags for k, f in zip(kinds, spec.fields, strict=True)):
            return spec
    return None
