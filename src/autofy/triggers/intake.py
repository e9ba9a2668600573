"""Webhook deliveries that arrive together start their runs in one transaction.

Every run reserves its credits on its user's profile row, and that row stays locked until the
transaction commits. One transaction per delivery made a user's deliveries queue behind each
other's commits: on two cores the row was held ~4 ms per delivery (the commit's round trip
waiting its turn on a busy event loop), which capped one workflow at ~250 runs/s however idle the
database was (docs/performance.md, Issue 15 §6). Here, deliveries that arrive while a batch is being
started wait for the next one, and each batch is one lookup, one `start_executions` and one commit:
at low load a batch holds one delivery and nothing waits; under load the row is taken once per
batch, and the per-transaction work (role, round trips, the commit) is shared.

Each delivery still gets its own answer: its run's id, or its own refusal (404, 402, 413, 422...).
Deliveries that need more than a start (a Telegram update, an Autofy signature to remember) are
handed back and go through `webhook.deliver` in a transaction of their own, as does every delivery
of a batch that failed for any reason but the database being away, so one bad delivery never costs
the others theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from autofy.db.engine import Database, database_unavailable
from autofy.engine.service import StartRequest, start_executions
from autofy.errors import DomainError
from autofy.observability import metrics
from autofy.triggers import repository, webhook
from autofy.triggers.schemas import WebhookIgnored

# A batch is bounded by the deliveries admitted at once (triggers.admission), this is a backstop.
MAX_BATCH: Final = 256


class _OnItsOwn:
    """The answer for a delivery that must go through `webhook.deliver` in its own transaction."""


_ON_ITS_OWN: Final = _OnItsOwn()
Outcome = uuid.UUID | WebhookIgnored


@dataclass
class _Waiting:
    token: str
    delivery: webhook.Delivery
    now: datetime
    answer: asyncio.Future[uuid.UUID | _OnItsOwn] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class WebhookIntake:
    """One per API process (app.state.webhook_intake), on the app's database."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._waiting: list[_Waiting] = []
        self._starting: asyncio.Task[None] | None = None

    async def deliver(self, token: str, delivery: webhook.Delivery, *, now: datetime) -> Outcome:
        """What `webhook.deliver` answers for this delivery, committed."""
        waiting = _Waiting(token, delivery, now)
        self._waiting.append(waiting)
        if self._starting is None or self._starting.done():
            self._starting = asyncio.create_task(self._start_waiting())
        answer = await waiting.answer
        if isinstance(answer, _OnItsOwn):
            async with self.database.service_session() as session:
                return await webhook.deliver(session, token, delivery, now=now)
        return answer

    async def aclose(self) -> None:
        """Let the batch being started finish (the app's shutdown: its senders are waiting)."""
        if self._starting is not None:
            with contextlib.suppress(Exception):
                await self._starting

    async def _start_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                answers = await self._start_batch(batch)
            except Exception as error:
                if len(batch) == 1 or database_unavailable(error):
                    for waiting in batch:
                        _answer(waiting, error)
                    continue
                # Nothing of the batch was committed: each delivery goes again on its own.
                answers = [_ON_ITS_OWN] * len(batch)
            for waiting, answer in zip(batch, answers, strict=True):
                _answer(waiting, answer)

    async def _start_batch(self, batch: list[_Waiting]) -> list[uuid.UUID | _OnItsOwn | DomainError]:
        # Executions are the service's to write; the block commits before anyone is answered.
        async with self.database.service_session() as session:
            targets = await repository.webhook_targets(session, [waiting.token for waiting in batch])
            answers: list[uuid.UUID | _OnItsOwn | DomainError] = []
            requests: list[StartRequest] = []
            positions: list[int] = []
            for waiting in batch:
                try:
                    checked = webhook.check_delivery(
                        targets.get(waiting.token), waiting.delivery, waiting.now
                    )
                except DomainError as refused:
                    answers.append(refused)
                    continue
                request = checked.only_a_start
                if request is not None:
                    positions.append(len(answers))
                    requests.append(request)
                answers.append(_ON_ITS_OWN)  # for a run to start, replaced by its answer below
            if requests:
                for position, started in zip(
                    positions, await start_executions(session, requests), strict=True
                ):
                    answers[position] = started
        metrics.webhook_batch_size.observe(len(batch))
        return answers


def _answer(waiting: _Waiting, answer: uuid.UUID | _OnItsOwn | BaseException) -> None:
    if waiting.answer.done():
        return  # its sender went away: the run (if any) stands, as after a lost 202
    if isinstance(answer, BaseException):
        waiting.answer.set_exception(answer)
    else:
        waiting.answer.set_result(answer)
