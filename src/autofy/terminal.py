"""What every `autofy` command shares: the terminal, one-line errors, and the database it runs on."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.config import get_settings
from autofy.db import migrate
from autofy.db.embedded import EmbeddedDatabaseError
from autofy.db.engine import Database
from autofy.errors import DomainError
from autofy.observability.logs import configure_logging
from autofy.runtime import ConfigurationError, Runtime, open_runtime

P = ParamSpec("P")
R = TypeVar("R")

console = Console()
errors = Console(stderr=True)

# Failures a user causes by configuration, not bugs: one line and exit code 1, no traceback.
USER_FACING_ERRORS = (
    migrate.DatabaseUnavailable,
    EmbeddedDatabaseError,
    ConfigurationError,
    DomainError,
)


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
    configure_logging(settings.log_level)
    with open_runtime(settings) as opened:
        yield opened


@contextmanager
def progress_counter(label: str, unit: str = "rows") -> Iterator[Callable[[int], None]]:
    """A progress bar for a long operation of unknown length; call the yielded function per batch."""
    with Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        TextColumn(f"{{task.completed}} {unit}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=None)
        yield lambda count: progress.advance(task, count)


def as_service(work: Callable[[AsyncSession], Awaitable[R]]) -> R:
    """Run `work` in one service-role transaction on the configured database.

    An operator acts across every tenant, as the workers do; the database must be current.
    """

    async def run(database_url: str) -> R:
        database = Database(database_url, pool_size=1)
        try:
            async with database.service_session() as session:
                return await work(session)
        finally:
            await database.dispose()

    with runtime() as opened:
        asyncio.run(migrate.check_server(opened.database_url))
        return asyncio.run(run(opened.database_url))
