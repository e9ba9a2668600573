"""The `autofy` command."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Annotated, ParamSpec, TypeVar

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console

from autofy.app import create_app
from autofy.config import Settings, get_settings
from autofy.db import migrate
from autofy.db.embedded import EmbeddedDatabaseError
from autofy.runtime import (
    ConfigurationError,
    Runtime,
    generate_encryption_key,
    open_runtime,
    with_secrets,
)

app = typer.Typer(
    help="Autofy: self-hostable workflow automation.", no_args_is_help=True, add_completion=False
)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
keys_app = typer.Typer(help="Secrets and credential encryption keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")

console = Console()
errors = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")

# Failures a user causes by configuration, not bugs: one line and exit code 1, no traceback.
USER_FACING_ERRORS = (migrate.DatabaseUnavailable, EmbeddedDatabaseError, ConfigurationError)


def friendly_errors(command: Callable[P, R]) -> Callable[P, R]:
    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except USER_FACING_ERRORS as error:
            errors.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=1) from None
        except ValidationError as error:
            first = error.errors()[0]
            field = "AUTOFY_" + "_".join(str(part) for part in first["loc"]).upper()
            errors.print(f"[bold red]error:[/] {field}: {first['msg']}", highlight=False)
            raise typer.Exit(code=1) from None

    return wrapper


@contextmanager
def runtime() -> Iterator[Runtime]:
    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper())
    with open_runtime(settings) as opened:
        yield opened


@app.command()
@friendly_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Overrides AUTOFY_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Overrides AUTOFY_PORT.")] = None,
) -> None:
    """Start the database (embedded unless AUTOFY_DATABASE_URL is set), upgrade it, and serve."""
    with runtime() as opened:
        migrate.upgrade(opened.database_url)
        settings: Settings = with_secrets(opened.settings)
        api = create_app(settings, opened.database_url)
        console.print(
            f"Autofy on http://{host or settings.host}:{port or settings.port} "
            f"(database: {'embedded' if opened.embedded else migrate.describe_server(opened.database_url)})"
        )
        uvicorn.run(api, host=host or settings.host, port=port or settings.port, log_level="info")


@db_app.command("upgrade")
@friendly_errors
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply migrations up to REVISION (default: the newest). Safe to run again."""
    with runtime() as opened:
        migrate.upgrade(opened.database_url, revision)
        status = asyncio.run(migrate.schema_status(opened.database_url))
        console.print(f"schema at {status.current}")


@db_app.command("downgrade")
@friendly_errors
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision; `base` removes everything.")],
) -> None:
    """Revert migrations down to REVISION."""
    with runtime() as opened:
        migrate.downgrade(opened.database_url, revision)
        status = asyncio.run(migrate.schema_status(opened.database_url))
        console.print(f"schema at {status.current or 'base (empty)'}")


@db_app.command("status")
@friendly_errors
def db_status() -> None:
    """Show the schema revision of the database and the newest one this Autofy ships."""
    with runtime() as opened:
        asyncio.run(migrate.check_server(opened.database_url))
        status = asyncio.run(migrate.schema_status(opened.database_url))
        state = "up to date" if status.up_to_date else "needs `autofy db upgrade`"
        console.print(f"current: {status.current or 'base (empty)'}\nhead:    {status.head}\n{state}")


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new JWT secret and encryption key to put in the environment."""
    import secrets

    console.print(f"AUTOFY_JWT_SECRET={secrets.token_urlsafe(48)}")
    console.print(f"AUTOFY_ENCRYPTION_KEYS={generate_encryption_key()}")
