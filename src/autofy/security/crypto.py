"""Credential encryption: AES-256-GCM with key ids (for rotation) and the owning row as AAD.

What `integrations.credentials` holds:

    {"v": 1, "alg": "AES-256-GCM", "kid": "<key id>", "nonce": "<b64>", "ciphertext": "<b64>"}

- `kid` names the key that encrypted it. AUTOFY_ENCRYPTION_KEYS lists `id:base64key` pairs: the
  first (primary) encrypts, every listed key decrypts, so a new key is put first, `autofy keys
  rotate` re-encrypts every row under it, and only then is the old key removed.
- The associated data binds the ciphertext to (user_id, integration_id): copied to another row,
  or to another user, it no longer decrypts.
- A fresh 96-bit random nonce per encryption (NIST SP 800-38D: fine far beyond 2^32 messages per key
  at this volume).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import uuid
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from autofy.config import Settings
from autofy.runtime import ConfigurationError

FORMAT_VERSION = 1
ALGORITHM = "AES-256-GCM"
KEY_BYTES = 32
NONCE_BYTES = 12
_AAD_CONTEXT = "autofy.integration.credentials.v1"


class EncryptionKeyError(ConfigurationError):
    """AUTOFY_ENCRYPTION_KEYS is missing or malformed; the message says which entry and why."""


class CredentialDecryptionError(Exception):
    """Stored credentials cannot be decrypted: unknown key id, wrong row, or tampered bytes.

    The message never contains key material or plaintext.
    """


def _decode_key(encoded: str) -> bytes:
    padded = encoded + "=" * (-len(encoded) % 4)
    try:
        return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return b""


def parse_encryption_keys(spec: str) -> dict[str, bytes]:
    """`"id:base64key,id2:key2"` → {id: key} in the given order; `EncryptionKeyError` otherwise."""
    keys: dict[str, bytes] = {}
    entries = [entry.strip() for entry in spec.split(",") if entry.strip()]
    if not entries:
        raise EncryptionKeyError(
            "AUTOFY_ENCRYPTION_KEYS is empty; generate a key with `autofy keys generate`."
        )
    for position, entry in enumerate(entries, start=1):
        key_id, separator, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not separator or not key_id:
            raise EncryptionKeyError(f"AUTOFY_ENCRYPTION_KEYS entry {position} is not `id:base64key`.")
        if key_id in keys:
            raise EncryptionKeyError(f"AUTOFY_ENCRYPTION_KEYS lists key id {key_id!r} twice.")
        key = _decode_key(encoded.strip())
        if len(key) != KEY_BYTES:
            raise EncryptionKeyError(
                f"AUTOFY_ENCRYPTION_KEYS key {key_id!r} must be {KEY_BYTES} bytes of base64 "
                f"(got {len(key)} bytes); generate one with `autofy keys generate`."
            )
        keys[key_id] = key
    return keys


def _associated_data(user_id: uuid.UUID, integration_id: uuid.UUID) -> bytes:
    return f"{_AAD_CONTEXT}:{user_id}:{integration_id}".encode()


class CredentialCipher:
    def __init__(self, keys: Mapping[str, bytes]) -> None:
        if not keys:
            raise EncryptionKeyError("at least one encryption key is needed")
        self._keys = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.primary_key_id = next(iter(keys))

    @classmethod
    def from_settings(cls, settings: Settings) -> CredentialCipher:
        if settings.encryption_keys is None:
            raise EncryptionKeyError(
                "AUTOFY_ENCRYPTION_KEYS is not set; generate a key with `autofy keys generate`."
            )
        return cls(parse_encryption_keys(settings.encryption_keys.get_secret_value()))

    def encrypt(
        self, credentials: dict[str, Any], *, user_id: uuid.UUID, integration_id: uuid.UUID
    ) -> dict[str, Any]:
        nonce = os.urandom(NONCE_BYTES)
        plaintext = json.dumps(credentials, separators=(",", ":")).encode()
        ciphertext = self._keys[self.primary_key_id].encrypt(
            nonce, plaintext, _associated_data(user_id, integration_id)
        )
        return {
            "v": FORMAT_VERSION,
            "alg": ALGORITHM,
            "kid": self.primary_key_id,
            "nonce": base64.b64encode(nonce).decode(),
            "ciphertext": base64.b64encode(ciphertext).decode(),
        }

    def decrypt(
        self, stored: Mapping[str, Any], *, user_id: uuid.UUID, integration_id: uuid.UUID
    ) -> dict[str, Any]:
        if stored.get("v") != FORMAT_VERSION or stored.get("alg") != ALGORITHM:
            raise CredentialDecryptionError("stored credentials are not in a known format")
        key_id = stored.get("kid")
        cipher = self._keys.get(key_id) if isinstance(key_id, str) else None
        if cipher is None:
            raise CredentialDecryptionError(
                f"stored credentials use key {key_id!r}, which AUTOFY_ENCRYPTION_KEYS does not list"
            )
        try:
            nonce = base64.b64decode(str(stored["nonce"]), validate=True)
            ciphertext = base64.b64decode(str(stored["ciphertext"]), validate=True)
            plaintext = cipher.decrypt(nonce, ciphertext, _associated_data(user_id, integration_id))
        except (KeyError, binascii.Error, ValueError, InvalidTag) as error:
            raise CredentialDecryptionError(
                "stored credentials do not decrypt for this integration (wrong row or tampered)"
            ) from error
        credentials: dict[str, Any] = json.loads(plaintext)
        return credentials

    def needs_rotation(self, stored: Mapping[str, Any]) -> bool:
        """True when `stored` was encrypted under a key other than the primary one."""
        return stored.get("kid") != self.primary_key_id
