"""The embedded PostgreSQL: start, stop, restart with data kept, and recovery after `kill -9`."""

from __future__ import annotations

import asyncio
import json
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
