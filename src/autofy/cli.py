"""The `autofy` command.

Each command imports what it needs when it runs: `autofy --help` and `autofy db status` must not
load the web app or the LLM SDKs, and a worker must not load the web app (start-up time is a
worker's recovery time after a crash; figures in docs/performance.md).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import TYPE_CHECKING, Annotated

import typer

from autofy.admin.cli import register_operator_commands
from autofy.runtime import generate_encryption_key, with_secrets
from autofy.terminal import (
    JsonOption,
    console,
    errors,
    friendly_errors,
    print_json,
    progress_counter,
    runtime,
)

if TYPE_CHECKING:
    from autofy.server import Parts

logger = logging.getLogger("autofy")

app = typer.Typer(
    help="Autofy: self-hostable workflow automation.", no_args_is_help=True, add_completion=False
)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
keys_app = typer.Typer(help="Secrets and credential encryption keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
register_operator_commands(app)


def _upgrade(database_url: str, revision: str = "head") -> list[str]:
    """Apply the migrations; the ids of those applied."""
    from autofy.db import migrate

    applied: list[str] = []
    with progress_counter("migrating", unit="revisions") as advance:

        def on_step(revision_id: str) -> None:
            applied.append(revision_id)
            advance(1)

        migrate.upgrade(database_url, revision, on_step=on_step)
    return applied


def _run_parts(host: str | None, port: int | None, parts: Parts) -> None:
    import uvloop

    from autofy import server
    from autofy.db import migrate

    with runtime() as opened:
        where = (
            f"embedded PostgreSQL in {opened.embedded.pgdata}"
            if opened.embedded
            else migrate.describe_server(opened.database_url)
        )
        logger.info("database: %s", where)
        applied = _upgrade(opened.database_url)
        logger.info("migrations: schema at %s (%d applied now)", migrate.head_revision(), len(applied))
        overrides = {key: value for key, value in (("host", host), ("port", port)) if value is not None}
        settings = with_secrets(opened.settings).model_copy(update=overrides)
        # One line per part (ARCHITECTURE: quiet start-up); the libraries' own lines are DEBUG.
        if parts.api:
            logger.info("api: http://%s:%d", settings.host, settings.port)
            database = "embedded" if opened.embedded else where
            console.print(f"Autofy on http://{settings.host}:{settings.port} (database: {database})")
        if parts.workers:
            logger.info("workers: up to %d jobs at a time", settings.worker_concurrency)
        if parts.scheduler:
            logger.info("scheduler: schedules, email polling, health checks, pruning")
        # uvloop (uvicorn[standard] brings it): asyncpg's round trips and the HTTP server's I/O
        # cost less on it than on asyncio's default loop.
        uvloop.run(server.run(settings, opened.database_url, parts))


def _parts(*, api: bool = True, workers: bool = True, scheduler: bool = True) -> Parts:
    from autofy.server import Parts

    return Parts(api=api, workers=workers, scheduler=scheduler)


HostOption = Annotated[str | None, typer.Option(help="Overrides AUTOFY_HOST.")]
PortOption = Annotated[int | None, typer.Option(help="Overrides AUTOFY_PORT.")]


@app.command()
@friendly_errors
def serve(host: HostOption = None, port: PortOption = None) -> None:
    """Run everything: the database (embedded unless AUTOFY_DATABASE_URL is set), API, workers, scheduler."""
    _run_parts(host, port, _parts())


@app.command()
@friendly_errors
def api(host: HostOption = None, port: PortOption = None) -> None:
    """Run the HTTP API alone (start workers and a scheduler elsewhere)."""
    _run_parts(host, port, _parts(workers=False, scheduler=False))


@app.command()
@friendly_errors
def worker() -> None:
    """Run engine workers alone: they run executions' steps (any number may run at once)."""
    _run_parts(None, None, _parts(api=False, scheduler=False))


@app.command()
@friendly_errors
def scheduler() -> None:
    """Run the scheduler alone: fire schedules and poll for new email (any number may run at once)."""
    _run_parts(None, None, _parts(api=False, workers=False))


@db_app.command("upgrade")
@friendly_errors
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply migrations up to REVISION (default: the newest). Safe to run again."""
    from autofy.db import migrate

    with runtime() as opened:
        _upgrade(opened.database_url, revision)
        status = asyncio.run(migrate.schema_status(opened.database_url))
        console.print(f"schema at {status.current}")


@db_app.command("downgrade")
@friendly_errors
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision; `base` removes everything.")],
) -> None:
    """Revert migrations down to REVISION."""
    from autofy.db import migrate

    with runtime() as opened:
        migrate.downgrade(opened.database_url, revision)
        status = asyncio.run(migrate.schema_status(opened.database_url))
        console.print(f"schema at {status.current or 'base (empty)'}")


@db_app.command("status")
@friendly_errors
def db_status(as_json: JsonOption = False) -> None:
    """Show the schema revision of the database and the newest one this Autofy ships."""
    from autofy.db import migrate

    with runtime() as opened:
        asyncio.run(migrate.check_server(opened.database_url))
        status = asyncio.run(migrate.schema_status(opened.database_url))
    if as_json:
        print_json({"current": status.current, "head": status.head, "up_to_date": status.up_to_date})
        return
    state = "up to date" if status.up_to_date else "needs `autofy db upgrade`"
    console.print(f"current: {status.current or 'base (empty)'}\nhead:    {status.head}\n{state}")


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new JWT secret and encryption key as shell exports: eval "$(autofy keys generate)"."""
    # Plain lines, never wrapped or styled: a shell evaluates them.
    typer.echo(f"export AUTOFY_JWT_SECRET={secrets.token_urlsafe(48)}")
    typer.echo(f"export AUTOFY_ENCRYPTION_KEYS={generate_encryption_key()}")


@keys_app.command("rotate")
@friendly_errors
def keys_rotate(
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Rows per transaction.")] = 200,
) -> None:
    """Re-encrypt every integration credential under the first key of AUTOFY_ENCRYPTION_KEYS.

    To rotate: put a new key first in AUTOFY_ENCRYPTION_KEYS and keep the old ones after it,
    restart Autofy, run this, then remove the old keys. Safe to run again at any time.
    """
    from autofy.security.crypto import CredentialCipher
    from autofy.security.rotation import rotate_all

    with runtime() as opened:
        cipher = CredentialCipher.from_settings(opened.settings)
        with progress_counter("re-encrypting", unit="integrations") as advance:
            report = asyncio.run(
                rotate_all(opened.database_url, cipher, batch_size=batch_size, on_batch=advance)
            )
    console.print(
        f"examined {report.examined}, re-encrypted {report.rotated} under key {cipher.primary_key_id!r}, "
        f"already current {report.already_current}, undecryptable {len(report.undecryptable)}"
    )
    if report.undecryptable:
        listed = ", ".join(str(integration_id) for integration_id in report.undecryptable)
        errors.print(
            f"[bold red]error:[/] these integrations do not decrypt with any listed key: {listed}",
            highlight=False,
        )
        raise typer.Exit(code=1)
