"""The email job: one notification, one email, sent by an engine worker off every run's path.

The triggers that create a notification queue this job (pgqueuer) in the same transaction, when the
owner wants emails. The job decides under a lock whether the email is still due (one per workflow
per hour for repeated failures), sends it outside any transaction, and records the outcome. A mail
server that is slow, down or refusing costs retries with backoff and log lines, never a run.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta

from pgqueuer.errors import RetryRequested
from pgqueuer.models import Job

from autofy.db.engine import Database
from autofy.notifications import repository
from autofy.notifications.mail import Mailer, SendFailure, compose
from autofy.notifications.service import word

SEND_NOTIFICATION_EMAIL = "autofy.send_notification_email"  # as queued by migration 0012's SQL
EMAIL_CONCURRENCY = 2  # email jobs in flight at once, over all workers
MAX_SEND_ATTEMPTS = 6
FIRST_RETRY_DELAY = timedelta(seconds=30)  # then 1, 2, 4, 8 minutes: about half an hour in all

logger = logging.getLogger(__name__)


def _notification_id(payload: bytes | None) -> uuid.UUID:
    if payload is None:
        raise ValueError("a notification email job without a payload")
    return uuid.UUID(json.loads(payload)["notification_id"])


class NotificationEmails:
    """Runs `autofy.send_notification_email` jobs; `mailer` is None when no mail server is set."""

    def __init__(self, database: Database, mailer: Mailer | None, public_url: str) -> None:
        self.database = database
        self.mailer = mailer
        self.public_url = public_url

    async def run(self, job: Job) -> None:
        notification_id = _notification_id(job.payload)
        # Notifications are written by the service role only, and this job spans no user's session.
        async with self.database.service_session() as session:
            claimed = await repository.claim_email(session, notification_id)
            if claimed is None or claimed.email_status not in ("queued", "sending"):
                return  # pruned, or already settled by an earlier delivery of this job
            if self.mailer is None:
                await repository.set_email_status(session, notification_id, "skipped")
                return
            batched = claimed.kind == "execution_failed"
            if batched:
                await repository.lock_subject(session, claimed.user_id, claimed.subject_id)
                if await repository.emailed_within_the_hour(session, claimed):
                    await repository.set_email_status(session, notification_id, "batched")
                    return
            await repository.set_email_status(session, notification_id, "sending")
        message = compose(
            word(claimed.kind, claimed.details or {}),
            sender=self.mailer.sender,
            recipient=claimed.email,
            public_url=self.public_url,
            batched=batched,
        )
        try:
            await self.mailer.send(message)
        except SendFailure as error:
            await self._failed(job, notification_id, error)
            return
        async with self.database.service_session() as session:
            await repository.set_email_status(session, notification_id, "sent")

    async def _failed(self, job: Job, notification_id: uuid.UUID, error: BaseException) -> None:
        if job.attempts + 1 < MAX_SEND_ATTEMPTS:
            delay = FIRST_RETRY_DELAY * 2**job.attempts
            logger.warning(
                "notification email %s not sent (%r); retrying in %.0f s",
                notification_id,
                error,
                delay.total_seconds(),
            )
            raise RetryRequested(delay=delay, reason=type(error).__name__) from error
        logger.error(
            "notification email %s not sent after %d attempts (%r); giving up",
            notification_id,
            MAX_SEND_ATTEMPTS,
            error,
        )
        async with self.database.service_session() as session:
            await repository.set_email_status(session, notification_id, "failed")
