"""Small factories that put rows in a test database.

They write as `service_role`: arranging a test's starting state is not the behaviour under test,
and the service may write every column (counters, embeddings, executions) a user may not. Tests of
what a user may do open `database.user_session(user.claims)` themselves.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select

from autofy.db import tables
from autofy.db.engine import Database, user_claims

DEFAULT_STEPS: tuple[dict[str, Any], ...] = (
    {
        "step_type": "action",
        "service_name": "telegram",
        "action_name": "send_message",
        "configuration": {"chat_id": "42", "text": "Hello {{ trigger.name }}"},
    },
)


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    email: str
    claims: dict[str, Any]


@dataclass(frozen=True)
class Workflow:
    id: uuid.UUID
    user_id: uuid.UUID
    step_ids: tuple[uuid.UUID, ...]


async def create_user(database: Database, email: str | None = None, full_name: str | None = None) -> User:
    """An account (auth.users); the database's trigger gives it a profile and preferences."""
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    metadata = {"full_name": full_name} if full_name is not None else {}
    async with database.service_session() as session:
        user_id = await session.scalar(
            insert(tables.users).values(email=email, raw_user_meta_data=metadata).returning(tables.users.c.id)
        )
    assert user_id is not None
    return User(id=user_id, email=email, claims=user_claims(user_id, email))


async def create_workflow(
    database: Database,
    user: User,
    *,
    steps: list[dict[str, Any]] | tuple[dict[str, Any], ...] = DEFAULT_STEPS,
    **overrides: Any,
) -> Workflow:
    """A workflow of `user` with `steps` (numbered from 1 in the given order)."""
    values = {"name": "Test workflow", "trigger_type": "manual", "user_id": user.id} | overrides
    async with database.service_session() as session:
        workflow_id = await session.scalar(
            insert(tables.workflows).values(**values).returning(tables.workflows.c.id)
        )
        step_ids = []
        for order, step in enumerate(steps, start=1):
            step_id = await session.scalar(
                insert(tables.workflow_steps)
                .values(workflow_id=workflow_id, step_order=order, **step)
                .returning(tables.workflow_steps.c.id)
            )
            step_ids.append(step_id)
    assert workflow_id is not None
    return Workflow(id=workflow_id, user_id=user.id, step_ids=tuple(step_ids))


async def create_integration(
    database: Database, user: User, service_name: str = "telegram", **overrides: Any
) -> uuid.UUID:
    """An integration whose credentials are a placeholder ciphertext (no real secret)."""
    values = {
        "user_id": user.id,
        "service_name": service_name,
        "display_name": f"My {service_name}",
        "credentials": {"v": 1, "kid": "test", "ciphertext": "cGxhY2Vob2xkZXI="},
    } | overrides
    async with database.service_session() as session:
        integration_id = await session.scalar(
            insert(tables.integrations).values(**values).returning(tables.integrations.c.id)
        )
    assert integration_id is not None
    return integration_id


async def create_execution(database: Database, workflow: Workflow, **overrides: Any) -> uuid.UUID:
    """An execution of `workflow`, running unless `execution_status` says otherwise."""
    values = {
        "workflow_id": workflow.id,
        "user_id": workflow.user_id,
        "execution_status": "running",
        "total_steps": len(workflow.step_ids),
    } | overrides
    # Executions are written by the service role only.
    async with database.service_session() as session:
        execution_id = await session.scalar(
            insert(tables.workflow_executions).values(**values).returning(tables.workflow_executions.c.id)
        )
    assert execution_id is not None
    return execution_id


async def create_chat_session(database: Database, user: User, **overrides: Any) -> uuid.UUID:
    values = {"user_id": user.id, "session_name": "Help me automate", "intent": "help"} | overrides
    async with database.service_session() as session:
        session_id = await session.scalar(
            insert(tables.chat_sessions).values(**values).returning(tables.chat_sessions.c.id)
        )
    assert session_id is not None
    return session_id


async def create_chat_message(database: Database, session_id: uuid.UUID, **overrides: Any) -> uuid.UUID:
    values = {"session_id": session_id, "role": "user", "content": "Save my emails"} | overrides
    async with database.service_session() as session:
        message_id = await session.scalar(
            insert(tables.chat_messages).values(**values).returning(tables.chat_messages.c.id)
        )
    assert message_id is not None
    return message_id


async def create_api_key(database: Database, user: User, **overrides: Any) -> uuid.UUID:
    values = {
        "user_id": user.id,
        "key_name": f"key-{uuid.uuid4().hex[:6]}",
        "key_prefix": uuid.uuid4().hex[:8],
        "key_hash": uuid.uuid4().hex,
    } | overrides
    async with database.service_session() as session:
        key_id = await session.scalar(
            insert(tables.api_keys).values(**values).returning(tables.api_keys.c.id)
        )
    assert key_id is not None
    return key_id


async def create_audit_log(database: Database, user: User, **overrides: Any) -> uuid.UUID:
    values = {
        "user_id": user.id,
        "action": "workflow.created",
        "resource_type": "workflow",
        "details": {"source": "test"},
    } | overrides
    # Audit logs are written by the service role only.
    async with database.service_session() as session:
        log_id = await session.scalar(
            insert(tables.audit_logs).values(**values).returning(tables.audit_logs.c.id)
        )
    assert log_id is not None
    return log_id


async def preference_id(database: Database, user: User, key: str) -> uuid.UUID:
    """The id of one of the default preferences the sign-up trigger created."""
    async with database.service_session() as session:
        found = await session.scalar(
            select(tables.user_preferences.c.id).where(
                tables.user_preferences.c.user_id == user.id,
                tables.user_preferences.c.preference_key == key,
            )
        )
    assert found is not None
    return found
