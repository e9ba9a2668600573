"""argon2id password hashes and HS256 access tokens."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from autofy.config import Settings
from autofy.errors import UnauthorizedError
from autofy.security.passwords import PasswordHashing, password_problems
from autofy.security.tokens import decode_access_token, issue_access_token

SECRET = "a-test-secret-that-is-long-enough-for-hs256-signing"


def test_passwords_are_argon2id_with_the_configured_cost_and_verify() -> None:
    hashing = PasswordHashing.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]

    stored = hashing.hash("Correct-Horse-9")

    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert hashing.verify(stored, "Correct-Horse-9")
    assert not hashing.verify(stored, "correct-horse-9")
    assert not hashing.verify(None, "Correct-Horse-9")
    assert not hashing.verify("not-a-hash", "Correct-Horse-9")


def test_a_hash_made_with_other_parameters_needs_rehashing() -> None:
    cheap = PasswordHashing(memory_kib=1024, time_cost=1)
    current = PasswordHashing(memory_kib=2048, time_cost=1)

    stored = cheap.hash("Correct-Horse-9")

    assert current.verify(stored, "Correct-Horse-9")
    assert current.needs_rehash(stored)
    assert not current.needs_rehash(current.hash("Correct-Horse-9"))


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Sh0rt!", "at least 10"),
        ("onlylowercaseletters", "two of"),
        ("ada.lovelace-Rocks-1", "email"),
    ],
)
def test_weak_passwords_are_explained(password: str, problem: str) -> None:
    problems = password_problems(password, email="ada.lovelace@example.com", min_length=10)
    assert any(problem in message for message in problems), problems


def test_a_good_password_has_no_problems() -> None:
    assert password_problems("Correct-Horse-9", email="ada@example.com", min_length=10) == []


def test_tokens_round_trip_and_pin_the_algorithm() -> None:
    user_id, session_id = uuid.uuid4(), uuid.uuid4()
    issued = issue_access_token(
        secret=SECRET, user_id=user_id, email="a@example.com", session_id=session_id, ttl_seconds=600
    )

    verified = decode_access_token(issued.token, secret=SECRET)

    assert (verified.user_id, verified.session_id, verified.email) == (user_id, session_id, "a@example.com")
    assert issued.expires_in == 600
    claims = verified.claims
    forged = jwt.encode(claims, SECRET, algorithm="HS384")
    with pytest.raises(UnauthorizedError):
        decode_access_token(forged, secret=SECRET)


def test_an_expired_token_says_so() -> None:
    issued = issue_access_token(
        secret=SECRET,
        user_id=uuid.uuid4(),
        email=None,
        session_id=uuid.uuid4(),
        ttl_seconds=60,
        now=datetime.now(UTC) - timedelta(minutes=5),
    )
    with pytest.raises(UnauthorizedError, match="expired"):
        decode_access_token(issued.token, secret=SECRET)
