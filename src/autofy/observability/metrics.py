"""Prometheus metrics: one registry, every metric declared here so names stay consistent."""

from __future__ import annotations

import logging
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REGISTRY = CollectorRegistry(auto_describe=True)
access_log = logging.getLogger("autofy.access")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

http_requests = Counter(
    "autofy_http_requests_total",
    "HTTP requests answered, by route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
http_request_duration = Histogram(
    "autofy_http_request_duration_seconds",
    "HTTP request latency, by route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
executions_started = Counter(
    "autofy_executions_started_total",
    "Executions started, by trigger type.",
    ["trigger_type"],
    registry=REGISTRY,
)
executions_finished = Counter(
    "autofy_executions_finished_total",
    "Executions finished, by trigger type and final status (completed, failed, cancelled).",
    ["trigger_type", "status"],
    registry=REGISTRY,
)
step_duration = Histogram(
    "autofy_step_duration_seconds",
    "Step run time, by service, action and outcome.",
    ["service", "action", "status"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
step_retries = Counter(
    "autofy_step_retries_total",
    "Step attempts scheduled again after a transient failure.",
    ["service", "action"],
    registry=REGISTRY,
)
queue_depth = Gauge(
    "autofy_queue_depth",
    "Jobs waiting in the queue (refreshed on each scrape).",
    registry=REGISTRY,
)
queue_lag = Gauge(
    "autofy_queue_oldest_job_age_seconds",
    "Age of the oldest job waiting to run (refreshed on each scrape).",
    registry=REGISTRY,
)
scheduler_lateness = Histogram(
    "autofy_scheduler_lateness_seconds",
    "How late scheduled slots fired, relative to their due time.",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900),
    registry=REGISTRY,
)
webhook_batch_size = Histogram(
    "autofy_webhook_batch_size",
    "Webhook deliveries looked up and started in one transaction (they arrived together).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
    registry=REGISTRY,
)
webhook_rejections = Counter(
    "autofy_webhook_rejections_total",
    "Webhook deliveries refused, by reason (unknown, inactive, signature, too_large, credits, …).",
    ["reason"],
    registry=REGISTRY,
)


def render() -> bytes:
    return generate_latest(REGISTRY)


class HttpRequestsMiddleware:
    """Counts, times and logs every HTTP request under its route template
    (`/api/v1/workflows/{workflow_id}`), never the raw path: ids do not explode the number of
    series, and capability URLs (`/hooks/<token>`) and OAuth codes never reach the logs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            elapsed = time.perf_counter() - started
            http_requests.labels(method, template, str(status)).inc()
            http_request_duration.labels(method, template).observe(elapsed)
            access_log.info("%s %s %d %.1fms", method, template, status, elapsed * 1000)
