"""Open-loop, constant-rate webhook load: a POST at each scheduled time, whatever the answers do.

    python -m bench.open_loop http://127.0.0.1:8766/hooks/TOKEN --rate 300 --seconds 60
    python -m bench.open_loop URL --rate 600 --seconds 60 --honour-retry-after --accepted accepted.tsv

Delivery n is due at start + n / rate. At its time it goes out on an idle keep-alive connection, or
on a new one when none is idle (up to `--max-connections`; past it, deliveries wait for a
connection, and the report counts them). Latency is measured from the time each request was DUE,
not from when it could be sent, so a slow answer is never hidden by the generator waiting for it
(no coordinated omission).

The client is a minimal HTTP/1.1 one on asyncio Protocols under uvloop: the requests are encoded
before the clock starts, and an answer is parsed only as far as its status, Content-Length,
Retry-After and Connection headers and its body. It runs in a process of its own and reports its
own CPU, so that what it costs can be told apart from the server's (bench.webhook_load runs it).

With `--honour-retry-after` it behaves as docs/triggers.md asks a sender to: every delivery carries
an `Idempotency-Key`, and a 503/429 with `Retry-After: s` (or a connection lost before an answer)
sends the same delivery again s seconds later, until it is accepted or `--give-up-after` passes.
Without it, a refused delivery is counted and dropped.

Prints one JSON document; `--accepted FILE` also writes one line per 202: execution id, the Unix
time of the answer, the delivery's Idempotency-Key (or "-").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import resource
import secrets
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import uvloop

DRAIN_SECONDS = 30  # how long answers are awaited after the last send (without retries)
LOST_CONNECTION_RETRY_SECONDS = 1.0


@dataclass
class Delivery:
    number: int
    request: bytes
    key: str | None
    first_due: float  # time.monotonic() the delivery was first due
    due: float = 0.0  # time.monotonic() the current attempt was due (uvloop's clock ticks in ms)
    attempts: int = 0


@dataclass
class Figures:
    """What the answers said; latencies in ms from the attempt's due time."""

    statuses: Counter[int] = field(default_factory=Counter)
    accepted_ms: list[float] = field(default_factory=list)  # 202, from the attempt's due time
    delivered_ms: list[float] = field(default_factory=list)  # 202, from the delivery's first due time
    attempts_per_accepted: list[float] = field(default_factory=list)
    refused_ms: list[float] = field(default_factory=list)  # 503/429
    refusals_with_retry_after: Counter[str] = field(default_factory=Counter)
    refusals_without_retry_after: int = 0
    send_lag_ms: list[float] = field(default_factory=list)
    lost_connections: int = 0
    connect_errors: int = 0
    waited_for_connection: int = 0
    accepted: list[tuple[str, float, str]] = field(default_factory=list)  # id, unix time, key


@dataclass
class Answer:
    status: int
    retry_after: str | None
    body: bytes


def parse_head(head: bytes) -> tuple[int, int, str | None, bool]:
    """Status, Content-Length, Retry-After, and whether the server closes the connection."""
    lines = head.split(b"\r\n")
    status = int(lines[0][9:12])
    length, retry_after, closing = 0, None, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"retry-after":
            retry_after = value.strip().decode()
        elif name == b"connection":
            closing = value.strip().lower() == b"close"
    return status, length, retry_after, closing


class Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self, generator: OpenLoop) -> None:
        self.generator = generator
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.delivery: Delivery | None = None
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def send(self, delivery: Delivery) -> None:
        assert self.transport is not None
        self.delivery = delivery
        self.transport.write(delivery.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        status, length, retry_after, closing = parse_head(bytes(self.buffer[:end]))
        if len(self.buffer) < end + 4 + length:
            return
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        delivery, self.delivery = self.delivery, None
        self.closing = closing
        assert delivery is not None, "an answer to no request"
        self.generator.answered(self, delivery, Answer(status, retry_after, body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.generator.lost(self, self.delivery)
        self.delivery = None


class OpenLoop:
    def __init__(self, arguments: argparse.Namespace) -> None:
        parts = urlsplit(arguments.url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.rate: float = arguments.rate
        self.seconds: float = arguments.seconds
        self.honour_retry_after: bool = arguments.honour_retry_after
        self.give_up_after: float = arguments.give_up_after
        self.max_connections: int = arguments.max_connections
        self.loop = asyncio.get_running_loop()
        self.idle: list[Connection] = []
        self.open_connections = 0
        self.peak_connections = 0
        self.waiting: deque[Delivery] = deque()  # due while every connection was busy
        self.outstanding = 0  # deliveries not settled yet (accepted, refused for good, failed, given up)
        self.retry_handles: set[asyncio.TimerHandle] = set()
        self.connecting: set[asyncio.Task[None]] = set()
        self.given_up = 0
        self.figures = Figures()
        self.done = asyncio.Event()
        self.sending = True

    def encode(self, number: int, key: str | None) -> bytes:
        body = json.dumps({"customer": "ada@example.com", "n": number}).encode()
        headers = [
            f"POST {self.path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
        ]
        if key is not None:
            headers.append(f"Idempotency-Key: {key}")
        return ("\r\n".join(headers) + "\r\n\r\n").encode() + body

    async def run(self) -> dict[str, Any]:
        total = math.floor(self.rate * self.seconds)
        prefix = secrets.token_hex(4)
        keys = [f"{prefix}-{n}" if self.honour_retry_after else None for n in range(total)]
        deliveries = [Delivery(n, self.encode(n, key), key, 0.0) for n, key in enumerate(keys)]
        self.outstanding = total
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        start = time.monotonic() + 0.05
        wall_start = time.time() + (start - time.monotonic())
        for delivery in deliveries:
            delivery.first_due = delivery.due = start + delivery.number / self.rate
            delay = delivery.due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.dispatch(delivery)
        sent_all = time.monotonic()
        self.sending = False
        deadline = DRAIN_SECONDS + (self.give_up_after if self.honour_retry_after else 0)
        if self.outstanding:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.done.wait(), deadline)
        finished = time.monotonic()
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        for handle in self.retry_handles:
            handle.cancel()
        for connection in self.idle:
            assert connection.transport is not None
            connection.transport.close()
        cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
        return self.report(total, wall_start, sent_all - start, finished - start, cpu, prefix)

    def dispatch(self, delivery: Delivery) -> None:
        """Send an attempt now: on an idle connection, on a new one, or queued past the cap."""
        delivery.attempts += 1
        if self.idle:
            self.send(self.idle.pop(), delivery)
        elif self.open_connections < self.max_connections:
            self.open_connection(delivery)
        else:
            self.figures.waited_for_connection += 1
            self.waiting.append(delivery)

    def open_connection(self, delivery: Delivery) -> None:
        self.open_connections += 1
        self.peak_connections = max(self.peak_connections, self.open_connections)
        task = self.loop.create_task(self.connect(delivery))
        self.connecting.add(task)
        task.add_done_callback(self.connecting.discard)

    async def connect(self, delivery: Delivery) -> None:
        try:
            _, connection = await self.loop.create_connection(lambda: Connection(self), self.host, self.port)
        except OSError:
            self.open_connections -= 1
            self.figures.connect_errors += 1
            self.failed(delivery)
            return
        self.send(connection, delivery)

    def send(self, connection: Connection, delivery: Delivery) -> None:
        self.figures.send_lag_ms.append((time.monotonic() - delivery.due) * 1000)
        connection.send(delivery)

    def released(self, connection: Connection) -> None:
        if connection.closing:
            assert connection.transport is not None
            connection.transport.close()  # lost() then counts it out
        elif self.waiting:
            self.send(connection, self.waiting.popleft())
        else:
            self.idle.append(connection)

    def answered(self, connection: Connection, delivery: Delivery, answer: Answer) -> None:
        now = time.monotonic()
        figures = self.figures
        figures.statuses[answer.status] += 1
        if answer.status == 202:
            figures.accepted_ms.append((now - delivery.due) * 1000)
            figures.delivered_ms.append((now - delivery.first_due) * 1000)
            figures.attempts_per_accepted.append(delivery.attempts)
            execution_id = json.loads(answer.body)["execution_id"]
            figures.accepted.append((execution_id, time.time(), delivery.key or "-"))
            self.settled()
        elif answer.status in (429, 503):
            figures.refused_ms.append((now - delivery.due) * 1000)
            if answer.retry_after is None:
                figures.refusals_without_retry_after += 1
            else:
                figures.refusals_with_retry_after[answer.retry_after] += 1
            if self.honour_retry_after and answer.retry_after is not None and answer.retry_after.isdigit():
                self.retry(delivery, float(answer.retry_after))
            else:
                self.settled()
        else:
            self.settled()
        self.released(connection)

    def lost(self, connection: Connection, delivery: Delivery | None) -> None:
        self.open_connections -= 1
        if connection in self.idle:
            self.idle.remove(connection)
        if delivery is not None:
            self.figures.lost_connections += 1
            self.failed(delivery)
        if self.waiting and self.open_connections < self.max_connections:
            self.open_connection(self.waiting.popleft())

    def failed(self, delivery: Delivery) -> None:
        if self.honour_retry_after:
            self.retry(delivery, LOST_CONNECTION_RETRY_SECONDS)
        else:
            self.settled()

    def retry(self, delivery: Delivery, delay: float) -> None:
        if time.monotonic() + delay - delivery.first_due > self.give_up_after:
            self.given_up += 1
            self.settled()
            return
        delivery.due = time.monotonic() + delay

        def again() -> None:
            self.retry_handles.discard(handle)
            self.dispatch(delivery)

        handle = self.loop.call_later(delay, again)
        self.retry_handles.add(handle)

    def settled(self) -> None:
        self.outstanding -= 1
        if not self.outstanding and not self.sending:
            self.done.set()

    def report(
        self, total: int, wall_start: float, sending: float, finished: float, cpu: float, prefix: str
    ) -> dict[str, Any]:
        figures = self.figures
        attempts = sum(figures.statuses.values()) + figures.lost_connections + figures.connect_errors
        return {
            "offered_rate": self.rate,
            "seconds": self.seconds,
            "started_at": round(wall_start, 3),
            "honour_retry_after": self.honour_retry_after,
            "idempotency_key_prefix": prefix if self.honour_retry_after else None,
            "deliveries": total,
            "attempts": attempts,
            "statuses": {str(status): count for status, count in sorted(figures.statuses.items())},
            "accepted": figures.statuses[202],
            "unanswered_at_end": self.outstanding,
            "given_up": self.given_up,
            "refusals_with_retry_after": dict(figures.refusals_with_retry_after),
            "refusals_without_retry_after": figures.refusals_without_retry_after,
            "lost_connections": figures.lost_connections,
            "connect_errors": figures.connect_errors,
            "ack_ms": summary(figures.accepted_ms),
            "delivered_ms": summary(figures.delivered_ms) if self.honour_retry_after else None,
            "attempts_per_accepted_delivery": summary(figures.attempts_per_accepted)
            if self.honour_retry_after
            else None,
            "refused_ms": summary(figures.refused_ms),
            "send_lag_ms": summary(figures.send_lag_ms),
            "connections": {
                "peak": self.peak_connections,
                "cap": self.max_connections,
                "sends_that_waited_at_cap": figures.waited_for_connection,
            },
            "sending_seconds": round(sending, 2),
            "finished_after_seconds": round(finished, 2),
            "generator_cpu_seconds": round(cpu, 2),
            "generator_cpu_us_per_attempt": round(cpu / attempts * 1e6, 1) if attempts else None,
        }


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summary(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    return {
        "p50": round(percentile(ordered, 0.50), 2),
        "p90": round(percentile(ordered, 0.90), 2),
        "p99": round(percentile(ordered, 0.99), 2),
        "p99_9": round(percentile(ordered, 0.999), 2),
        "max": round(ordered[-1], 2),
        "count": len(ordered),
    }


async def generate(arguments: argparse.Namespace) -> tuple[dict[str, Any], list[tuple[str, float, str]]]:
    generator = OpenLoop(arguments)
    report = await generator.run()
    return report, generator.figures.accepted


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, required=True, help="deliveries per second")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--max-connections", type=int, default=1000)
    parser.add_argument(
        "--honour-retry-after",
        action="store_true",
        help="send an Idempotency-Key and send a refused delivery again after Retry-After",
    )
    parser.add_argument(
        "--give-up-after",
        type=float,
        default=300,
        help="with --honour-retry-after: seconds after its first attempt a delivery is given up",
    )
    parser.add_argument("--accepted", type=Path, help="write one line per 202: id, unix time, key")
    arguments = parser.parse_args()
    report, accepted = uvloop.run(generate(arguments))
    if arguments.accepted is not None:
        arguments.accepted.write_text("".join(f"{i}\t{at:.6f}\t{key}\n" for i, at, key in accepted))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
