"""Credential encryption: AES-256-GCM, key ids, the owning row as associated data."""

from __future__ import annotations

import base64
import uuid

import pytest
from pydantic import SecretStr

from autofy.config import Settings
from autofy.runtime import generate_encryption_key
from autofy.security.crypto import CredentialCipher, CredentialDecryptionError, EncryptionKeyError

CREDENTIALS = {"api_key": "sk-canary-0123456789", "organization": "org-1"}


def _cipher(*specs: str) -> CredentialCipher:
    settings = Settings(_env_file=None, encryption_keys=SecretStr(",".join(specs)))  # type: ignore[call-arg]
    return CredentialCipher.from_settings(settings)


def test_round_trip_and_the_stored_form_hides_the_plaintext() -> None:
    cipher = _cipher(generate_encryption_key())
    user_id, integration_id = uuid.uuid4(), uuid.uuid4()

    stored = cipher.encrypt(CREDENTIALS, user_id=user_id, integration_id=integration_id)

    assert set(stored) == {"v", "alg", "kid", "nonce", "ciphertext"}
    assert stored["alg"] == "AES-256-GCM"
    assert stored["kid"] == cipher.primary_key_id
    assert "canary" not in str(stored)
    assert cipher.decrypt(stored, user_id=user_id, integration_id=integration_id) == CREDENTIALS


def test_each_encryption_uses_a_fresh_nonce() -> None:
    cipher = _cipher(generate_encryption_key())
    ids = {"user_id": uuid.uuid4(), "integration_id": uuid.uuid4()}

    first, second = cipher.encrypt(CREDENTIALS, **ids), cipher.encrypt(CREDENTIALS, **ids)

    assert first["nonce"] != second["nonce"]
    assert first["ciphertext"] != second["ciphertext"]


@pytest.mark.parametrize("moved", ["user", "integration"])
def test_a_ciphertext_copied_to_another_row_does_not_decrypt(moved: str) -> None:
    cipher = _cipher(generate_encryption_key())
    user_id, integration_id = uuid.uuid4(), uuid.uuid4()
    stored = cipher.encrypt(CREDENTIALS, user_id=user_id, integration_id=integration_id)

    with pytest.raises(CredentialDecryptionError) as refused:
        cipher.decrypt(
            stored,
            user_id=uuid.uuid4() if moved == "user" else user_id,
            integration_id=uuid.uuid4() if moved == "integration" else integration_id,
        )
    assert "canary" not in str(refused.value)


def test_a_tampered_ciphertext_does_not_decrypt() -> None:
    cipher = _cipher(generate_encryption_key())
    ids = {"user_id": uuid.uuid4(), "integration_id": uuid.uuid4()}
    stored = cipher.encrypt(CREDENTIALS, **ids)
    raw = bytearray(base64.b64decode(stored["ciphertext"]))
    raw[0] ^= 1

    with pytest.raises(CredentialDecryptionError):
        cipher.decrypt(stored | {"ciphertext": base64.b64encode(bytes(raw)).decode()}, **ids)
    with pytest.raises(CredentialDecryptionError):
        cipher.decrypt(stored | {"v": 99}, **ids)
    with pytest.raises(CredentialDecryptionError):
        cipher.decrypt({"v": 1, "alg": "AES-256-GCM", "kid": stored["kid"]}, **ids)


def test_rotation_keeps_old_ciphertexts_readable_and_encrypts_under_the_new_key() -> None:
    old_key, new_key = generate_encryption_key(), generate_encryption_key()
    ids = {"user_id": uuid.uuid4(), "integration_id": uuid.uuid4()}
    stored_under_old = _cipher(old_key).encrypt(CREDENTIALS, **ids)

    rotated = _cipher(new_key, old_key)

    assert rotated.decrypt(stored_under_old, **ids) == CREDENTIALS
    assert rotated.needs_rotation(stored_under_old)
    fresh = rotated.encrypt(CREDENTIALS, **ids)
    assert fresh["kid"] == new_key.split(":")[0]
    assert not rotated.needs_rotation(fresh)
    with pytest.raises(CredentialDecryptionError, match="does not list"):
        _cipher(new_key).decrypt(stored_under_old, **ids)


def test_standard_and_url_safe_base64_keys_are_both_accepted() -> None:
    raw = bytes(range(32))
    standard = base64.b64encode(raw).decode()
    url_safe = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    ids = {"user_id": uuid.uuid4(), "integration_id": uuid.uuid4()}

    stored = _cipher(f"k1:{standard}").encrypt(CREDENTIALS, **ids)

    assert _cipher(f"k1:{url_safe}").decrypt(stored, **ids) == CREDENTIALS


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty"),
        (" , ", "empty"),
        ("no-colon-here", "entry 1 is not `id:base64key`"),
        (":" + base64.b64encode(bytes(32)).decode(), "entry 1 is not `id:base64key`"),
        ("k1:" + base64.b64encode(bytes(16)).decode(), "must be 32 bytes"),
        ("k1:not base64!!", "must be 32 bytes"),
        (f"k1:{base64.b64encode(bytes(32)).decode()},k1:{base64.b64encode(bytes(32)).decode()}", "twice"),
    ],
)
def test_bad_key_configuration_is_a_clear_error(spec: str, message: str) -> None:
    with pytest.raises(EncryptionKeyError, match=message) as refused:
        _cipher(spec)
    assert "AUTOFY_ENCRYPTION_KEYS" in str(refused.value)


def test_missing_keys_are_a_clear_error() -> None:
    with pytest.raises(EncryptionKeyError, match="AUTOFY_ENCRYPTION_KEYS is not set"):
        CredentialCipher.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]
