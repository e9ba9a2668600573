"""The `autofy` command as an operator runs it: real processes, real databases."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from autofy.db import migrate
from tests.support import database_url_with_name


def autofy(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autofy", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        check=False,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_database_is_one_clear_line_and_exit_1() -> None:
    closed_port = _free_port()
    result = autofy(
        "db", "upgrade", env={"AUTOFY_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{closed_port}/x"}
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: cannot connect to PostgreSQL at 127.0.0.1")
    assert "AUTOFY_DATABASE_URL" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.fixture
def database_without_pgvector(postgres_server_url: str) -> Iterator[str]:
    """A database on which the vector extension is not installed and cannot be (PostgreSQL 18+)."""
    name = f"autofy_novector_{uuid.uuid4().hex[:8]}"

    async def admin(*statements: str) -> None:
        connection = await asyncpg.connect(postgres_server_url)
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(
        admin(
            f"create database {name}",
            f"alter database {name} set extension_control_path = '/nonexistent'",
        )
    )
    yield database_url_with_name(postgres_server_url, name)
    asyncio.run(admin(f"drop database {name} with (force)"))


def test_database_without_pgvector_is_one_clear_line_and_exit_1(database_without_pgvector: str) -> None:
    result = autofy("db", "upgrade", env={"AUTOFY_DATABASE_URL": database_without_pgvector})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "does not have the pgvector extension" in lines[0]
    assert "Traceback" not in result.stderr


def test_db_upgrade_status_downgrade(empty_database_url: str) -> None:
    env = {"AUTOFY_DATABASE_URL": empty_database_url}
    status = autofy("db", "status", env=env)
    assert status.returncode == 0, status.stderr
    assert "current: base (empty)" in status.stdout
    assert "needs `autofy db upgrade`" in status.stdout

    upgraded = autofy("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    head = migrate.head_revision()
    assert f"schema at {head}" in upgraded.stdout
    assert "up to date" in autofy("db", "status", env=env).stdout

    again = autofy("db", "upgrade", env=env)
    assert again.returncode == 0, again.stderr

    downgraded = autofy("db", "downgrade", "base", env=env)
    assert downgraded.returncode == 0, downgraded.stderr
    assert "schema at base (empty)" in downgraded.stdout


@pytest.fixture
def serve_data_dir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="autofy-serve-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_serve_on_the_embedded_database_answers_health_and_stops_cleanly(serve_data_dir: Path) -> None:
    port = _free_port()
    env = {**os.environ, "AUTOFY_DATA_DIR": str(serve_data_dir), "AUTOFY_PORT": str(port)}
    env.pop("AUTOFY_DATABASE_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "autofy", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        health = _wait_for_health(f"http://127.0.0.1:{port}/health", server)
        assert health["status"] == "ok"
        assert health["database"] == "ok"
        assert health["schema_version"] == migrate.head_revision()
        assert (serve_data_dir / "secrets.json").stat().st_mode & 0o777 == 0o600
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=60)
    assert server.returncode == 0, output
    assert not (serve_data_dir / "pg" / "postmaster.pid").exists(), "the embedded PostgreSQL was left running"
    # Quiet start-up: one log line per part, none of the libraries' chatter at INFO.
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    records = [r for r in records if r["logger"] != "autofy.access"]  # the test's /health requests
    assert [(r["logger"], r["message"].split(":", 1)[0]) for r in records] == [
        ("autofy", "database"),
        ("autofy", "migrations"),
        ("autofy", "api"),
        ("autofy", "workers"),
        ("autofy", "scheduler"),
    ], output


def _wait_for_health(url: str, server: subprocess.Popen[str]) -> dict[str, object]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(
                f"autofy serve exited early:\n{server.stdout.read() if server.stdout else ''}"
            )
        try:
            response = httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)  # polling a starting process: nothing to wait on but time
            continue
        body: dict[str, object] = response.json()
        return body
    raise AssertionError("autofy serve did not answer /health in time")
