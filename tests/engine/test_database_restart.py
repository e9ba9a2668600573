"""PostgreSQL restarts under running workers and under `autofy serve`: runs continue, the
processes stay up, and a step in flight during the restart is kept, not run again."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from autofy.db import migrate
from autofy.db.embedded import EmbeddedPostgres
from autofy.db.engine import Database, user_claims
from autofy.engine.worker import run_workers
from autofy.runtime import generate_encryption_key
from tests.api_fixtures import DEFAULT_PASSWORD, api_settings_for
from tests.engine.conftest import TEST_ENGINE_CONFIG, TEST_POLICY, wait_finished, wait_until
from tests.engine.steps import http_post, set_fields
from tests.engine.support import create_user
from tests.engine.support import start as start_run
from tests.factories import User, create_workflow
from tests.fakes.engine_effects import EngineEffects
from tests.test_cli import _free_port, _wait_for_health


@dataclass
class RestartableServer:
    """A PostgreSQL of this test's own, since restarting the suite's shared one would cut every
    other fixture's connections."""

    server: EmbeddedPostgres
    url: str


@pytest.fixture
def restartable() -> Iterator[RestartableServer]:
    data_dir = Path(tempfile.mkdtemp(prefix="autofy-restart-"))
    server = EmbeddedPostgres(data_dir)
    try:
        url = server.start()
        migrate.upgrade(url)
        yield RestartableServer(server, url)
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


async def _async(value: bool) -> bool:
    return value


async def test_a_worker_lives_through_a_restart_and_keeps_the_step_in_flight(
    restartable: RestartableServer, effects: EngineEffects
) -> None:
    database = Database(restartable.url, pool_size=2)
    effects.gate = threading.Event()
    # A lease longer than the test: the in-flight step is kept by its worker, not re-run by a
    # takeover after the restart.
    config = dataclasses.replace(TEST_ENGINE_CONFIG, lease=timedelta(seconds=300))
    stop = asyncio.Event()
    worker = asyncio.create_task(
        run_workers(
            restartable.url, api_settings_for(restartable.url), stop, config=config, policy=TEST_POLICY
        )
    )
    try:
        user = await create_user(database)
        workflow = await create_workflow(
            database,
            user,
            steps=[
                http_post(f"{effects.url}/slow-effects/{{{{ execution.id }}}}"),
                set_fields({"seen": "{{ steps[1].body.seen }}"}),
            ],
            status="active",
        )
        in_flight = await start_run(database, workflow)
        await wait_until(
            lambda: _async(bool(effects.requests_to(f"/slow-effects/{in_flight}"))), what="the step to start"
        )

        await asyncio.to_thread(restartable.server.restart)
        effects.gate.set()  # the step's call answers once the server is back
        after = await start_run(database, workflow)

        for execution_id in (in_flight, after):
            row = await wait_finished(database, execution_id, within=60)
            assert row.execution_status == "completed", row.error_message
            assert row.step_results[1]["output"] == {"seen": 1}
        assert effects.effects == {str(in_flight): 1, str(after): 1}
        assert not worker.done(), "the worker ended with the database restart"
    finally:
        effects.gate.set()
        stop.set()
        await asyncio.wait_for(worker, timeout=30)  # and it still stops cleanly
        await database.dispose()


def test_autofy_serve_lives_through_a_restart_and_runs_continue(restartable: RestartableServer) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "AUTOFY_DATABASE_URL": restartable.url,
        "AUTOFY_PORT": str(port),
        "AUTOFY_JWT_SECRET": uuid.uuid4().hex * 2,
        "AUTOFY_ENCRYPTION_KEYS": generate_encryption_key(),
        "AUTOFY_PASSWORD_HASH_MEMORY_KIB": "1024",
        "AUTOFY_PASSWORD_HASH_TIME_COST": "1",
        "AUTOFY_WORKER_RECONNECT_MAX_SECONDS": "0.5",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "autofy", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        assert _wait_for_health(f"{base}/health", server)["status"] == "ok"
        asyncio.run(_runs_continue_across_a_restart(base, restartable))
        assert server.poll() is None, "autofy serve ended with the database restart"
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=60)
    assert server.returncode == 0, output


async def _runs_continue_across_a_restart(base: str, restartable: RestartableServer) -> None:
    database = Database(restartable.url, pool_size=2)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            email = f"restart-{uuid.uuid4().hex[:8]}@example.com"
            signed_up = await http.post(
                "/api/v1/auth/signup", json={"email": email, "password": DEFAULT_PASSWORD}
            )
            assert signed_up.status_code == 201, signed_up.text
            body = signed_up.json()
            user_id = uuid.UUID(body["user"]["id"])
            headers = {"Authorization": f"Bearer {body['access_token']}"}
            user = User(id=user_id, email=email, claims=user_claims(user_id, email))
            workflow = await create_workflow(
                database, user, steps=[set_fields({"n": "{{ trigger.n }}"})], status="active"
            )

            async def run(n: int) -> uuid.UUID:
                response = await http.post(
                    f"/api/v1/workflows/{workflow.id}/run", json={"n": n}, headers=headers
                )
                assert response.status_code == 202, response.text
                return uuid.UUID(response.json()["execution_id"])

            before = await run(1)
            assert (await wait_finished(database, before, within=60)).execution_status == "completed"

            await asyncio.to_thread(restartable.server.restart)

            after = await run(2)
            row = await wait_finished(database, after, within=60)
            assert row.execution_status == "completed", row.error_message
            assert row.step_results[0]["output"] == {"n": 2}
    finally:
        await database.dispose()


async def test_a_worker_on_a_database_without_its_queue_ends_with_the_error(empty_database_url: str) -> None:
    # Waiting cures an outage, not a configuration error: that one ends the process at once.
    await asyncio.to_thread(migrate.upgrade, empty_database_url, "0002_auth_sessions")  # no queue yet
    stop = asyncio.Event()
    with pytest.raises(asyncpg.UndefinedTableError, match="pgqueuer"):
        await asyncio.wait_for(
            run_workers(
                empty_database_url, api_settings_for(empty_database_url), stop, config=TEST_ENGINE_CONFIG
            ),
            timeout=30,
        )
