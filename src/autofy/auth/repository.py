"""SQL for accounts, sign-in sessions and refresh tokens (all as the service role)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Identity,
    MetaData,
    Row,
    Table,
    Text,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import INET, TIMESTAMP, UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.db.tables import profiles, users

# Migration 0002_auth_sessions. Kept here rather than in db/tables.py: only this repository may
# touch them, and only as the service role.
_metadata = MetaData()

sessions = Table(
    "sessions",
    _metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()),
    Column("user_id", UUID(as_uuid=True), ForeignKey(users.c.id, ondelete="CASCADE"), nullable=False),
    Column("created_at", TIMESTAMP(timezone=True)),
    Column("updated_at", TIMESTAMP(timezone=True)),
    Column("refreshed_at", TIMESTAMP(timezone=True)),
    Column("user_agent", Text),
    Column("ip", INET),
    schema="auth",
)

refresh_tokens = Table(
    "refresh_tokens",
    _metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("session_id", UUID(as_uuid=True), ForeignKey(sessions.c.id, ondelete="CASCADE"), nullable=False),
    Column("parent_id", BigInteger),
    Column("revoked", Boolean, nullable=False),
    Column("created_at", TIMESTAMP(timezone=True)),
    Column("updated_at", TIMESTAMP(timezone=True)),
    schema="auth",
)

_USER_COLUMNS = (
    users.c.id,
    users.c.email,
    users.c.role,
    users.c.raw_user_meta_data["full_name"].astext.label("full_name"),
    users.c.email_confirmed_at,
    users.c.last_sign_in_at,
    users.c.created_at,
)


async def insert_user(
    session: AsyncSession, *, email: str, password_hash: str, metadata: dict[str, Any]
) -> Row[Any] | None:
    """The new account, or None when the email is taken. The profile comes from a trigger."""
    statement = (
        insert(users)
        .values(
            id=uuid.uuid4(),
            email=email,
            encrypted_password=password_hash,
            raw_user_meta_data=metadata,
            email_confirmed_at=func.now(),
            last_sign_in_at=func.now(),
        )
        .on_conflict_do_nothing(index_elements=[users.c.email])
        .returning(*_USER_COLUMNS)
    )
    return (await session.execute(statement)).one_or_none()


async def set_credits_allowance(session: AsyncSession, user_id: uuid.UUID, credits: int) -> None:
    """The new account's credits per period (the free plan's, from the settings)."""
    await session.execute(update(profiles).where(profiles.c.id == user_id).values(credits_limit=credits))


async def find_user_for_sign_in(session: AsyncSession, email: str) -> Row[Any] | None:
    return (
        await session.execute(
            select(*_USER_COLUMNS, users.c.encrypted_password, users.c.banned_until).where(
                users.c.email == email
            )
        )
    ).one_or_none()


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> Row[Any] | None:
    return (await session.execute(select(*_USER_COLUMNS).where(users.c.id == user_id))).one_or_none()


async def mark_signed_in(
    session: AsyncSession, user_id: uuid.UUID, *, new_password_hash: str | None
) -> Row[Any]:
    values: dict[str, Any] = {"last_sign_in_at": func.now()}
    if new_password_hash is not None:
        values["encrypted_password"] = new_password_hash
    statement = update(users).where(users.c.id == user_id).values(**values).returning(*_USER_COLUMNS)
    return (await session.execute(statement)).one()


async def get_password_hash(session: AsyncSession, user_id: uuid.UUID) -> str | None:
    hashed: str | None = await session.scalar(select(users.c.encrypted_password).where(users.c.id == user_id))
    return hashed


async def set_password_hash(session: AsyncSession, user_id: uuid.UUID, password_hash: str) -> None:
    await session.execute(update(users).where(users.c.id == user_id).values(encrypted_password=password_hash))


async def create_session(
    session: AsyncSession, *, user_id: uuid.UUID, ip_address: str | None, user_agent: str | None
) -> uuid.UUID:
    statement = (
        insert(sessions)
        .values(user_id=user_id, ip=ip_address, user_agent=user_agent)
        .returning(sessions.c.id)
    )
    session_id: uuid.UUID = (await session.execute(statement)).scalar_one()
    return session_id


async def insert_refresh_token(
    session: AsyncSession,
    *,
    token_hash: str,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    parent_id: int | None,
) -> None:
    await session.execute(
        insert(refresh_tokens).values(
            token_hash=token_hash, user_id=user_id, session_id=session_id, parent_id=parent_id
        )
    )


async def lock_refresh_token(session: AsyncSession, token_hash: str) -> Row[Any] | None:
    """The token and its owner, locked: two concurrent refreshes with one token run one by one."""
    statement = (
        select(
            refresh_tokens.c.id,
            refresh_tokens.c.user_id,
            refresh_tokens.c.session_id,
            refresh_tokens.c.revoked,
            refresh_tokens.c.created_at,
            users.c.email,
            users.c.banned_until,
        )
        .join(users, users.c.id == refresh_tokens.c.user_id)
        .where(refresh_tokens.c.token_hash == token_hash)
        .with_for_update(of=refresh_tokens)
    )
    return (await session.execute(statement)).one_or_none()


async def revoke_refresh_token(session: AsyncSession, token_id: int) -> None:
    await session.execute(update(refresh_tokens).where(refresh_tokens.c.id == token_id).values(revoked=True))


async def mark_session_refreshed(session: AsyncSession, session_id: uuid.UUID) -> None:
    await session.execute(update(sessions).where(sessions.c.id == session_id).values(refreshed_at=func.now()))


async def delete_session(session: AsyncSession, session_id: uuid.UUID) -> bool:
    """Sign the session out: its refresh tokens go with it (cascade), its access tokens die."""
    result = await session.execute(
        delete(sessions).where(sessions.c.id == session_id).returning(sessions.c.id)
    )
    return result.first() is not None


async def list_sessions(session: AsyncSession, user_id: uuid.UUID) -> Sequence[Row[Any]]:
    """The user's sign-in sessions, newest first."""
    statement = (
        select(
            sessions.c.id,
            sessions.c.created_at,
            sessions.c.refreshed_at,
            sessions.c.user_agent,
            func.host(sessions.c.ip).label("ip_address"),
        )
        .where(sessions.c.user_id == user_id)
        .order_by(sessions.c.created_at.desc(), sessions.c.id)
    )
    return (await session.execute(statement)).all()


async def delete_sessions(session: AsyncSession, user_id: uuid.UUID, *, keep: uuid.UUID | None = None) -> int:
    """Sign out every session of the user (but `keep`, when given): how many ended."""
    statement = delete(sessions).where(sessions.c.user_id == user_id)
    if keep is not None:
        statement = statement.where(sessions.c.id != keep)
    result = await session.execute(statement.returning(sessions.c.id))
    return len(result.all())


async def session_is_active(session: AsyncSession, *, session_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """The session exists (not signed out or revoked) and its user is not banned."""
    statement = select(
        exists()
        .where(sessions.c.id == session_id, sessions.c.user_id == user_id)
        .where(users.c.id == sessions.c.user_id)
        .where(or_(users.c.banned_until.is_(None), users.c.banned_until <= func.now()))
    )
    return bool(await session.scalar(statement))
