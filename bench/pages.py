"""Server time of the web app's main pages for an account with many workflows and runs.

    python -m bench.pages                               # embedded PostgreSQL in a temporary folder
    python -m bench.pages --workflows 1000 --runs 100000 --requests 200
    AUTOFY_DATABASE_URL=postgresql://… python -m bench.pages

Signs up one account through the sign-up page, bulk-inserts `--workflows` workflows (two steps
each) and `--runs` runs over the past 30 days into it with SQL, then asks the app in-process
(ASGI, no network) for each page of PAGES `--requests` times, one request at a time and the pages
in turn, after a warm-up, and prints p50/p95 per page in milliseconds. Target: p95 under 50 ms
for every page. Add a page to PAGES to measure it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import statistics
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

import asyncpg
import httpx
from pydantic import SecretStr

from autofy.app import create_app
from autofy.config import Settings
from autofy.runtime import generate_encryption_key
from bench.database import migrated_database

BASE_URL = "http://bench.test"
# A fresh strong password each time: the account only lives as long as the run.
PASSWORD = f"Bench-{secrets.token_urlsafe(12)}-9"
WARM_UP = 10
TARGET_P95_MS = 50.0


@dataclass(frozen=True)
class Account:
    user_id: uuid.UUID
    workflow_id: uuid.UUID  # one workflow with runs of every status
    execution_id: uuid.UUID  # one finished run of it


# The pages measured, in one place: name → path for the account's data.
PAGES: dict[str, Callable[[Account], str]] = {
    "home": lambda account: "/",
    "workflows list": lambda account: "/workflows",
    "a workflow": lambda account: f"/workflows/{account.workflow_id}",
    "runs list": lambda account: "/runs",
    "runs, failed": lambda account: "/runs?status=failed",
    "runs, one workflow": lambda account: f"/runs?workflow={account.workflow_id}",
    "runs, past hour": lambda account: "/runs?period=hour",
    "a run": lambda account: f"/runs/{account.execution_id}",
    "integrations": lambda account: "/integrations",
    "templates": lambda account: "/templates",
}


async def insert_data(database_url: str, user_id: uuid.UUID, workflows: int, runs: int) -> Account:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            """insert into public.workflows (user_id, name, description, status, trigger_type, tags,
                 total_executions, created_at, updated_at)
               select $1, 'Workflow ' || lpad(n::text, 5, '0'), 'Bench workflow ' || n,
                 (array['active', 'draft', 'paused'])[1 + n % 3], 'manual', array['bench'],
                 $3 / $2, now() - make_interval(hours => n), now() - make_interval(hours => n)
               from generate_series(1, $2) n""",
            user_id,
            workflows,
            runs,
        )
        await connection.execute(
            """insert into public.workflow_steps (workflow_id, step_order, step_type, service_name,
                 action_name, configuration)
               select w.id, step.step_order, 'action', 'core', step.action_name, step.configuration
               from public.workflows w cross join (values
                 (1, 'set_fields', '{"fields": {"order": "{{ trigger.order }}"}}'::jsonb),
                 (2, 'format_text', '{"operation": "upper", "text": "order {{ steps[1].order }}"}'::jsonb)
               ) as step (step_order, action_name, configuration)
               where w.user_id = $1""",
            user_id,
        )
        # Runs spread evenly over the past 30 days across the workflows; 1 in 10 failed, 1 in 50
        # cancelled, the newest 20 still running.
        await connection.execute(
            """with numbered as (
                  select w.id as workflow_id, row_number() over (order by w.id) - 1 as position
                  from public.workflows w where w.user_id = $1),
                runs as (
                  select n, now() - make_interval(secs => n * 2592000.0 / $3) as started,
                    case when n <= 20 then 'running' when n % 10 = 0 then 'failed'
                         when n % 50 = 1 then 'cancelled' else 'completed' end as status,
                    n % $2 as position
                  from generate_series(1, $3) n)
                insert into public.workflow_executions (workflow_id, user_id, trigger_data,
                  execution_status, started_at, completed_at, duration, total_steps, completed_steps,
                  failed_steps, step_results, error_message, error_step_id, metadata, credits_used)
                select numbered.workflow_id, $1, jsonb_build_object('order', n), status, started,
                  case when status = 'running' then null else started + interval '8 ms' end,
                  case when status = 'running' then null else interval '8 ms' end,
                  2, case when status = 'failed' then 1 else 2 end,
                  case when status = 'failed' then 1 else 0 end,
                  -- both steps' results, as the engine records them
                  jsonb_build_array(
                    jsonb_build_object('step_id', s1.id, 'step_order', 1, 'service_name', 'core', 'action_name',
                      'set_fields', 'status', 'completed', 'attempts', 1, 'started_at', started, 'completed_at', started,
                      'duration_ms', 3, 'input', jsonb_build_object('fields', jsonb_build_object('order', n)),
                      'output', jsonb_build_object('order', n), 'error', null, 'credits', 1),
                    jsonb_build_object('step_id', s2.id, 'step_order', 2, 'service_name', 'core', 'action_name',
                      'format_text', 'status', case when status = 'failed' then 'failed' else 'completed' end,
                      'attempts', 1, 'started_at', started, 'completed_at', started, 'duration_ms', 5,
                      'input', jsonb_build_object('text', 'order ' || n, 'operation', 'upper'),
                      'output', case when status = 'failed' then null else jsonb_build_object('result', 'ORDER ' || n) end,
                      'error', case when status = 'failed' then 'example.com answered 500: try later' end, 'credits', 1)),
                  case when status = 'failed' then 'Step 2 (core/format_text) failed: example.com answered 500' end,
                  case when status = 'failed' then s2.id end,
                  jsonb_build_object('trigger_type', 'manual'), 2
                from runs
                join numbered using (position)
                join public.workflow_steps s1 on s1.workflow_id = numbered.workflow_id and s1.step_order = 1
                join public.workflow_steps s2 on s2.workflow_id = numbered.workflow_id and s2.step_order = 2""",
            user_id,
            workflows,
            runs,
        )
        await connection.execute("analyze")
        row = await connection.fetchrow(
            """select workflow_id, id from public.workflow_executions
               where user_id = $1 and execution_status = 'completed' order by started_at desc limit 1""",
            user_id,
        )
        assert row is not None
        return Account(user_id=user_id, workflow_id=row["workflow_id"], execution_id=row["id"])
    finally:
        await connection.close()


async def sign_up(client: httpx.AsyncClient) -> uuid.UUID:
    """An account through the sign-up page; the client keeps its session cookie."""
    form = await client.get("/signup")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None, "the sign-up page has no CSRF field"
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    signed_up = await client.post(
        "/signup",
        data={"csrf_token": token[1], "email": email, "password": PASSWORD, "full_name": "Bench"},
        headers={"Origin": BASE_URL},
    )
    assert signed_up.status_code == 303, signed_up.text
    token_response = await client.post("/api/v1/auth/signin", json={"email": email, "password": PASSWORD})
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {token_response.json()['access_token']}"}
    )
    return uuid.UUID(me.json()["id"])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def measure(database_url: str, *, workflows: int, runs: int, requests: int) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=database_url,
        jwt_secret=SecretStr("bench-jwt-secret-that-is-long-enough-for-hs256-0123456789"),
        encryption_keys=SecretStr(generate_encryption_key()),
        public_url=BASE_URL,
        log_level="WARNING",
    )
    app = create_app(settings, database_url)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client,
    ):
        user_id = await sign_up(client)
        started = time.perf_counter()
        account = await insert_data(database_url, user_id, workflows, runs)
        print(f"inserted {workflows:,} workflows and {runs:,} runs in {time.perf_counter() - started:.1f} s")
        paths = {name: path_for(account) for name, path_for in PAGES.items()}
        timings: dict[str, list[float]] = {name: [] for name in PAGES}
        # Round-robin over the pages, so a burst of load on a shared machine falls on all of them.
        for attempt in range(WARM_UP + requests):
            for name, path in paths.items():
                before = time.perf_counter()
                response = await client.get(path)
                elapsed = (time.perf_counter() - before) * 1000
                assert response.status_code == 200, f"{path}: {response.status_code}"
                if attempt >= WARM_UP:
                    timings[name].append(elapsed)
        print(f"load average: {' '.join(f'{figure:.1f}' for figure in os.getloadavg())}")
        print(f"{'page':<22}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}  target p95 < {TARGET_P95_MS:g} ms")
        for name, values in timings.items():
            p95 = percentile(values, 0.95)
            verdict = "ok" if p95 < TARGET_P95_MS else "over"
            print(f"{name:<22}{statistics.median(values):>9.1f}{p95:>9.1f}{max(values):>9.1f}  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workflows", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page")
    arguments = parser.parse_args()
    with ExitStack() as stack:
        database_url = migrated_database(stack, "bench_pages")
        asyncio.run(
            measure(
                database_url, workflows=arguments.workflows, runs=arguments.runs, requests=arguments.requests
            )
        )


if __name__ == "__main__":
    main()
