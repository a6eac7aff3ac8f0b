"""Internal errors: one line for the user, the details in a log file, keys never in either.

An unhandled exception in the app or the CLI ends the process with exit status 1 and one line::

    meterui: internal error: ValueError: … (details in ~/.local/state/meterui/log/crash.log)

The log holds the traceback *without* local variables (Textual's default shows them, keys included),
and every known key, and anything shaped like one (32 hex digits), is redacted from the text. UI-free.
"""

from __future__ import annotations

import os
import re
import time
import traceback
from collections.abc import Iterable
from pathlib import Path

LOG_NAME = "crash.log"
REDACTED = "<redacted>"
_HEX32 = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}[\s:\-]?){15}[0-9A-Fa-f]{2}(?![0-9A-Fa-f])")
"""Anything shaped like an AES-128 key in hex (32 digits, optionally byte-separated)."""
_MAX_LOG = 1 << 20
"""The log is started afresh when it grows beyond this."""


def log_path() -> Path:
    """``<user log dir>/crash.log`` (``platformdirs.user_log_dir``; ``$XDG_STATE_HOME/meterui/log`` on Linux)."""
    import platformdirs

    return Path(platformdirs.user_log_dir("meterui")) / LOG_NAME


def _forms(secret: bytes | str) -> set[str]:
    """The ways a key can appear in text: hex in either case, with separators, its bytes repr."""
    forms: set[str] = set()
    if isinstance(secret, str):
        text = secret.strip()
        if len(text) >= 8:
            forms.add(text)
        return forms
    if not secret:
        return forms
    for sep in ("", " ", ":", "-"):
        h = secret.hex(sep) if sep else secret.hex()
        forms.update((h, h.upper()))
    r = repr(bytes(secret))
    forms.update((r, r[2:-1]))
    forms.add(repr(list(secret)))
    return forms


def redact(text: str, secrets: Iterable[bytes | str | None] = ()) -> str:
    """``text`` with each secret, in any of its forms, and any 32-digit hex run replaced by ``<redacted>``."""
    forms: set[str] = set()
    for secret in secrets:
        if secret:
            forms |= _forms(secret)
    for form in sorted(forms, key=len, reverse=True):  # longest first: a repr contains shorter forms
        text = text.replace(form, REDACTED)
    return _HEX32.sub(REDACTED, text)


def _one_line(text: str) -> str:
    from meterui.protocol.text import printable

    line = printable(" ".join(text.split()))
    return line if len(line) <= 300 else line[:299] + "…"


def report(error: BaseException, secrets: Iterable[bytes | str | None] = (), where: str = "") -> str:
    """Write ``error``'s traceback (no locals, secrets redacted) to the log; return the one line to show."""
    secrets = list(secrets)
    summary = _one_line(redact(f"{type(error).__name__}: {error}", secrets))
    details = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    path = log_path()
    entry = (
        f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} meterui internal error{f' in {where}' if where else ''}\n"
        f"{redact(details, secrets)}\n"
    )
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        mode = "w" if path.exists() and path.stat().st_size > _MAX_LOG else "a"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC), 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as file:
            file.write(entry)
    except OSError as exc:
        return f"meterui: internal error: {summary} (no details: cannot write {path}: {exc.strerror or exc})"
    return f"meterui: internal error: {summary} (details in {path})"


def env_secrets() -> list[str | None]:
    """Keys given through the environment (they may reach an error message before being parsed)."""
    return [os.environ.get("METERUI_KEY"), os.environ.get("METERUI_AUTH_KEY")]
