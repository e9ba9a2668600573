"""Admission control for webhook deliveries: take only what can be finished, refuse the rest at once.

Two bounds, both answered with `503 Service Unavailable` and a `Retry-After` header before the
body is read or anything is written (so a refused delivery is never half-recorded, and the sender's
retry is the delivery). The check is the app's outermost middleware: under overload most requests
are refused, and a refusal must cost next to nothing, or refusing would take the CPU the runs need.
- deliveries being worked on at once by this API process (`AUTOFY_WEBHOOK_MAX_IN_FLIGHT`): past it,
  more requests would only wait for a database connection, holding memory and inflating everyone's
  latency;
- runs waiting on the queue for a worker (`AUTOFY_WEBHOOK_MAX_BACKLOG`, sampled every
  `BACKLOG_CHECK_SECONDS`): past it, accepting more than the workers finish would grow the backlog
  for as long as the load lasts. With it, what is acknowledged is what gets run, within the bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import text
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from autofy.db.engine import Database, database_unavailable
from autofy.errors import OverloadedError, error_body
from autofy.input_guard import WEBHOOK_PATH_PREFIX
from autofy.observability import metrics

logger = logging.getLogger(__name__)

BACKLOG_CHECK_SECONDS = 0.25
# A busy moment passes within a second; a backlog takes a few seconds to drain.
BUSY_RETRY_AFTER_SECONDS = 1
BACKLOG_RETRY_AFTER_SECONDS = 5
# Refusals a second past which senders are told to wait longer. Under sustained overload every
# refused delivery comes back after its Retry-After: with a fixed one the retries grow with the
# deliveries waiting, until refusing them takes the CPU the runs need (docs/performance.md §7).
# Each second's refusals scale the next second's wait, so retries settle near this rate (a
# refusal costs ~0.1 ms of the API's CPU: this is a few percent of a core).
REFUSALS_PER_SECOND = 300
MAX_RETRY_AFTER_SECONDS = 120

# Runs due now that no worker has picked yet (delayed steps and retries waiting their turn are not
# backlog). pgqueuer's partial index on queued jobs answers it.
_READY_JOBS = text("select count(*) from pgqueuer where status = 'queued' and execute_after <= now()")


class WebhookAdmission:
    """One per API process (app.state.webhook_admission), checked by WebhookAdmissionMiddleware."""

    def __init__(
        self,
        *,
        max_in_flight: int,
        max_backlog: int,
        clock: Callable[[], float] = time.monotonic,
        spread: Callable[[], float] = random.random,
    ) -> None:
        self.max_in_flight = max_in_flight
        self.max_backlog = max_backlog
        self.in_flight = 0
        self.backlog = 0  # as last sampled
        self._clock = clock
        self._spread = spread  # in [0, 1): where in its window a sender's retry falls
        self._second_began = clock()
        self._refused_this_second = 0
        self._wait_scale = 1.0  # what the waits are multiplied by, from the refusals' rate

    def refusal(self) -> OverloadedError | None:
        """Why one more delivery cannot be taken now, if it cannot."""
        if self.in_flight >= self.max_in_flight:
            wait = self._wait(BUSY_RETRY_AFTER_SECONDS)
            return OverloadedError(
                wait,
                f"Autofy is working on {self.max_in_flight} deliveries already; nothing was recorded. "
                f"Send it again in {wait} s.",
            )
        if self.backlog >= self.max_backlog:
            wait = self._wait(BACKLOG_RETRY_AFTER_SECONDS)
            return OverloadedError(
                wait,
                f"{self.backlog} runs are waiting for a worker; nothing was recorded. "
                f"Send it again in {wait} s.",
            )
        return None

    def _wait(self, least: int) -> int:
        """The Retry-After of one more refusal: `least`, or longer and spread while refusals run
        past REFUSALS_PER_SECOND (the retries of many senders then arrive over the window instead
        of all at once)."""
        now = self._clock()
        elapsed = now - self._second_began
        if elapsed >= 1:
            rate = self._refused_this_second / elapsed
            # Multiplicative: retries settle where the rate meets the budget, whatever the number
            # of deliveries waiting; a quiet second brings the waits back down as fast.
            self._wait_scale = min(
                MAX_RETRY_AFTER_SECONDS, max(1.0, self._wait_scale * rate / REFUSALS_PER_SECOND)
            )
            self._second_began, self._refused_this_second = now, 0
        self._refused_this_second += 1
        if self._wait_scale <= 1:
            return least
        spread = math.ceil(least * self._wait_scale * (0.5 + self._spread()))
        return min(MAX_RETRY_AFTER_SECONDS, max(least, spread))

    @contextmanager
    def holding(self) -> Iterator[None]:
        """A place for one admitted delivery, for as long as it is worked on."""
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1

    async def watch_backlog(self, database: Database) -> None:
        """Sample the queue's backlog until cancelled (the app's lifespan runs it)."""
        while True:
            try:
                async with database.service_session() as session:
                    self.backlog = int(await session.scalar(_READY_JOBS) or 0)
            except Exception as error:
                # Keep the last sample: a database away already answers 503 on its own.
                if not database_unavailable(error):
                    logger.exception("sampling the run queue's backlog failed")
            await asyncio.sleep(BACKLOG_CHECK_SECONDS)


class WebhookAdmissionMiddleware:
    """Admits webhook deliveries (POST/PUT under /hooks/) or answers 503 before any other work."""

    def __init__(self, app: ASGIApp, admission: WebhookAdmission) -> None:
        self.app = app
        self.admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (
            scope["type"] == "http"
            and scope["method"] in ("POST", "PUT")
            and scope["path"].startswith(WEBHOOK_PATH_PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        refusal = self.admission.refusal()
        if refusal is not None:
            metrics.webhook_rejections.labels(refusal.code).inc()
            response = JSONResponse(
                error_body(refusal.code, refusal.message),
                status_code=refusal.status_code,
                headers=refusal.headers,
            )
            await response(scope, receive, send)
            return
        with self.admission.holding():
            await self.app(scope, receive, send)


@contextlib.asynccontextmanager
async def backlog_watched(admission: WebhookAdmission, database: Database) -> AsyncIterator[None]:
    watching = asyncio.create_task(admission.watch_backlog(database))
    try:
        yield
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
