"""DLMS APDUs and general-glo-ciphering (protocols.md §2): AES-GCM, keys, error messages by layer."""

from __future__ import annotations

import pytest
from Crypto.Cipher import AES

from meterui.protocol import crypto
from meterui.protocol import encode as E
from meterui.protocol.errors import KeyFormatError, MeterError
from meterui.protocol.keys import mask_key, parse_key
from tests.conftest import (
    AUTH_KEY,
    CLOCK,
    SYSTEM_TITLE,
    TEST_KEY,
    TEST_KEY_HEX,
    by_id,
    decode,
    encrypted_hdlc,
    kamstrup_body,
)

OTHER_KEY = bytes(range(16, 32))


def one(data: bytes, **kw):
    msgs = decode(data, **kw)
    assert len(msgs) == 1, [m.error for m in msgs]
    return msgs[0]


# -- decryption ok ----------------------------------------------------------------------------------
def test_encrypt_and_authenticate_0x30() -> None:
    msg = one(encrypted_hdlc(kamstrup_body()), key=TEST_KEY, auth_key=AUTH_KEY)
    assert msg.ok, msg.error
    assert msg.encrypted is True and msg.authenticated is True
    assert msg.system_title == SYSTEM_TITLE and msg.invocation_counter == 42
    assert by_id(msg)["1.1.1.7.0.255"].value == 2824
    assert msg.clock == "2024-03-05T12:34:56"
    assert msg.warnings == []
    assert msg.root.find("payload/ciphering/auth_tag") is not None
    assert msg.root.find("payload/ciphering/security_control").value == "30"


@pytest.mark.parametrize("sc", [0x20, 0x21])
def test_encrypt_only_without_auth_key(sc: int) -> None:
    msg = one(encrypted_hdlc(kamstrup_body(), sc=sc, auth_key=None), key=TEST_KEY)
    assert msg.ok, msg.error
    assert msg.encrypted is True and msg.authenticated is False
    assert by_id(msg)["1.1.31.7.0.255"].value == pytest.approx(10.91)
    assert msg.root.find("payload/ciphering/auth_tag") is None
    # an auth key given for a frame without a tag changes nothing
    msg2 = one(encrypted_hdlc(kamstrup_body(), sc=sc, auth_key=None), key=TEST_KEY, auth_key=AUTH_KEY)
    assert msg2.ok and msg2.authenticated is False


def test_auth_bit_but_no_auth_key_decrypts_unauthenticated() -> None:
    msg = one(encrypted_hdlc(kamstrup_body()), key=TEST_KEY)
    assert msg.ok, msg.error
    assert msg.authenticated is False
    assert by_id(msg)["1.1.1.7.0.255"].value == 2824
    assert any("authentication key" in w for w in msg.warnings)


def test_ded_ciphering_tag_dc_has_the_same_layout() -> None:
    frame = encrypted_hdlc(kamstrup_body())
    i = frame.index(b"\xdb\x08")
    dc = E.hdlc_frame(E.LLC + b"\xdc" + frame[i + 1 : -3])  # same content, tag DC
    msg = one(dc, key=TEST_KEY, auth_key=AUTH_KEY)
    assert msg.ok, msg.error
    assert msg.root.find("payload/ciphering").label == "general-ded-ciphering"


def _gmac_only(apdu: bytes, ic: int = 9) -> bytes:
    """SC 0x10 by hand: the APDU in clear, tag = GMAC over SC ‖ AK ‖ APDU (protocols.md §2.3)."""
    sc = 0x10
    cipher = AES.new(TEST_KEY, AES.MODE_GCM, nonce=SYSTEM_TITLE + ic.to_bytes(4, "big"), mac_len=12)
    cipher.update(bytes([sc]) + AUTH_KEY + apdu)
    tag = cipher.digest()
    content = bytes([sc]) + ic.to_bytes(4, "big") + apdu + tag
    return b"\xdb\x08" + SYSTEM_TITLE + E.length(len(content)) + content


def test_authentication_only_0x10() -> None:
    apdu = E.data_notification(kamstrup_body(), dt=E.cosem_datetime(CLOCK))
    frame = E.hdlc_frame(E.LLC + _gmac_only(apdu))
    ok = one(frame, key=TEST_KEY, auth_key=AUTH_KEY)
    assert ok.ok and ok.authenticated is True, ok.error
    assert by_id(ok)["1.1.1.7.0.255"].value == 2824
    # without the keys the clear APDU is still decoded, unauthenticated
    nokey = one(frame)
    assert nokey.ok and nokey.authenticated is False
    assert by_id(nokey)["1.1.1.7.0.255"].value == 2824
    tampered = one(
        E.hdlc_frame(E.LLC + _gmac_only(apdu)[:-13].replace(E.u32(2824), E.u32(2825)) + _gmac_only(apdu)[-13:]),
        key=TEST_KEY,
        auth_key=AUTH_KEY,
    )
    assert tampered.error is not None and tampered.error.layer == "crypto"
    assert "authentication failed" in tampered.error.message
    assert tampered.readings == []


# -- crypto errors --------------------------------------------------------------------------------------
def test_missing_key_says_a_key_is_needed() -> None:
    for sc, ak in ((0x30, AUTH_KEY), (0x20, None)):
        msg = one(encrypted_hdlc(kamstrup_body(), sc=sc, auth_key=ak))
        assert msg.error is not None and msg.error.layer == "crypto"
        assert "key is needed" in msg.error.message
        assert msg.encrypted is True and msg.readings == []
        assert msg.system_title == SYSTEM_TITLE and msg.invocation_counter == 42
        assert msg.to_json()["error"]["layer"] == "crypto"


def test_wrong_auth_key_fails_authentication() -> None:
    msg = one(encrypted_hdlc(kamstrup_body()), key=TEST_KEY, auth_key=OTHER_KEY)
    assert msg.error.layer == "crypto"
    assert "authentication failed: check the authentication key and the encryption key" in msg.error.message
    assert msg.readings == []


def test_wrong_encryption_key_with_tag_fails_authentication() -> None:
    msg = one(encrypted_hdlc(kamstrup_body()), key=OTHER_KEY, auth_key=AUTH_KEY)
    assert msg.error.layer == "crypto" and "authentication failed" in msg.error.message


def _reframe_tampered(frame: bytes, offset_from_end: int) -> bytes:
    info = bytearray(frame[9:-3])  # information field of a frame with 1+2 byte addresses
    info[len(info) - offset_from_end] ^= 0x01
    return E.hdlc_frame(bytes(info))


@pytest.mark.parametrize(("what", "offset_from_end"), [("tag", 1), ("tag", 12), ("ciphertext", 13), ("ciphertext", 40)])
def test_tampered_tag_or_ciphertext_fails_authentication(what: str, offset_from_end: int) -> None:
    frame = _reframe_tampered(encrypted_hdlc(kamstrup_body()), offset_from_end)
    msg = one(frame, key=TEST_KEY, auth_key=AUTH_KEY)
    assert msg.error is not None and msg.error.layer == "crypto", what
    assert "authentication failed" in msg.error.message
    assert msg.readings == []


def test_tampered_invocation_counter_fails_authentication() -> None:
    frame = encrypted_hdlc(kamstrup_body(), ic=0x01020304)
    info = frame[9:-3].replace(b"\x30\x01\x02\x03\x04", b"\x30\x01\x02\x03\x05")
    msg = one(E.hdlc_frame(info), key=TEST_KEY, auth_key=AUTH_KEY)
    assert msg.error.layer == "crypto" and "authentication failed" in msg.error.message
    assert msg.invocation_counter == 0x01020305


def test_wrong_key_without_tag_is_garbage() -> None:
    msg = one(encrypted_hdlc(kamstrup_body(), sc=0x20, auth_key=None), key=OTHER_KEY)
    assert msg.error is not None and msg.error.layer == "crypto"
    assert "decryption produced garbage: the encryption key is probably wrong" in msg.error.message
    assert msg.readings == []
    # the (garbage) plaintext is still shown, with complete spans
    assert len(msg.buffers["apdu"]) > 0


def test_compressed_content_is_a_crypto_error() -> None:
    frame = encrypted_hdlc(kamstrup_body(), sc=0x20, auth_key=None)
    info = bytearray(frame[9:-3])
    sc_at = bytes(info).index(b"\x20\x00\x00\x00\x2a")  # SC, then invocation counter 42
    info[sc_at] = 0xA0  # compression bit
    msg = one(E.hdlc_frame(bytes(info)), key=TEST_KEY)
    assert msg.error.layer == "crypto" and "compress" in msg.error.message


def test_short_system_title_and_short_content_are_apdu_errors() -> None:
    msg = one(E.hdlc_frame(E.LLC + b"\xdb\x04ABCD\x06\x20\x00\x00\x00\x01\x00"), key=TEST_KEY)
    assert msg.error.layer == "apdu" and "system title" in msg.error.message
    msg = one(E.hdlc_frame(E.LLC + b"\xdb\x08ABCDEFGH\x03\x20\x00\x00"), key=TEST_KEY)
    assert msg.error.layer == "apdu"
    msg = one(E.hdlc_frame(E.LLC + b"\xdb\x08ABCDEFGH\x40\x20\x00\x00\x00\x01"), key=TEST_KEY)
    assert msg.error.layer == "apdu" and "truncated" in msg.error.message


def test_crypto_decrypt_unit() -> None:
    ct = crypto.encrypt(SYSTEM_TITLE, 5, 0x30, b"\x0fhello", TEST_KEY, AUTH_KEY)
    assert crypto.decrypt(SYSTEM_TITLE, 5, 0x30, ct[:-12], ct[-12:], TEST_KEY, AUTH_KEY) == (b"\x0fhello", True)
    assert crypto.decrypt(SYSTEM_TITLE, 5, 0x30, ct[:-12], ct[-12:], TEST_KEY, None) == (b"\x0fhello", False)
    with pytest.raises(MeterError) as info:
        crypto.decrypt(SYSTEM_TITLE, 6, 0x30, ct[:-12], ct[-12:], TEST_KEY, AUTH_KEY)
    assert info.value.layer == "crypto"
    assert crypto.describe_security_control(0x30) == "suite 0, authenticated, encrypted"


# -- APDU layer ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("form", ["octet", "typed", "datetime"])
def test_data_notification_date_time_forms(form: str) -> None:
    apdu = E.data_notification(kamstrup_body(), invoke_id=0x40000001, dt=E.cosem_datetime(CLOCK, -60), dt_form=form)
    msg = one(E.hdlc_frame(E.LLC + apdu))
    assert msg.ok and msg.clock == "2024-03-05T12:34:56+01:00"
    inv = msg.root.find("payload/notification/invoke_id")
    assert inv.value == "40000001" and "priority normal" in inv.note


def test_data_notification_without_date_time_and_without_llc() -> None:
    msg = one(E.hdlc_frame(E.data_notification(kamstrup_body())))
    assert msg.ok and msg.clock is None
    assert by_id(msg)["1.1.1.7.0.255"].value == 2824


def test_bad_date_time_encoding_is_an_apdu_error() -> None:
    msg = one(E.hdlc_frame(E.LLC + b"\x0f\x00\x00\x00\x00\x05" + kamstrup_body()))
    assert msg.error.layer == "apdu" and "date-time" in msg.error.message


@pytest.mark.parametrize(("tag", "text"), [(0xC2, "not a push"), (0x42, "unknown APDU tag"), (0x2F, "P1")])
def test_other_apdus_are_apdu_errors(tag: int, text: str) -> None:
    msg = one(E.hdlc_frame(E.LLC + bytes([tag]) + b"\x00" * 10))
    assert msg.error.layer == "apdu" and text in msg.error.message
    assert msg.readings == []


def test_truncated_apdu_is_an_apdu_error() -> None:
    full = E.LLC + E.data_notification(kamstrup_body(), dt=E.cosem_datetime(CLOCK))
    for cut in (4, 8, 12, 20, 60, len(full) - 1):
        msg = one(E.hdlc_frame(full[:cut]))
        assert msg.error is not None and msg.error.layer == "apdu", cut


def test_trailing_bytes_after_the_apdu_are_a_warning_not_lost() -> None:
    msg = one(E.hdlc_frame(E.LLC + E.data_notification(kamstrup_body()) + b"\xaa\xbb"))
    assert msg.ok and any("after the APDU" in w for w in msg.warnings)
    assert msg.root.find("payload/trailing") is not None


# -- keys -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        TEST_KEY_HEX,
        TEST_KEY_HEX.lower(),
        " ".join(TEST_KEY_HEX[i : i + 2] for i in range(0, 32, 2)),
        ":".join(TEST_KEY_HEX[i : i + 2] for i in range(0, 32, 2)),
        " ".join("0x" + TEST_KEY_HEX[i : i + 2] for i in range(0, 32, 2)),
        "0x" + TEST_KEY_HEX,
        "  00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f \n",
        "00-01-02-03-04-05-06-07-08-09-0A-0B-0C-0D-0E-0F",
        "0X000102030405060708090a0B0C0d0E0f",
    ],
)
def test_parse_key_accepts_common_spellings(text: str) -> None:
    assert parse_key(text) == TEST_KEY


def test_parse_key_empty_and_bytes() -> None:
    assert parse_key(None) is None
    assert parse_key("") is None
    assert parse_key("   ") is None
    assert parse_key(TEST_KEY) == TEST_KEY


@pytest.mark.parametrize(
    "text",
    [
        TEST_KEY_HEX[:31],
        TEST_KEY_HEX + "1",
        TEST_KEY_HEX[:30],
        TEST_KEY_HEX + "10",
        "G" + TEST_KEY_HEX[1:],
        TEST_KEY_HEX[:-1] + "z",
        "secret-password-here",
        "00 01 02 03",
    ],
)
def test_parse_key_rejects_bad_keys_without_echoing(text: str) -> None:
    with pytest.raises(KeyFormatError) as info:
        parse_key(text, "encryption key")
    err = info.value
    assert isinstance(err, MeterError) and isinstance(err, ValueError)
    assert err.layer == "crypto"
    assert "encryption key" in err.message
    cleaned = text.replace(" ", "").replace("-", "")
    assert cleaned not in str(err) and text not in str(err)
    assert TEST_KEY_HEX[:16].lower() not in str(err).lower()


def test_parse_key_length_message_is_clear() -> None:
    with pytest.raises(KeyFormatError, match="32 hex digits"):
        parse_key(TEST_KEY_HEX[:31])
    with pytest.raises(KeyFormatError, match="hexadecimal"):
        parse_key("x" * 32)


def test_mask_key_hides_the_key() -> None:
    assert TEST_KEY_HEX not in mask_key(TEST_KEY) and "set" in mask_key(TEST_KEY)
    assert mask_key(None) == "(none)"
