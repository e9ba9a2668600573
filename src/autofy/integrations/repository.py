"""SQL for integrations and integration templates.

As a user, `integrations.credentials` can be written but never read (column privilege): every
query here selects `INTEGRATION_USER_COLUMNS`. Reading the ciphertext back, which only a connection
test or the OAuth flow needs, switches to the service role for that one statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import RowMapping, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.db.engine import as_service_role
from autofy.db.tables import INTEGRATION_USER_COLUMNS, integration_templates, integrations


class DuplicateService(Exception):
    """The caller already has an integration for this service (UNIQUE(user_id, service_name))."""


async def insert_integration(session: AsyncSession, values: Mapping[str, Any]) -> RowMapping:
    try:
        async with session.begin_nested():
            result = await session.execute(
                insert(integrations).values(**values).returning(*INTEGRATION_USER_COLUMNS)
            )
            return result.mappings().one()
    except IntegrityError as error:
        if "integrations_user_id_service_name_key" in str(error.orig):
            raise DuplicateService from None
        raise


async def list_integrations(session: AsyncSession) -> list[RowMapping]:
    result = await session.execute(select(*INTEGRATION_USER_COLUMNS).order_by(integrations.c.service_name))
    return list(result.mappings().all())


async def get_integration(session: AsyncSession, integration_id: uuid.UUID) -> RowMapping | None:
    result = await session.execute(
        select(*INTEGRATION_USER_COLUMNS).where(integrations.c.id == integration_id)
    )
    return result.mappings().one_or_none()


async def get_by_service(session: AsyncSession, service_name: str) -> RowMapping | None:
    result = await session.execute(
        select(*INTEGRATION_USER_COLUMNS).where(integrations.c.service_name == service_name)
    )
    return result.mappings().one_or_none()


async def statuses_by_service(session: AsyncSession) -> dict[str, str]:
    """{service_name: status} of the caller's integrations."""
    result = await session.execute(select(integrations.c.service_name, integrations.c.status))
    return {str(service): str(status) for service, status in result.all()}


async def update_integration(
    session: AsyncSession, integration_id: uuid.UUID, values: Mapping[str, Any]
) -> RowMapping:
    result = await session.execute(
        update(integrations)
        .where(integrations.c.id == integration_id)
        .values(**values)
        .returning(*INTEGRATION_USER_COLUMNS)
    )
    return result.mappings().one()


async def delete_integration(session: AsyncSession, integration_id: uuid.UUID) -> None:
    await session.execute(delete(integrations).where(integrations.c.id == integration_id))


async def read_credentials(session: AsyncSession, integration_id: uuid.UUID) -> dict[str, Any]:
    """The stored ciphertext of an integration the caller has already loaded (so it is theirs).

    Users may not select the column, and only the server may decrypt it, so the read runs as the
    service role.
    """
    async with as_service_role(session):
        stored = await session.scalar(
            select(integrations.c.credentials).where(integrations.c.id == integration_id)
        )
    if not isinstance(stored, dict):
        raise LookupError(f"integration {integration_id} has no stored credentials")
    return stored


async def list_templates(session: AsyncSession) -> list[RowMapping]:
    result = await session.execute(
        select(integration_templates).order_by(
            integration_templates.c.service_name, integration_templates.c.template_name
        )
    )
    return list(result.mappings().all())
