"""Finishing runs in groups: the runs a worker ends at about the same time share one transaction.

A job that ends its run hands the run to `FinishingGroup.finish` and waits for the answer; runs
that end together are recorded together (`engine/grouping.py`): one commit (one fsync) and one
update of their workflow's totals instead of queueing on that row one by one
(docs/performance.md). A run's end is still recorded, with its bookkeeping, before its job ends:
the job's answer is the group's commit. A group that fails as a whole is written again run by run,
so one bad run fails alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from autofy.engine import repository
from autofy.engine.connections import ServicePool
from autofy.engine.grouping import Grouped
from autofy.engine.repository import Connection, FinishingRun

# Written in the run's transaction before it finishes (rotated credentials, a failing integration).
BeforeFinish = Callable[[Connection], Awaitable[None]]

# Enough to fill a commit under any load one worker process produces; a bound on one statement.
MAX_GROUP = 200


class FinishingGroup:
    """One per worker process (ExecutionRunner holds it)."""

    def __init__(self, pool: ServicePool) -> None:
        self.pool = pool
        self._grouped = Grouped(self._write, max_group=MAX_GROUP)

    async def finish(self, run: FinishingRun, before: BeforeFinish | None = None) -> bool:
        """Record the run's end and bookkeeping; False when the run had already moved on."""
        return await self._grouped((run, before))

    async def _write(self, group: list[tuple[FinishingRun, BeforeFinish | None]]) -> list[bool]:
        runs = [run for run, _ in group]
        writes_before = [before for _, before in group if before is not None]
        if writes_before:
            async with self.pool.transaction() as connection:
                for before in writes_before:
                    await before(connection)
                finished = await repository.finish_many(connection, runs)
        else:
            # One statement is a transaction of its own (committed before it answers): no BEGIN
            # and COMMIT round trips.
            async with self.pool.connection() as connection:
                finished = await repository.finish_many(connection, runs)
        return [run.execution_id in finished for run in runs]
