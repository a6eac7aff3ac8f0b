"""AES-128-GCM for DLMS general-glo-ciphering (Green Book 9.2.7; protocols.md §2.3).

IV = system title (8) ‖ invocation counter (4). With the authentication bit (SC & 0x10) the frame
carries a 12-byte tag over AAD = SC ‖ AK (encrypt+authenticate) or SC ‖ AK ‖ plaintext (authenticate
only). Without a tag, GCM decryption is AES-CTR from counter block IV ‖ 00000002, which is what we run
(a third of the cost of setting up GCM).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from meterui.protocol.errors import AUTH_FAILED_TEXT, KEY_NEEDED, AuthenticationError, DecryptionError, KeyMissingError

SC_AUTH = 0x10
SC_ENCRYPT = 0x20
SC_BROADCAST = 0x40
SC_COMPRESS = 0x80
TAG_LEN = 12

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any

_AES: ModuleType | None = None
_COMPARE: list[Callable[[bytes, bytes], bool]] = []


def _aes() -> ModuleType:
    """``Crypto.Cipher.AES``, imported on first use: plaintext meters never pay for it (~15 ms at start-up)."""
    global _AES
    if _AES is None:
        from Crypto.Cipher import AES

        _AES = AES
    return _AES


def _compare_digest() -> Callable[[bytes, bytes], bool]:
    """``hmac.compare_digest``, imported on first use (hmac loads OpenSSL's hashlib)."""
    if not _COMPARE:
        from hmac import compare_digest

        _COMPARE.append(compare_digest)
    return _COMPARE[0]


class _TagChecker:
    """GCM tag computation from pycryptodome's GHASH primitive with per-key state cached.

    ``AES.new(..., MODE_GCM)`` re-derives the hash subkey and re-expands GHASH tables for every frame
    (about 45 µs); with the per-key state cached a tag costs about 8 µs. It relies on pycryptodome
    internals, so it checks itself against the public GCM API on first use and is disabled (the public
    API is used) if anything differs or is missing.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: OrderedDict[bytes, tuple[Any, Any]] = OrderedDict()
        self.enabled: bool | None = None  # None: not yet self-tested

    def _state(self, key: bytes) -> tuple[Any, Any]:
        state = self._keys.get(key)
        if state is None:
            from Crypto.Cipher import _mode_gcm

            AES = _aes()
            ecb = AES.new(key, AES.MODE_ECB)
            ghash_c = _mode_gcm._ghash_clmul or _mode_gcm._ghash_portable
            state = (ecb, _mode_gcm._GHASH(ecb.encrypt(bytes(16)), ghash_c))
            self._keys[key] = state
            if len(self._keys) > 8:
                self._keys.popitem(last=False)
        return state

    def tag(self, key: bytes, iv: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        from Crypto.Util._raw_api import create_string_buffer, get_raw_buffer

        data = (
            aad
            + bytes(-len(aad) % 16)
            + ciphertext
            + bytes(-len(ciphertext) % 16)
            + (len(aad) * 8).to_bytes(8, "big")
            + (len(ciphertext) * 8).to_bytes(8, "big")
        )
        with self._lock:
            ecb, ghash = self._state(key)
            ghash._last_y = create_string_buffer(16)
            ghash.update(data)
            s = get_raw_buffer(ghash._last_y)
            ek = ecb.encrypt(iv + b"\x00\x00\x00\x01")
        return (int.from_bytes(s, "big") ^ int.from_bytes(ek, "big")).to_bytes(16, "big")

    def usable(self) -> bool:
        if self.enabled is None:
            try:
                key, iv, aad, pt = bytes(range(16)), bytes(range(12)), b"\x30" + bytes(16), bytes(range(40))
                AES = _aes()
                cipher = AES.new(key, AES.MODE_GCM, nonce=iv, mac_len=16)
                cipher.update(aad)
                ct, tag = cipher.encrypt_and_digest(pt)
                self.enabled = self.tag(key, iv, aad, ct) == tag
            except Exception:  # any change in the internals: use the public API
                self.enabled = False
            self._keys.clear()
        return self.enabled


_TAGS = _TagChecker()


def _verify(key: bytes, iv: bytes, aad: bytes, ciphertext: bytes, tag: bytes) -> bool:
    if _TAGS.usable():
        return _compare_digest()(_TAGS.tag(key, iv, aad, ciphertext)[: len(tag)], tag)
    AES = _aes()
    cipher = AES.new(key, AES.MODE_GCM, nonce=iv, mac_len=len(tag))
    cipher.update(aad)
    try:
        cipher.decrypt_and_verify(ciphertext, tag)
    except ValueError:
        return False
    return True


def describe_security_control(sc: int) -> str:
    parts = [f"suite {sc & 0x0F}"]
    parts.append("authenticated" if sc & SC_AUTH else "no tag")
    parts.append("encrypted" if sc & SC_ENCRYPT else "plain")
    if sc & SC_BROADCAST:
        parts.append("broadcast key")
    if sc & SC_COMPRESS:
        parts.append("compressed")
    return ", ".join(parts)


def decrypt(
    system_title: bytes,
    invocation_counter: int,
    sc: int,
    ciphertext: bytes,
    tag: bytes | None,
    key: bytes | None,
    auth_key: bytes | None,
) -> tuple[bytes, bool]:
    """Return ``(plaintext, authenticated)``. Raises :class:`DecryptionError` subclasses only."""
    if sc & SC_COMPRESS:
        raise DecryptionError("compressed ciphered content (security control bit 7) is not supported")
    iv = system_title + invocation_counter.to_bytes(4, "big")
    if not sc & SC_ENCRYPT:
        # authentication only: the "ciphertext" is the plaintext APDU, the tag is a GMAC over it
        if tag is not None and key is not None and auth_key is not None:
            if not _verify(key, iv, bytes([sc]) + auth_key + ciphertext, b"", tag):
                raise AuthenticationError(AUTH_FAILED_TEXT)
            return ciphertext, True
        return ciphertext, False
    if key is None:
        raise KeyMissingError(
            f"encrypted frame (security control 0x{sc:02X}, system title {system_title.hex().upper()}): {KEY_NEEDED}"
        )
    authenticated = False
    if tag is not None and auth_key is not None:
        if not _verify(key, iv, bytes([sc]) + auth_key, ciphertext, tag):
            raise AuthenticationError(AUTH_FAILED_TEXT)
        authenticated = True
    # GCM decryption is AES-CTR from the counter block IV ‖ 00000002 (NIST SP 800-38D §7.2)
    AES = _aes()
    return AES.new(key, AES.MODE_CTR, nonce=iv, initial_value=2).decrypt(ciphertext), authenticated


def encrypt(
    system_title: bytes, invocation_counter: int, sc: int, plaintext: bytes, key: bytes, auth_key: bytes | None = None
) -> bytes:
    """Ciphertext (‖ tag when SC has the authentication bit): for test frames and the demo capture."""
    iv = system_title + invocation_counter.to_bytes(4, "big")
    AES = _aes()
    if sc & SC_AUTH and not sc & SC_ENCRYPT:  # authentication only: plaintext ‖ GMAC(SC ‖ AK ‖ plaintext)
        cipher = AES.new(key, AES.MODE_GCM, nonce=iv, mac_len=TAG_LEN)
        cipher.update(bytes([sc]) + (auth_key or b"") + plaintext)
        return plaintext + cipher.digest()
    if not sc & SC_ENCRYPT:
        return plaintext
    if sc & SC_AUTH:
        cipher = AES.new(key, AES.MODE_GCM, nonce=iv, mac_len=TAG_LEN)
        cipher.update(bytes([sc]) + (auth_key or b""))
        ct, tag = cipher.encrypt_and_digest(plaintext)
        return ct + tag
    return AES.new(key, AES.MODE_CTR, nonce=iv, initial_value=2).encrypt(plaintext)
