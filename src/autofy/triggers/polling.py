"""Polling triggers (Gmail's new email): any connector `PollingTrigger`.

A poll runs in one service-role transaction that holds the poll's row lock: it asks the service
for what arrived since the stored cursor, starts one run per item (each with a dedupe key naming
the item, so an item never starts two runs), and stores the new cursor, all committed together.
A crash before the commit loses nothing (the next poll starts from the old cursor), and one after
it repeats nothing. A failed call is recorded on the poll and on the integration, the cursor stays,
and the next tick tries again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.config import Settings
from autofy.connectors.catalog import Catalog, UnknownAction, UnknownService, catalog
from autofy.connectors.outbound import OutboundPolicy
from autofy.connectors.runtime import connector_context
from autofy.connectors.sdk import (
    AuthenticationError,
    ConnectorContext,
    ConnectorError,
    PermanentError,
    PollingTrigger,
    TransientError,
)
from autofy.db.engine import Database
from autofy.integrations.service import CredentialsUnreadable, decrypted_credentials
from autofy.security.crypto import CredentialCipher
from autofy.triggers import repository
from autofy.triggers.runs import start_or_record

logger = logging.getLogger(__name__)

DEFAULT_POLL_INTERVAL_SECONDS = 60
# Polls one scheduler runs at once; each holds a database connection while the service answers.
POLL_CONCURRENCY = 4


@dataclass(frozen=True)
class ConnectorAccess:
    """What calling a connector's trigger takes: the catalog, the credentials' cipher, the
    outbound policy (timeouts, private-network guard) every call to a service goes through, and
    Autofy's public address (where a service that pushes its events delivers them)."""

    catalog: Catalog
    cipher: CredentialCipher
    policy: OutboundPolicy
    public_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectorAccess:
        return cls(
            catalog=catalog(),
            cipher=CredentialCipher.from_settings(settings),
            policy=OutboundPolicy(allow_private_network=settings.outbound_allow_private_network),
            public_url=settings.external_url,
        )

    def trigger(self, service_name: str, trigger_name: str) -> PollingTrigger[Any, Any]:
        try:
            return self.catalog.trigger(service_name, trigger_name)
        except (UnknownService, UnknownAction) as error:
            raise PermanentError(error.message) from None

    @asynccontextmanager
    async def context(
        self, session: AsyncSession, *, user_id: uuid.UUID, service_name: str
    ) -> AsyncIterator[tuple[ConnectorContext, repository.StoredIntegration]]:
        """A context on the user's integration with `service_name`; rotated credentials are saved
        in the session's transaction (committed with the poll's result)."""
        connector = self.catalog.connector(service_name)
        integration = await repository.integration_of(session, user_id, service_name)
        if integration is None:
            raise PermanentError(
                f"no {connector.display_name} account is connected: connect one under Integrations"
            )
        if integration.status == "inactive":
            raise PermanentError(f"the {connector.display_name} integration is turned off")
        try:
            credentials = await decrypted_credentials(
                session, self.cipher, user_id=user_id, integration_id=integration.id
            )
        except CredentialsUnreadable as error:
            raise PermanentError(
                f"the {connector.display_name} credentials cannot be read: {error.message}"
            ) from None

        async def save_credentials(rotated: dict[str, Any]) -> None:
            stored = self.cipher.encrypt(rotated, user_id=user_id, integration_id=integration.id)
            await repository.save_integration_credentials(session, integration.id, stored)

        async with connector_context(
            connector,
            credentials=credentials,
            configuration=integration.configuration,
            policy=self.policy,
            save_credentials=save_credentials,
        ) as ctx:
            yield ctx, integration


def trigger_config(trigger: PollingTrigger[Any, Any], configuration: Mapping[str, Any]) -> BaseModel:
    try:
        config: BaseModel = trigger.config_model.model_validate(configuration)
    except ValidationError as error:
        raise PermanentError(f"invalid trigger configuration: {error.errors()[0]['msg']}") from None
    return config


async def start_cursor(
    session: AsyncSession, access: ConnectorAccess, *, user_id: uuid.UUID, trigger_step: Mapping[str, Any]
) -> dict[str, Any]:
    """The cursor at activation: only items that arrive after it count."""
    service_name, trigger_name = str(trigger_step["service_name"]), str(trigger_step["action_name"])
    trigger = access.trigger(service_name, trigger_name)
    config = trigger_config(trigger, trigger_step["configuration"] or {})
    async with access.context(session, user_id=user_id, service_name=service_name) as (ctx, _):
        return await trigger.start(ctx, config)


async def poll_due(
    database: Database, access: ConnectorAccess, now: datetime, *, batch_size: int = 100
) -> int:
    """Poll every workflow whose poll is due; how many this scheduler polled."""
    # Trigger state and executions are written by the service role only.
    async with database.service_session() as session:
        due = await repository.due_polls(session, now, batch_size)
    limit = asyncio.Semaphore(POLL_CONCURRENCY)

    async def poll(workflow_id: uuid.UUID) -> bool:
        async with limit:
            return await poll_one(database, access, workflow_id, now)

    polled = await asyncio.gather(*(poll(workflow_id) for workflow_id in due))
    return sum(polled)


async def poll_one(
    database: Database, access: ConnectorAccess, workflow_id: uuid.UUID, now: datetime
) -> bool:
    """Poll one workflow unless another scheduler holds it or polled it already; whether it did."""
    async with database.service_session() as session:
        poll = await repository.claim_poll(session, workflow_id, now)
        if poll is None:
            return False
        next_poll_at = now + timedelta(seconds=poll.interval_seconds)
        integration: repository.StoredIntegration | None = None
        try:
            trigger = access.trigger(poll.service_name, poll.trigger_name)
            config = trigger_config(trigger, poll.config)
            async with access.context(session, user_id=poll.user_id, service_name=poll.service_name) as (
                ctx,
                integration,
            ):
                result = await trigger.poll(ctx, config, poll.cursor)
        except ConnectorError as error:
            logger.info("poll of workflow %s failed: %s", workflow_id, error.message)
            await repository.record_poll_failure(
                session, workflow_id, error=error.message, polled_at=now, next_poll_at=next_poll_at
            )
            if integration is not None:
                if isinstance(error, TransientError):
                    # No answer (network, 5xx, 429) says nothing about the credentials: the status
                    # stays, the failure is recorded (as for a connection test).
                    status = integration.status
                else:
                    expired = isinstance(error, AuthenticationError) and error.expired
                    status = "expired" if expired else "error"
                await repository.set_integration_status(
                    session, integration.id, status=status, error_message=error.message
                )
            return True
        for item in result.items:
            await start_or_record(
                session,
                workflow_id=workflow_id,
                trigger_type=poll.trigger_type,
                trigger_data=item,
                dedupe_key=f"{poll.service_name}/{poll.trigger_name}:{_item_key(item)}",
            )
        await repository.record_poll_success(
            session, workflow_id, cursor=result.cursor, polled_at=now, next_poll_at=next_poll_at
        )
        if integration is not None and (integration.status != "active" or integration.error_message):
            await repository.set_integration_status(
                session, integration.id, status="active", error_message=None
            )
        return True


def _item_key(item: Mapping[str, Any]) -> str:
    """What identifies an item: the service's id for it (Gmail's message id, Telegram's update id;
    a Telegram message_id is unique only within its chat), else a digest of its content."""
    for key in ("id", "update_id"):
        if item.get(key) is not None:
            return str(item[key])
    return hashlib.sha256(json.dumps(item, sort_keys=True, default=str).encode()).hexdigest()
