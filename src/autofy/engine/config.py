"""The engine's tunables, with the defaults production runs on (docs/engine.md explains each)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from autofy.config import Settings


@dataclass(frozen=True)
class EngineConfig:
    # Jobs one worker process runs at once (each is one execution advancing).
    concurrency: int = 20
    # Jobs a worker claims per dequeue round trip (at most half the concurrency). pgqueuer also
    # records their ends in groups of this size: fewer, larger statements (docs/performance.md).
    batch_size: int = 20
    # A picked job whose worker has not sent a heartbeat for this long is taken over by another
    # worker: the lease, for a worker that is alive but stuck. pgqueuer beats every lease/2.
    lease: timedelta = timedelta(seconds=30)
    # How often a worker confirms its in-flight jobs on its own queue connection (which also
    # keeps jobs alive that a lost connection's pgqueuer can no longer beat for) and hands back
    # picked jobs none of its tasks runs. At most half the lease.
    heartbeat: timedelta = timedelta(seconds=10)
    # How often a worker looks for dead workers (their session lock gone) and takes over their jobs.
    takeover_check: timedelta = timedelta(seconds=1)
    # Reconnecting after the database went away: backoff from 0.1 s, doubling, capped here.
    reconnect_max: timedelta = timedelta(seconds=5)
    # On SIGTERM, in-flight steps get this long to finish; the rest are handed back to the queue.
    shutdown_grace: timedelta = timedelta(seconds=20)
    # Retries: full-jitter exponential backoff, base * 2**attempt capped at retry_max_delay.
    retry_base_delay: timedelta = timedelta(seconds=2)
    retry_max_delay: timedelta = timedelta(minutes=10)
    # Consecutive side-effect-free built-in steps run in the job that reached them instead of one
    # job each (measured in docs/engine.md). False runs every step as its own job.
    chain_instant_steps: bool = True
    # How often a worker looks for running executions whose job vanished, and re-queues them.
    sweep_interval: timedelta = timedelta(seconds=30)
    # A job that fails for reasons outside the workflow (database unreachable) is retried this
    # many times before the execution is recorded as failed.
    max_internal_retries: int = 5

    def __post_init__(self) -> None:
        if self.heartbeat * 2 > self.lease:
            raise ValueError(
                f"the heartbeat ({self.heartbeat}) must be at most half the lease ({self.lease})"
            )

    @property
    def takeover_grace(self) -> timedelta:
        """After the database server (re)starts, how long its workers get to reconnect and take
        their locks again before a free lock counts as a dead worker."""
        return 3 * self.reconnect_max

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineConfig:
        return cls(
            concurrency=settings.worker_concurrency,
            lease=timedelta(seconds=settings.worker_lease_seconds),
            heartbeat=timedelta(seconds=settings.worker_heartbeat_seconds),
            takeover_check=timedelta(seconds=settings.worker_takeover_check_seconds),
            reconnect_max=timedelta(seconds=settings.worker_reconnect_max_seconds),
            shutdown_grace=timedelta(seconds=settings.worker_shutdown_grace_seconds),
        )
