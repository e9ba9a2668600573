"""Engines and the two kinds of transaction Autofy runs: *as a user* (RLS applies) and *as the service*.

Every user request runs inside `Database.user_session(claims)`: one statement switches the role to
`authenticated` and publishes the JWT claims, exactly as PostgREST does on Supabase, so the row-level
security policies, not Python filters, decide what the user can see. Workers, the scheduler and
sign-up run in `Database.service_session()` as `service_role`. Both commit when the block ends
without an error and roll back otherwise: this is the edge where Autofy commits. Inside a user's
transaction, `as_service_role(session)` lends the service role to the few statements the user's
role may not run.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

_SET_ROLE_AND_CLAIMS = text(
    "select set_config('role', :role, true), set_config('request.jwt.claims', :claims, true),"
    # Unchanged (the server's own setting) unless the transaction asks for fixed plans.
    " set_config('plan_cache_mode', coalesce(:plans, current_setting('plan_cache_mode')), true)"
)
_CURRENT_ROLE = text("select current_setting('role')")
_SET_ROLE = text("select set_config('role', :role, true)")


# What talking to the database can raise: asyncpg's errors, SQLAlchemy's wrapping of them, and
# the socket's own.
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    DBAPIError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` says the database is away for now (a restart, a failover, the network),
    which waiting and reconnecting cures, as opposed to a wrong setting or a bug. Takes asyncpg's
    errors and SQLAlchemy's wrapping of them."""
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        cause = error.orig.__cause__ if error.orig is not None else None
        return cause is not None and database_unavailable(cause)
    return isinstance(
        error,
        OSError
        | TimeoutError
        | asyncpg.InterfaceError  # the connection was closed under the statement
        | asyncpg.PostgresConnectionError  # class 08
        | asyncpg.OperatorInterventionError,  # class 57: shutting down, starting up, terminated
    )


def value_refused(error: BaseException) -> bool:
    """Whether the database refused a value a statement carried (SQLSTATE class 22: out of range,
    invalid text; or a value asyncpg could not encode for it): the input's fault, not the server's."""
    if isinstance(error, DBAPIError):
        return error.orig is not None and isinstance(error.orig.__cause__, asyncpg.DataError)
    return isinstance(error, asyncpg.DataError)


def sqlalchemy_url(database_url: str) -> str:
    """Turn a libpq URL (`postgresql://…`, `postgres://…`) into an async SQLAlchemy URL (asyncpg)."""
    parts = urlsplit(database_url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in {"postgresql", "postgres"}:
        raise ValueError(f"AUTOFY_DATABASE_URL must start with postgresql:// (got {parts.scheme}://)")
    # asyncpg takes libpq's `sslmode` as `ssl`.
    query = [("ssl", v) if k == "sslmode" else (k, v) for k, v in parse_qsl(parts.query)]
    return urlunsplit(("postgresql+asyncpg", parts.netloc, parts.path, urlencode(query), ""))


def user_claims(user_id: uuid.UUID, email: str | None = None, **extra: Any) -> dict[str, Any]:
    """Supabase's claim set for an authenticated user, as `auth.uid()` and `auth.jwt()` read it."""
    claims = {"sub": str(user_id), "role": "authenticated", "email": email, "aud": "authenticated"}
    return claims | extra


@asynccontextmanager
async def as_service_role(session: AsyncSession) -> AsyncIterator[None]:
    """Run the block as `service_role` inside the caller's transaction, then switch back.

    Legitimate only for a statement the user's role may not run (read the encrypted credentials;
    write an audit row, an execution, a trigger's state, a counter or an embedding), done on the
    user's behalf after RLS, under their own role, has shown that the row is theirs, and in the
    same transaction, so the check and the statement commit or roll back together.
    `service_role` bypasses RLS: the statement must name the row the check found, never search for
    rows. The claims stay the user's; only the role changes. The connecting role is a member of
    `service_role`, so the switch is open to the server and to nobody holding only a user's token.
    """
    previous_role = await session.scalar(_CURRENT_ROLE)
    await session.execute(_SET_ROLE, {"role": "service_role"})
    try:
        yield
    finally:
        await session.execute(_SET_ROLE, {"role": previous_role})


class Database:
    """One async engine per process, and the transactions the rest of Autofy runs in."""

    def __init__(self, database_url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = database_url
        self.engine: AsyncEngine = create_async_engine(
            sqlalchemy_url(database_url),
            pool_size=pool_size,
            max_overflow=pool_size,
            # No ping on checkout (a round trip per transaction): `_transaction`'s first statement
            # finds a connection the server dropped and retries it on a fresh one.
            echo=echo,
            # A failed statement's parameters (password hashes, ciphertexts) stay out of errors and logs.
            hide_parameters=True,
        )
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def user_session(self, claims: Mapping[str, Any]) -> AsyncIterator[AsyncSession]:
        """A transaction as the user the claims name: role `authenticated`, RLS enforced."""
        async with self._transaction(role="authenticated", claims=claims) as session:
            yield session

    @asynccontextmanager
    async def anon_session(self) -> AsyncIterator[AsyncSession]:
        """A transaction as an anonymous caller: role `anon`, which may read almost nothing."""
        async with self._transaction(role="anon", claims={"role": "anon"}) as session:
            yield session

    @asynccontextmanager
    async def service_session(self, *, fixed_plans: bool = False) -> AsyncIterator[AsyncSession]:
        """A transaction as `service_role` (bypasses RLS): for workers, the scheduler, sign-up.

        `fixed_plans`: for a hot path whose statements' best plans do not depend on the values
        bound (lookups by key, arrays of ids). PostgreSQL otherwise plans some of them afresh at
        every call, which can cost more than running them (docs/performance.md)."""
        async with self._transaction(
            role="service_role", claims={"role": "service_role"}, fixed_plans=fixed_plans
        ) as s:
            yield s

    @asynccontextmanager
    async def _transaction(
        self, *, role: str, claims: Mapping[str, Any], fixed_plans: bool = False
    ) -> AsyncIterator[AsyncSession]:
        parameters = {
            "role": role,
            "claims": json.dumps(dict(claims)),
            "plans": "force_generic_plan" if fixed_plans else None,
        }
        # Closing the session rolls back whatever was not committed: an error in the block.
        async with self._sessions() as session:
            try:
                await session.execute(_SET_ROLE_AND_CLAIMS, parameters)
            except DBAPIError as error:
                if not error.connection_invalidated:
                    raise
                # The pooled connection had died (a server restart, an idle timeout): nothing ran
                # on it, and SQLAlchemy has now discarded it and every connection as old as it.
                await session.rollback()
                await session.execute(_SET_ROLE_AND_CLAIMS, parameters)
            yield session
            await session.commit()

    async def dispose(self) -> None:
        await self.engine.dispose()
