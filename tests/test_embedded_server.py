"""The embedded PostgreSQL: start, stop, restart with data kept, recovery after `kill -9`, and the
settings it runs with."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest

from autofy.db import migrate
from autofy.db.embedded import HANDLE_PIDS_FILE, EmbeddedPostgres


@pytest.fixture
def data_dir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="autofy-embedded-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _postmaster_pid(data_dir: Path) -> int | None:
    pid_file = data_dir / "pg" / "postmaster.pid"
    if not pid_file.exists():
        return None
    return int(pid_file.read_text().splitlines()[0])


def _server_running(data_dir: Path) -> bool:
    pid = _postmaster_pid(data_dir)
    return pid is not None and psutil.pid_exists(pid)


async def _execute(url: str, *statements: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(url)
    try:
        rows: list[asyncpg.Record] = []
        for statement in statements:
            rows = await connection.fetch(statement)
        return rows
    finally:
        await connection.close()


def test_restart_keeps_data_and_stop_stops_the_server(data_dir: Path) -> None:
    server = EmbeddedPostgres(data_dir)
    url = server.start()
    asyncio.run(_execute(url, "create table kept (note text)", "insert into kept values ('hello')"))
    server.stop()
    assert not _server_running(data_dir)

    again = EmbeddedPostgres(data_dir)
    url = again.start()
    try:
        rows = asyncio.run(_execute(url, "select note from kept"))
        assert [row["note"] for row in rows] == ["hello"]
    finally:
        again.stop()
    assert not _server_running(data_dir)


def test_start_after_the_previous_owner_was_killed(data_dir: Path) -> None:
    owner_script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from autofy.db.embedded import EmbeddedPostgres\n"
        "EmbeddedPostgres(Path(sys.argv[1])).start()\n"
        "print('started', flush=True)\n"
        "time.sleep(600)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", owner_script, str(data_dir)], stdout=subprocess.PIPE, text=True
    ) as owner:
        try:
            assert owner.stdout is not None
            assert owner.stdout.readline().strip() == "started"
        finally:
            owner.send_signal(signal.SIGKILL)
            owner.wait()
    handles = data_dir / "pg" / HANDLE_PIDS_FILE
    assert owner.pid in json.loads(handles.read_text())  # the killed owner never left

    server = EmbeddedPostgres(data_dir)
    url = server.start()
    assert asyncio.run(_execute(url, "select 1 as one"))[0]["one"] == 1
    assert json.loads(handles.read_text()) == [os.getpid()]
    server.stop()
    # Without clearing the dead owner's pid the server would be left running forever.
    assert not _server_running(data_dir)


def _setting(url: str, name: str) -> str:
    return str(asyncio.run(_execute(url, f"show {name}"))[0][name])


def test_autofys_settings_apply_at_every_start_and_an_operators_alter_system_wins(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="autofy.db.migrate")
    server = EmbeddedPostgres(data_dir)
    url = server.start()
    try:
        # The run queue's table is vacuumed every few seconds, not once a minute.
        assert _setting(url, "autovacuum_naptime") == "5s"
        asyncio.run(migrate.check_server(url))
        assert caplog.records == []

        # An operator's ALTER SYSTEM outlasts restarts; Autofy's block is rewritten, not repeated.
        asyncio.run(_execute(url, "alter system set autovacuum_naptime = '60s'"))
        server.restart()
        config = data_dir / "pg" / "postgresql.conf"
        block = "# --- Autofy's settings"
        assert config.read_text().count(block) == 1
        server.stop()
        server = EmbeddedPostgres(data_dir)
        url = server.start()
        assert config.read_text().count(block) == 1
        assert _setting(url, "autovacuum_naptime") == "1min"
        # ... and is told what it costs.
        asyncio.run(migrate.check_server(url))
        assert "vacuums a database at most every 60 s" in caplog.text
        assert "Set autovacuum_naptime = '5s' on that server" in caplog.text

        caplog.clear()
        asyncio.run(_execute(url, "alter system set autovacuum = off"))
        server.restart()
        asyncio.run(migrate.check_server(url))
        assert "autovacuum is off" in caplog.text
        assert "Turn it on, with autovacuum_naptime = '5s'" in caplog.text
    finally:
        server.stop()
