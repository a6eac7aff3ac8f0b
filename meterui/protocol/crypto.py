"""AES-128-GCM for DLMS general-glo-ciphering (Green Book 9.2.7; protocols.md §2.3).

IV = system title (8) ‖ invocation counter (4). With the authentication bit (SC & 0x10) the frame
carries a 12-byte tag over AAD = SC ‖ AK (encrypt+authenticate) or SC ‖ AK ‖ plaintext (authenticate
only). Without a tag, GCM decryption is AES-CTR from counter block IV ‖ 00000002, which is what we run
(a third of the cost of setting up GCM).
"""

from __future__ import annotations

from Crypto.Cipher import AES

from meterui.protocol.errors import DecryptionError, KeyMissingError

SC_AUTH = 0x10
SC_ENCRYPT = 0x20
SC_BROADCAST = 0x40
SC_COMPRESS = 0x80
TAG_LEN = 12


def describe_security_control(sc: int) -> str:
    parts = [f"suite {sc & 0x0F}"]
    parts.append("authenticated" if sc & SC_AUTH else "no tag")
    parts.append("encrypted" if sc & SC_ENCRYPT else "plain")
    if sc & SC_BROADCAST:
        parts.append("broadcast key")
    if sc & SC_COMPRESS:
        parts.append("compressed")
    return ", ".join(parts)


def decrypt(system_title: bytes, invocation_counter: int, sc: int, ciphertext: bytes, tag: bytes | None,
            key: bytes | None, auth_key: bytes | None) -> tuple[bytes, bool]:
    """Return ``(plaintext, authenticated)``. Raises :class:`DecryptionError` subclasses only."""
    if sc & SC_COMPRESS:
        raise DecryptionError("compressed ciphered content (security control bit 7) is not supported")
    iv = system_title + invocation_counter.to_bytes(4, "big")
    if not sc & SC_ENCRYPT:
        # authentication only: the "ciphertext" is the plaintext APDU, the tag is a GMAC over it
        if tag is not None and key is not None and auth_key is not None:
            cipher = AES.new(key, AES.MODE_GCM, nonce=iv, mac_len=TAG_LEN)
            cipher.update(bytes([sc]) + auth_key + ciphertext)
            try:
                cipher.verify(tag)
            except ValueError:
                raise DecryptionError("authentication failed: check the authentication key and the "
                                      "encryption key (or the frame was tampered with)") from None
            return ciphertext, True
        return ciphertext, False
    if key is None:
        raise KeyMissingError(f"encrypted frame (security control 0x{sc:02X}, system title "
                              f"{system_title.hex().upper()}): an encryption key is needed; pass --key or "
                              "enter it in the setup wizard")
    if tag is not None and auth_key is not None:
        cipher = AES.new(key, AES.MODE_GCM, nonce=iv, mac_len=TAG_LEN)
        cipher.update(bytes([sc]) + auth_key)
        try:
            return cipher.decrypt_and_verify(ciphertext, tag), True
        except ValueError:
            raise DecryptionError("authentication failed: check the authentication key and the encryption "
                                  "key (or the frame was tampered with)") from None
    ctr = AES.new(key, AES.MODE_CTR, nonce=iv, initial_value=2)
    return ctr.decrypt(ciphertext), False


def encrypt(system_title: bytes, invocation_counter: int, sc: int, plaintext: bytes, key: bytes,
            auth_key: bytes | None = None) -> bytes:
    """Ciphertext (‖ tag when SC has the authentication bit): for test frames and the demo capture."""
    iv = system_title + invocation_counter.to_bytes(4, "big")
    if sc & SC_AUTH:
        cipher = AES.new(key, AES.MODE_GCM, nonce=iv, mac_len=TAG_LEN)
        cipher.update(bytes([sc]) + (auth_key or b""))
        ct, tag = cipher.encrypt_and_digest(plaintext)
        return ct + tag
    return AES.new(key, AES.MODE_CTR, nonce=iv, initial_value=2).encrypt(plaintext)
