"""Password hashing (argon2id, OWASP's parameters by default) and the password strength rule."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from autofy.config import Settings

MAX_PASSWORD_LENGTH = 1024


class PasswordHashing:
    """argon2id with the configured cost (parallelism 1: one request must not take every core)."""

    def __init__(self, *, memory_kib: int, time_cost: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
        # Verified against when the email is unknown, so that an unknown email costs as much time
        # as a wrong password and response times do not reveal which accounts exist.
        self._unknown_user_hash = self._hasher.hash("autofy: no such account")

    @staticmethod
    def from_settings(settings: Settings) -> PasswordHashing:
        return _hashing(settings.password_hash_memory_kib, settings.password_hash_time_cost)

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when `password` matches; a missing or unreadable hash never matches."""
        try:
            matched = self._hasher.verify(stored_hash or self._unknown_user_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return matched and stored_hash is not None

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when the hash was made with other parameters than today's: rehash at next sign-in."""
        return self._hasher.check_needs_rehash(stored_hash)


@lru_cache(maxsize=4)
def _hashing(memory_kib: int, time_cost: int) -> PasswordHashing:
    return PasswordHashing(memory_kib=memory_kib, time_cost=time_cost)


def password_problems(password: str, *, email: str, min_length: int) -> list[str]:
    """Why `password` is too weak, as sentences for the user; empty when it is acceptable.

    Length matters most (NIST SP 800-63B); on top of that a password must mix at least two kinds
    of characters and must not contain the email's name part.
    """
    problems: list[str] = []
    if len(password) < min_length:
        problems.append(f"The password must be at least {min_length} characters long.")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"The password must be at most {MAX_PASSWORD_LENGTH} characters long.")
    kinds = sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if kinds < 2:
        problems.append("The password must mix at least two of: lowercase, uppercase, digits, symbols.")
    local_part = email.split("@", 1)[0].lower()
    if len(local_part) >= 3 and local_part in password.lower():
        problems.append("The password must not contain your email address.")
    return problems
