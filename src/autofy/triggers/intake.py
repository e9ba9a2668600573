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
handed back, as checked, and started in a transaction of their own (`webhook.start_checked`); a batch that fails is
started again delivery by delivery (`engine.grouping`), so one bad delivery never costs the others
theirs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from autofy.db.engine import Database
from autofy.engine.grouping import Grouped
from autofy.engine.service import StartRequest, start_executions
from autofy.errors import DomainError
from autofy.observability import metrics
from autofy.triggers import repository, webhook
from autofy.triggers.schemas import WebhookIgnored

# A batch is bounded by the deliveries admitted at once (triggers.admission); this is a backstop.
MAX_BATCH: Final = 256


@dataclass(frozen=True)
class _OnItsOwn:
    """The answer for a delivery that needs more than a start: it is started in a transaction of
    its own, as checked in the batch (not looked up and checked again)."""

    checked: webhook.CheckedDelivery


@dataclass(frozen=True)
class _Arrived:
    token: str
    delivery: webhook.Delivery
    now: datetime


class WebhookIntake:
    """One per API process (app.state.webhook_intake), on the app's database."""

    def __init__(self, database: Database) -> None:
        self.database = database
        # A batch that fails as a whole is started again delivery by delivery (engine.grouping).
        self._grouped: Grouped[_Arrived, uuid.UUID | _OnItsOwn] = Grouped(
            self._start_batch, max_group=MAX_BATCH
        )

    async def deliver(
        self, token: str, delivery: webhook.Delivery, *, now: datetime
    ) -> uuid.UUID | WebhookIgnored:
        """What `webhook.deliver` answers for this delivery, committed."""
        answer = await self._grouped(_Arrived(token, delivery, now))
        if isinstance(answer, _OnItsOwn):
            async with self.database.service_session() as session:
                return await webhook.start_checked(session, answer.checked, delivery)
        return answer

    async def _start_batch(self, batch: list[_Arrived]) -> list[uuid.UUID | _OnItsOwn | DomainError]:
        """Each delivery's run id, its refusal (raised to its sender), or `_OnItsOwn`."""
        # Executions are the service's to write; the block commits before anyone is answered.
        async with self.database.service_session(fixed_plans=True) as session:
            targets = await repository.webhook_targets(session, [arrived.token for arrived in batch])
            answers: list[uuid.UUID | _OnItsOwn | DomainError] = []
            starts: dict[int, StartRequest] = {}  # by position in `answers`
            for arrived in batch:
                try:
                    checked = webhook.check_delivery(
                        targets.get(arrived.token), arrived.delivery, arrived.now
                    )
                except DomainError as refused:
                    answers.append(refused)
                    continue
                request = checked.only_a_start
                if request is not None:
                    starts[len(answers)] = request
                answers.append(_OnItsOwn(checked))  # for a run to start, replaced by its answer below
            if starts:
                started = await start_executions(session, list(starts.values()))
                for position, answer in zip(starts, started, strict=True):
                    answers[position] = answer
        metrics.webhook_batch_size.observe(len(batch))
        return answers
