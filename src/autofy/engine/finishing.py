"""Finishing runs in groups: the runs a worker ends at about the same time share one transaction.

A job that ends its run hands the run to `FinishingGroup.finish` and waits for the answer. If no
group is being written, a writer starts at once with what is waiting; runs that end while it writes
wait for the next group. At low load a group is a single run and nothing waits longer than before;
under load many runs share one commit (one fsync) and one update of their workflow's totals instead
of queueing on that row one by one (docs/performance.md). A run's end is still recorded, with its
bookkeeping, before its job ends: the job's answer is the group's commit.

A group that fails as a whole (one run's data refused, a deadlock) is written again run by run, so
one bad run fails alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from autofy.engine import repository
from autofy.engine.connections import ServicePool
from autofy.engine.repository import Connection, FinishingRun

# Written in the run's transaction before it finishes (rotated credentials, a failing integration).
BeforeFinish = Callable[[Connection], Awaitable[None]]

# Enough to fill a commit under any load one worker process produces; a bound on one statement.
MAX_GROUP = 200


@dataclass
class _Waiting:
    run: FinishingRun
    before: BeforeFinish | None
    answer: asyncio.Future[bool]


class FinishingGroup:
    """One per worker process (ExecutionRunner holds it)."""

    def __init__(self, pool: ServicePool) -> None:
        self.pool = pool
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def finish(self, run: FinishingRun, before: BeforeFinish | None = None) -> bool:
        """Record the run's end and bookkeeping; False when the run had already moved on."""
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(run, before, answer))
        if self._writer is None or self._writer.done():
            # A task of its own: a job cancelled while it waits must not stop the others' commit.
            self._writer = asyncio.create_task(self._write_all())
        return await answer

    async def _write_all(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting[:MAX_GROUP], self._waiting[MAX_GROUP:]
            try:
                await self._write(group)
            except Exception as error:
                if len(group) == 1:
                    _answer(group[0], error)
                    continue
                for waiting in group:
                    try:
                        await self._write([waiting])
                    except Exception as alone:
                        _answer(waiting, alone)

    async def _write(self, group: list[_Waiting]) -> None:
        async with self.pool.transaction() as connection:
            for waiting in group:
                if waiting.before is not None:
                    await waiting.before(connection)
            finished = await repository.finish_many(connection, [waiting.run for waiting in group])
        for waiting in group:
            _answer(waiting, waiting.run.execution_id in finished)


def _answer(waiting: _Waiting, outcome: bool | Exception) -> None:
    if waiting.answer.done():
        return  # its job was cancelled meanwhile (shutdown); the run's record stands either way
    if isinstance(outcome, Exception):
        waiting.answer.set_exception(outcome)
    else:
        waiting.answer.set_result(outcome)
