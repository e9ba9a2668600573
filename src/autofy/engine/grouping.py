"""Serving in groups: calls that arrive while one group is served wait, and form the next group.

A worker's jobs start and end in bursts (pgqueuer hands over a batch of jobs at once; runs of one
batch end together), so the round trips they make one by one can be shared: loading their runs
(`ExecutionRunner.load`) and recording their ends (`engine/finishing.py`). If no group is being
served, a server starts at once with what is waiting; calls that arrive meanwhile wait for the
next group. At low load a group is a single call and nothing waits longer than before.

A group that fails as a whole (one item's data refused, a deadlock) is served again item by item,
so one bad item fails alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")
Answer = TypeVar("Answer")


@dataclass
class _Waiting(Generic[Item, Answer]):
    item: Item
    answer: asyncio.Future[Answer]


class Grouped(Generic[Item, Answer]):
    """`await grouped(item)`: `serve` called on a group of items, its answers handed back in order
    (an answer that is an exception is raised to that item's caller alone)."""

    def __init__(
        self, serve: Callable[[list[Item]], Awaitable[Sequence[Answer | Exception]]], *, max_group: int
    ) -> None:
        self._serve = serve
        self._max_group = max_group
        self._waiting: list[_Waiting[Item, Answer]] = []
        self._server: asyncio.Task[None] | None = None

    async def __call__(self, item: Item) -> Answer:
        answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(item, answer))
        if self._server is None or self._server.done():
            # A task of its own: a caller cancelled while it waits must not stop the others' group.
            self._server = asyncio.create_task(self._serve_all())
        return await answer

    async def _serve_all(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting[: self._max_group], self._waiting[self._max_group :]
            try:
                await self._serve_group(group)
            except Exception as error:
                if len(group) == 1:
                    _answer(group[0], error)
                    continue
                for waiting in group:
                    try:
                        await self._serve_group([waiting])
                    except Exception as alone:
                        _answer(waiting, alone)

    async def _serve_group(self, group: list[_Waiting[Item, Answer]]) -> None:
        answers = await self._serve([waiting.item for waiting in group])
        for waiting, answer in zip(group, answers, strict=True):
            _answer(waiting, answer)


def _answer(waiting: _Waiting[Item, Answer], outcome: Answer | Exception) -> None:
    if waiting.answer.done():
        return  # its caller was cancelled meanwhile (shutdown); what was served stands either way
    if isinstance(outcome, Exception):
        waiting.answer.set_exception(outcome)
    else:
        waiting.answer.set_result(outcome)
