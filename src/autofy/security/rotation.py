"""Re-encrypting every stored credential under the primary key (`autofy keys rotate`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select, update

from autofy.db.engine import Database
from autofy.db.tables import integrations
from autofy.security.crypto import CredentialCipher, CredentialDecryptionError


@dataclass
class RotationReport:
    examined: int = 0
    rotated: int = 0
    already_current: int = 0
    # Integration ids only: never a credential, never key material.
    undecryptable: list[uuid.UUID] = field(default_factory=list)


async def rotate_credentials(
    database: Database,
    cipher: CredentialCipher,
    *,
    batch_size: int,
    on_batch: Callable[[int], None] | None = None,
) -> RotationReport:
    """Walk integrations in id order, one transaction per batch, re-encrypting what an older key
    encrypted. Rows stay readable throughout (every listed key decrypts), a crash loses at most
    one batch's work, and running it again only finishes what is left."""
    report = RotationReport()
    last_id: uuid.UUID | None = None
    while True:
        # Service role: rotation touches every user's credentials, which no user's RLS allows,
        # and the ciphertext column is not readable by users at all.
        async with database.service_session() as session:
            query = (
                select(integrations.c.id, integrations.c.user_id, integrations.c.credentials)
                .order_by(integrations.c.id)
                .limit(batch_size)
                .with_for_update()
            )
            if last_id is not None:
                query = query.where(integrations.c.id > last_id)
            rows = (await session.execute(query)).all()
            for row in rows:
                report.examined += 1
                if not cipher.needs_rotation(row.credentials):
                    report.already_current += 1
                    continue
                try:
                    plaintext = cipher.decrypt(row.credentials, user_id=row.user_id, integration_id=row.id)
                except CredentialDecryptionError:
                    report.undecryptable.append(row.id)
                    continue
                await session.execute(
                    update(integrations)
                    .where(integrations.c.id == row.id)
                    .values(credentials=cipher.encrypt(plaintext, user_id=row.user_id, integration_id=row.id))
                )
                report.rotated += 1
        if on_batch is not None:
            on_batch(len(rows))
        if len(rows) < batch_size:
            return report
        last_id = rows[-1].id


async def rotate_all(
    database_url: str,
    cipher: CredentialCipher,
    *,
    batch_size: int,
    on_batch: Callable[[int], None] | None = None,
) -> RotationReport:
    database = Database(database_url, pool_size=1)
    try:
        return await rotate_credentials(database, cipher, batch_size=batch_size, on_batch=on_batch)
    finally:
        await database.dispose()
