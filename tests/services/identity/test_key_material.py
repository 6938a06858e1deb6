"""Key material: signatures checked by joserfc, RFC 7638 key ids, and encryption at rest."""

import base64
import json
import os

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from pydantic import SecretStr

from services.identity.keys.encryption import KeyDecryptionError, KeyEncryption, parse_kek
from services.identity.keys.material import (
    Signer,
    generate_private_key,
    load_private_key,
    private_key_bytes,
    public_jwk,
)


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
def test_signatures_verify_with_joserfc_against_the_published_jwk(algorithm) -> None:
    private = generate_private_key(algorithm, 2048)
    jwk = public_jwk(private, algorithm)
    signer = Signer(jwk["kid"], algorithm, private)
    token = signer.sign({"sub": "x", "name": "Jürgen"})
    members: dict[str, str | list[str]] = dict(jwk)
    key = ECKey.import_key(members) if algorithm == "ES256" else RSAKey.import_key(members)
    decoded = jwt.decode(token, key, algorithms=[algorithm])
    assert decoded.header == {"alg": algorithm, "typ": "at+jwt", "kid": jwk["kid"]}
    assert decoded.claims == {"sub": "x", "name": "Jürgen"}
    # The kid is the RFC 7638 thumbprint, as joserfc computes it.
    assert jwk["kid"] == key.thumbprint()
    assert jwk["use"] == "sig" and jwk["alg"] == algorithm
    assert not {"d", "p", "q"} & jwk.keys()


def test_ec_signatures_have_the_fixed_jws_size() -> None:
    private = generate_private_key("ES256", 2048)
    signer = Signer("k", "ES256", private)
    for _ in range(20):  # DER signatures vary in length; JWS ones must not
        signature = signer.sign({"n": 1}).split(".")[2]
        assert len(base64.urlsafe_b64decode(signature + "==")) == 64


def test_id_tokens_can_carry_another_typ() -> None:
    signer = Signer("k", "ES256", generate_private_key("ES256", 2048))
    header = signer.sign({}, typ="JWT").split(".")[0]
    assert json.loads(base64.urlsafe_b64decode(header + "=="))["typ"] == "JWT"


def test_private_keys_survive_encryption_at_rest() -> None:
    encryption = KeyEncryption(os.urandom(32))
    private = generate_private_key("ES256", 2048)
    blob = encryption.encrypt(private_key_bytes(private), kid="k1")
    assert private_key_bytes(private) not in blob
    restored = load_private_key(encryption.decrypt(blob, kid="k1", kek_id=encryption.current_id))
    assert public_jwk(restored, "ES256") == public_jwk(private, "ES256")


def test_a_ciphertext_moved_to_another_key_row_does_not_decrypt() -> None:
    encryption = KeyEncryption(os.urandom(32))
    blob = encryption.encrypt(b"secret", kid="k1")
    with pytest.raises(KeyDecryptionError):
        encryption.decrypt(blob, kid="k2", kek_id=encryption.current_id)


def test_an_altered_ciphertext_does_not_decrypt() -> None:
    encryption = KeyEncryption(os.urandom(32))
    blob = bytearray(encryption.encrypt(b"secret", kid="k1"))
    blob[-1] ^= 1
    with pytest.raises(KeyDecryptionError):
        encryption.decrypt(bytes(blob), kid="k1", kek_id=encryption.current_id)


def test_an_old_kek_still_decrypts_and_an_unknown_one_is_named() -> None:
    old, new = os.urandom(32), os.urandom(32)
    before = KeyEncryption(old)
    blob = before.encrypt(b"secret", kid="k1")
    after = KeyEncryption(new, [old])
    assert after.current_id != before.current_id
    assert after.decrypt(blob, kid="k1", kek_id=before.current_id) == b"secret"
    assert after.can_decrypt(before.current_id)
    with pytest.raises(KeyDecryptionError, match="not configured"):
        KeyEncryption(new).decrypt(blob, kid="k1", kek_id=before.current_id)


def test_keks_are_read_from_standard_or_url_safe_base64() -> None:
    raw = bytes(range(250, 256)) + os.urandom(26)
    assert parse_kek(base64.b64encode(raw).decode()) == raw
    assert parse_kek(base64.urlsafe_b64encode(raw).decode().rstrip("=")) == raw


@pytest.mark.parametrize(
    "value", ["", "not base64!", base64.b64encode(b"short").decode(), base64.b64encode(os.urandom(33)).decode()]
)
def test_a_malformed_kek_is_refused(value: str) -> None:
    with pytest.raises(ValueError):
        parse_kek(value)


def test_without_a_kek_a_random_one_is_used_with_a_warning(caplog) -> None:
    first = KeyEncryption.from_settings(None, [])
    second = KeyEncryption.from_settings(None, [])
    assert first.current_id != second.current_id
    assert "IDENTITY_KEY_ENCRYPTION_KEY" in caplog.text
    configured = KeyEncryption.from_settings(SecretStr(base64.b64encode(bytes(32)).decode()), [])
    assert configured.current_id == KeyEncryption(bytes(32)).current_id
