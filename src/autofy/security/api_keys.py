"""API keys: `afy_<prefix>_<secret>_<checksum>`, shown once, stored as prefix + keyed hash.

- prefix: 8 random lowercase letters and digits; stored in `api_keys.key_prefix` to find the row.
- secret: 40 random base62 characters (about 238 bits).
- checksum: CRC32 of everything before it, 6 base62 characters. It is not a secret: it lets the
  server (and secret scanners) reject a mistyped or truncated key without a database query.

The database holds HMAC-SHA256(server secret, full key): a stolen table does not yield usable
keys, and without the server secret the hashes cannot even be brute-forced offline.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
import zlib
from dataclasses import dataclass

from autofy.config import Settings

KEY_SCHEME = "afy"
PREFIX_LENGTH = 8
SECRET_LENGTH = 40
CHECKSUM_LENGTH = 6
_BASE62 = string.digits + string.ascii_letters
_PREFIX_ALPHABET = string.digits + string.ascii_lowercase
_KEY_PATTERN = re.compile(
    rf"^{KEY_SCHEME}_(?P<prefix>[0-9a-z]{{{PREFIX_LENGTH}}})_(?P<secret>[0-9A-Za-z]{{{SECRET_LENGTH}}})"
    rf"_(?P<checksum>[0-9A-Za-z]{{{CHECKSUM_LENGTH}}})$"
)
_HASH_KEY_CONTEXT = b"autofy api key hashing v1"


@dataclass(frozen=True)
class ApiKey:
    """A well-formed key (its checksum verified)."""

    full: str
    prefix: str


def _checksum(body: str) -> str:
    value = zlib.crc32(body.encode())
    digits = []
    for _ in range(CHECKSUM_LENGTH):
        value, digit = divmod(value, 62)
        digits.append(_BASE62[digit])
    return "".join(reversed(digits))


def generate_api_key() -> ApiKey:
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    secret = "".join(secrets.choice(_BASE62) for _ in range(SECRET_LENGTH))
    body = f"{KEY_SCHEME}_{prefix}_{secret}"
    return ApiKey(full=f"{body}_{_checksum(body)}", prefix=prefix)


def looks_like_api_key(credential: str) -> bool:
    """True for anything in the key's namespace, well-formed or not (JWTs never start so)."""
    return credential.startswith(f"{KEY_SCHEME}_")


def parse_api_key(candidate: str) -> ApiKey | None:
    """The key when its shape and checksum are right; None otherwise, with no I/O at all."""
    match = _KEY_PATTERN.fullmatch(candidate)
    if match is None:
        return None
    body = candidate[: -(CHECKSUM_LENGTH + 1)]
    if not hmac.compare_digest(_checksum(body), match["checksum"]):
        return None
    return ApiKey(full=candidate, prefix=match["prefix"])


class ApiKeyHasher:
    """Keyed hashes of API keys, compared in constant time."""

    def __init__(self, server_secret: bytes) -> None:
        if len(server_secret) < 32:
            raise ValueError("the API key hashing secret must be at least 32 bytes")
        self._secret = server_secret

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiKeyHasher:
        if settings.api_key_secret is not None:
            return cls(hashlib.sha256(settings.api_key_secret.get_secret_value().encode()).digest())
        if settings.jwt_secret is None:
            raise ValueError("AUTOFY_JWT_SECRET (or AUTOFY_API_KEY_SECRET) must be set")
        # A separate key derived from the JWT secret: a hash never doubles as a token signature.
        derived = hmac.new(
            settings.jwt_secret.get_secret_value().encode(), _HASH_KEY_CONTEXT, hashlib.sha256
        ).digest()
        return cls(derived)

    def hash(self, key: ApiKey) -> str:
        return hmac.new(self._secret, key.full.encode(), hashlib.sha256).hexdigest()

    def matches(self, key: ApiKey, stored_hash: str) -> bool:
        return hmac.compare_digest(self.hash(key), stored_hash)
