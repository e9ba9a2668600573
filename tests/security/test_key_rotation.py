"""`autofy keys rotate`: every credential re-encrypted under the primary key, in batches."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from typing import Any

from pydantic import SecretStr
from sqlalchemy import insert, select

from autofy.config import Settings
from autofy.db.engine import Database
from autofy.db.tables import integrations
from autofy.runtime import generate_encryption_key
from autofy.security.crypto import CredentialCipher
from autofy.security.rotation import rotate_credentials
from tests.factories import create_user

OLD_KEY = generate_encryption_key()
NEW_KEY = generate_encryption_key()
RETIRED_KEY = generate_encryption_key()


def _cipher(*specs: str) -> CredentialCipher:
    return CredentialCipher.from_settings(
        Settings(_env_file=None, encryption_keys=SecretStr(",".join(specs)))  # type: ignore[call-arg]
    )


async def _add_integrations(
    database: Database, encrypted_with: dict[str, CredentialCipher]
) -> dict[str, uuid.UUID]:
    """One integration per service, each encrypted with the cipher given for it."""
    user = await create_user(database)
    ids: dict[str, uuid.UUID] = {}
    async with database.service_session() as session:
        for service_name, cipher in encrypted_with.items():
            integration_id = uuid.uuid4()
            credentials = cipher.encrypt(
                {"token": f"{service_name}-secret"}, user_id=user.id, integration_id=integration_id
            )
            await session.execute(
                insert(integrations).values(
                    id=integration_id,
                    user_id=user.id,
                    service_name=service_name,
                    display_name=service_name,
                    credentials=credentials,
                )
            )
            ids[service_name] = integration_id
    return ids


async def _stored(database: Database) -> dict[uuid.UUID, Any]:
    async with database.service_session() as session:
        rows = (
            await session.execute(
                select(integrations.c.id, integrations.c.user_id, integrations.c.credentials)
            )
        ).all()
    return {row.id: row for row in rows}


async def test_rotation_re_encrypts_old_rows_under_the_primary_key(database: Database) -> None:
    old, new = _cipher(OLD_KEY), _cipher(NEW_KEY)
    ids = await _add_integrations(database, {"gmail": old, "notion": old, "telegram": new, "openai": old})
    rotating = _cipher(NEW_KEY, OLD_KEY)

    report = await rotate_credentials(database, rotating, batch_size=2)

    assert (report.examined, report.rotated, report.already_current, report.undecryptable) == (4, 3, 1, [])
    new_only = _cipher(NEW_KEY)
    for service_name, integration_id in ids.items():
        row = (await _stored(database))[integration_id]
        assert row.credentials["kid"] == new_only.primary_key_id
        plaintext = new_only.decrypt(row.credentials, user_id=row.user_id, integration_id=row.id)
        assert plaintext == {"token": f"{service_name}-secret"}
    again = await rotate_credentials(database, rotating, batch_size=2)
    assert (again.rotated, again.already_current) == (0, 4)


async def test_rows_no_listed_key_decrypts_are_reported_and_left_alone(database: Database) -> None:
    ids = await _add_integrations(database, {"gmail": _cipher(RETIRED_KEY), "notion": _cipher(OLD_KEY)})
    before = (await _stored(database))[ids["gmail"]].credentials

    report = await rotate_credentials(database, _cipher(NEW_KEY, OLD_KEY), batch_size=10)

    assert report.undecryptable == [ids["gmail"]]
    assert report.rotated == 1
    assert (await _stored(database))[ids["gmail"]].credentials == before


def test_the_cli_command_reports_counts(database_url: str) -> None:
    async def arrange() -> None:
        database = Database(database_url, pool_size=1)
        try:
            await _add_integrations(database, {"gmail": _cipher(OLD_KEY), "notion": _cipher(NEW_KEY)})
        finally:
            await database.dispose()

    asyncio.run(arrange())
    env = {
        **os.environ,
        "COLUMNS": "200",
        "AUTOFY_DATABASE_URL": database_url,
        "AUTOFY_JWT_SECRET": "a-jwt-secret-for-the-cli-test-0123456789abcdef",
        "AUTOFY_ENCRYPTION_KEYS": f"{NEW_KEY},{OLD_KEY}",
    }

    result = subprocess.run(
        [sys.executable, "-m", "autofy", "keys", "rotate", "--batch-size", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "examined 2, re-encrypted 1" in result.stdout
    assert "already current 1" in result.stdout
    assert "secret" not in result.stdout


def test_the_cli_refuses_a_bad_key_list_in_one_line(database_url: str) -> None:
    env = {
        **os.environ,
        "AUTOFY_DATABASE_URL": database_url,
        "AUTOFY_JWT_SECRET": "a-jwt-secret-for-the-cli-test-0123456789abcdef",
        "AUTOFY_ENCRYPTION_KEYS": "k1:tooshort",
    }

    result = subprocess.run(
        [sys.executable, "-m", "autofy", "keys", "rotate"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "AUTOFY_ENCRYPTION_KEYS key 'k1' must be 32 bytes" in result.stderr
