"""The trigger tables: the Core objects match the migration, and users read but never write them."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError

from autofy.db.engine import Database
from autofy.triggers.tables import metadata, workflow_schedules, workflow_webhooks
from tests.db.catalog import read_catalog
from tests.factories import create_user, create_workflow
from tests.triggers.conftest import FakeClock


async def test_the_table_objects_match_the_migration(database_url: str) -> None:
    live = await read_catalog(database_url)
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    for table in metadata.sorted_tables:
        assert live.tables[table.name] == [column.name for column in table.columns]
        for column in table.columns:
            found = live.columns[(table.name, column.name)]
            assert (found.type, found.nullable) == (
                column.type.compile(dialect=dialect).lower(),
                column.nullable,
            )


async def test_owners_read_their_trigger_state_and_nobody_else_does(
    database: Database, activate: Any, clock: FakeClock
) -> None:
    owner, stranger = await create_user(database), await create_user(database)
    hooked = await create_workflow(database, owner, trigger_type="webhook")
    scheduled = await create_workflow(
        database, owner, trigger_type="scheduled", trigger_config={"cron": "0 9 * * *"}
    )
    await activate(hooked, owner, now=clock.now)
    await activate(scheduled, owner, now=clock.now)

    async with database.user_session(owner.claims) as session:
        assert await session.scalar(select(workflow_webhooks.c.workflow_id)) == hooked.id
        assert await session.scalar(select(workflow_schedules.c.workflow_id)) == scheduled.id
    async with database.user_session(stranger.claims) as session:
        assert (await session.execute(select(workflow_webhooks.c.token))).all() == []
        assert (await session.execute(select(workflow_schedules.c.workflow_id))).all() == []


@pytest.mark.parametrize(
    "change",
    [
        update(workflow_webhooks).values(token="chosen-by-the-user-" + "x" * 30),
        update(workflow_schedules).values(next_fire_at=FakeClock().now),
    ],
)
async def test_owners_cannot_write_their_trigger_state(
    database: Database, activate: Any, clock: FakeClock, change: Any
) -> None:
    owner = await create_user(database)
    for trigger_type, config in (("webhook", {}), ("scheduled", {"cron": "0 9 * * *"})):
        workflow = await create_workflow(database, owner, trigger_type=trigger_type, trigger_config=config)
        await activate(workflow, owner, now=clock.now)

    with pytest.raises(DBAPIError, match="permission denied"):
        async with database.user_session(owner.claims) as session:
            await session.execute(change)
