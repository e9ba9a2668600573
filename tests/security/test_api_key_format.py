"""API key format: checksum, parsing without I/O, keyed hashes."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from autofy.config import Settings
from autofy.security.api_keys import ApiKeyHasher, generate_api_key, looks_like_api_key, parse_api_key


def test_generated_keys_parse_back_to_their_prefix() -> None:
    key = generate_api_key()

    parsed = parse_api_key(key.full)

    assert parsed == key
    assert len(key.prefix) == 8
    assert key.full.startswith(f"afy_{key.prefix}_")
    assert looks_like_api_key(key.full)
    assert generate_api_key().full != key.full


def test_every_single_character_change_breaks_the_checksum() -> None:
    key = generate_api_key().full
    body_start = len("afy_")
    for position in range(body_start, len(key)):
        if key[position] == "_":
            continue
        replacement = "a" if key[position] != "a" else "b"
        mutated = key[:position] + replacement + key[position + 1 :]
        assert parse_api_key(mutated) is None, position


@pytest.mark.parametrize(
    "candidate",
    ["", "afy_", "afy_abc_def_ghi", "sk-live-123", "afy_ABCDEFGH_" + "a" * 40 + "_aaaaaa", "eyJhbGciOi.x.y"],
)
def test_malformed_candidates_are_refused(candidate: str) -> None:
    assert parse_api_key(candidate) is None


def _settings(**secrets: str) -> Settings:
    return Settings(_env_file=None, **{name: SecretStr(value) for name, value in secrets.items()})  # type: ignore[arg-type]


def test_hashes_are_keyed_by_the_server_secret_and_compared_exactly() -> None:
    key, other = generate_api_key(), generate_api_key()
    hasher = ApiKeyHasher.from_settings(_settings(jwt_secret="j" * 40))

    stored = hasher.hash(key)

    assert hasher.matches(key, stored)
    assert not hasher.matches(other, stored)
    assert key.full not in stored
    assert ApiKeyHasher.from_settings(_settings(jwt_secret="k" * 40)).hash(key) != stored
    separate = ApiKeyHasher.from_settings(_settings(jwt_secret="j" * 40, api_key_secret="s" * 40))
    assert separate.hash(key) != stored
