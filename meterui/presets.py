"""Meter and grid-operator presets: serial settings and which keys a meter needs, in one table.

UI-free. The setup wizard lists these grouped by country; choosing one fills in the serial settings
and says whether the grid operator's keys are needed. Sources: protocols.md §3.4 (Norway), §3.6
(Sweden, Denmark), §4.5 (Austria), §5 (DSMR P1), §6.1 (B-route modules). Where the sources disagree
(Austrian M-Bus parity) the preset follows the recommendation there (8E1) and its note says so.
"""

from __future__ import annotations

from dataclasses import dataclass

PARITY_NAMES = {"N": "none", "E": "even", "O": "odd"}


@dataclass(frozen=True, slots=True)
class Preset:
    """Serial settings and key needs for one meter / grid operator combination."""

    id: str
    country: str
    """Grouping label in the wizard (``"Other"`` for the manual preset)."""
    name: str
    meters: str
    """Meter models this applies to, for display."""
    baudrate: int
    parity: str
    """``N``, ``E`` or ``O``."""
    bytesize: int
    stopbits: int
    needs_key: bool
    """The data is encrypted: the grid operator's encryption key (GUEK) is needed."""
    needs_auth_key: bool
    """The frames carry a GCM tag: the authentication key (GAK) is needed to check it."""
    note: str = ""
    """One or two plain sentences for the person at the meter: caveats, disagreements, hints."""
    interval: float | None = None
    """Seconds between pushes when known; a listen test shorter than this can miss every message."""
    decoded: bool = True
    """meterui decodes this meter's data; ``False``: the listen test checks the cable and settings only."""
    session: str | None = None
    """``"broute"``: meterui talks to a module (credentials, then a join test instead of the listen test)."""

    @property
    def serial(self) -> str:
        """Line settings in the short form, e.g. ``2400 8E1``."""
        from meterui.sources.base import line_settings

        return line_settings(self.baudrate, self.bytesize, self.parity, self.stopbits)

    @property
    def label(self) -> str:
        """The name with its country, for sentences: ``Kamstrup (Norway)``."""
        return self.name if self.country == "Other" else f"{self.name} ({self.country})"

    @property
    def keys_text(self) -> str:
        """What the meter needs in words, e.g. ``encryption key + authentication key``."""
        if self.needs_key and self.needs_auth_key:
            return "encryption key + authentication key"
        if self.needs_key:
            return "encryption key"
        if self.needs_auth_key:
            return "authentication key"
        return "no keys"


_AT_MBUS_PARITY = (
    "Austrian M-Bus parity is disputed: 8E1 is the usual setting, but 8N1 is also reported "
    "to work; if frames fail their checksum, try the other."
)

PRESETS: list[Preset] = [
    # Norway: unencrypted HAN port (RJ45, M-Bus levels)
    Preset(
        "no-aidon",
        "Norway",
        "Aidon",
        "Aidon 6000-series",
        2400,
        "E",
        8,
        1,
        False,
        False,
        "Unencrypted. Sends the short list every 2 s, the long one every 10 s.",
        2.5,
    ),
    Preset(
        "no-kaifa",
        "Norway",
        "Kaifa",
        "Kaifa MA105, MA304",
        2400,
        "E",
        8,
        1,
        False,
        False,
        "Unencrypted. Sends the short list every 2 s, the long one every 10 s.",
        2.5,
    ),
    Preset(
        "no-kamstrup",
        "Norway",
        "Kamstrup",
        "Kamstrup Omnipower",
        2400,
        "N",
        8,
        1,
        False,
        False,
        "Unencrypted. Kamstrup uses no parity (8N1), unlike Aidon and Kaifa. Sends every 10 s.",
        10,
    ),
    # Sweden: P1 port
    Preset(
        "se-p1-dsmr5",
        "Sweden",
        "P1 port, DSMR 5",
        "Any meter with an RJ12 P1 port",
        115200,
        "N",
        8,
        1,
        False,
        False,
        "Inverted signal; the meter only sends while Data Request is powered (most P1 cables do "
        "this). Older Dutch DSMR 4 meters use 115200 7E1. meterui does not decode DSMR yet: the listen "
        "test can check the cable and settings, not the readings.",
        10,
        decoded=False,
    ),
    # Denmark
    Preset(
        "dk-kamstrup-omnipower",
        "Denmark",
        "Kamstrup Omnipower",
        "Kamstrup Omnipower with HAN module",
        2400,
        "N",
        8,
        1,
        True,
        True,
        "Encrypted: ask your grid operator for both keys (encryption key and authentication key).",
        10,
    ),
    # Austria: Kundenschnittstelle
    Preset(
        "at-tinetz",
        "Austria",
        "TINETZ Tirol",
        "Kaifa MA309M",
        2400,
        "E",
        8,
        1,
        True,
        False,
        "Encrypted, no authentication key needed. " + _AT_MBUS_PARITY,
        5,
    ),
    Preset(
        "at-ikb",
        "Austria",
        "IKB Innsbruck",
        "Kaifa MA309M",
        2400,
        "E",
        8,
        1,
        True,
        False,
        "Same settings as TINETZ. Encrypted, no authentication key needed. " + _AT_MBUS_PARITY,
        5,
    ),
    Preset(
        "at-salzburg",
        "Austria",
        "Salzburg Netz",
        "Kaifa MA309",
        2400,
        "E",
        8,
        1,
        True,
        False,
        "Same settings as TINETZ. Encrypted, no authentication key needed. " + _AT_MBUS_PARITY,
        5,
    ),
    Preset(
        "at-vorarlberg",
        "Austria",
        "Vorarlberg Netz",
        "Kaifa MA309M, Honeywell HS3300S",
        2400,
        "E",
        8,
        1,
        True,
        False,
        "Encrypted, no authentication key needed. " + _AT_MBUS_PARITY,
        5,
    ),
    Preset(
        "at-evn",
        "Austria",
        "EVN / Netz NÖ",
        "Kaifa MA309M, Sagemcom T210-D",
        2400,
        "E",
        8,
        1,
        True,
        False,
        "Encrypted, no authentication key needed. Parity is disputed for these meters: 8E1 is "
        "reported for the Sagemcom, 8N1 in several working setups; if frames fail their checksum, "
        "try the other.",
        5,
    ),
    Preset(
        "at-kelag",
        "Austria",
        "Kärnten Netz / KELAG",
        "Iskraemeco AM550",
        2400,
        "E",
        8,
        1,
        True,
        False,
        "Encrypted, no authentication key needed. The serial settings are not confirmed: if no "
        "frames arrive, try 9600 and 115200 8N1.",
    ),
    Preset(
        "at-burgenland",
        "Austria",
        "Netz Burgenland",
        "Landis+Gyr E450",
        9600,
        "N",
        8,
        1,
        True,
        True,
        "Encrypted and authenticated: enter both keys from your grid operator. Sends about every 10 s.",
        10,
    ),
    Preset(
        "at-wiener-netze",
        "Austria",
        "Wiener Netze",
        "L+G E450, Iskraemeco AM550, Siemens IM350",
        9600,
        "N",
        8,
        1,
        True,
        False,
        "Read through an optical (IR) head on the meter's front, not a cable port. Encrypted, no "
        "authentication key needed.",
    ),
    Preset(
        "at-steiermark",
        "Austria",
        "Energienetze Steiermark",
        "Landis+Gyr E450",
        9600,
        "N",
        8,
        1,
        True,
        True,
        "Encrypted and authenticated: enter both keys. Settings follow the same meter in Burgenland "
        "(not confirmed here). The Sagemcom T210-D-R has a P1 port instead: 115200 8N1, inverted.",
    ),
    Preset(
        "at-netz-ooe",
        "Austria",
        "Netz Oberösterreich",
        "Siemens TD-3511 (AMIS)",
        9600,
        "E",
        8,
        1,
        True,
        False,
        "This meter uses M-Bus with AES-CBC, which meterui does not decode yet: the listen test can "
        "check the cable and settings, not the readings.",
        decoded=False,
    ),
    # Japan: B-route through a Wi-SUN module
    Preset(
        "jp-broute",
        "Japan",
        "B-route (Wi-SUN module)",
        "ROHM BP35A1/C0/C2 and compatible modules",
        115200,
        "N",
        8,
        1,
        False,
        False,
        "You need the B-route ID (32 characters) and password (12) from your power company. meterui "
        "drives the module: it scans for the meter, joins it and reads power and energy.",
        session="broute",
    ),
    # Manual
    Preset(
        "generic",
        "Other",
        "Generic: set it up by hand",
        "Any meter",
        2400,
        "E",
        8,
        1,
        False,
        False,
        "Set the serial settings and keys yourself in the next steps.",
    ),
]

_BY_ID = {p.id: p for p in PRESETS}


def get_preset(preset_id: str | None) -> Preset | None:
    """The preset with this id, ``None`` when unknown (or ``preset_id`` is ``None``)."""
    if preset_id is None:
        return None
    return _BY_ID.get(preset_id)


def countries() -> list[str]:
    """Countries in table order, each once (the wizard's groups)."""
    seen: list[str] = []
    for p in PRESETS:
        if p.country not in seen:
            seen.append(p.country)
    return seen
