"""The engine's tunables, with the defaults production runs on (docs/engine.md explains each)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class EngineConfig:
    # Jobs one worker process runs at once (each is one execution advancing).
    concurrency: int = 20
    # Jobs a worker claims per dequeue round trip.
    batch_size: int = 10
    # A picked job whose worker has not sent a heartbeat for this long is taken over by another
    # worker: the lease. Heartbeats go out every lease/2.
    lease: timedelta = timedelta(seconds=30)
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
