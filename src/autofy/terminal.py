"""What every `autofy` command shares: the terminal, one-line errors, and the database it runs on.

Output is for people at a terminal and for scripts alike: a table on a terminal, tab-separated lines
with every value in full when piped, JSON with `--json`. Nothing is ever wrapped or cut when the
output is not a terminal.

Imports stay light here (no SQLAlchemy, Alembic or web framework at module level): every command,
`autofy --help` included, loads this module, and start-up time is what a person waits for.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import wraps
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from autofy.config import get_settings
from autofy.db.embedded import EmbeddedDatabaseError
from autofy.db.migrate import DatabaseUnavailable
from autofy.errors import DomainError
from autofy.observability.logs import configure_logging
from autofy.runtime import ConfigurationError, Runtime, open_runtime

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

P = ParamSpec("P")
R = TypeVar("R")

# soft_wrap: a long line (an id, a URL, a secret) is never broken, even when piped.
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON instead of a table (for scripts; values in full).")
]

# Failures a user causes by configuration, not bugs: one line and exit code 1, no traceback.
USER_FACING_ERRORS = (
    DatabaseUnavailable,
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
            errors.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
            raise typer.Exit(code=1) from None
        except ValidationError as error:
            first = error.errors()[0]
            field = "AUTOFY_" + "_".join(str(part) for part in first["loc"]).upper()
            errors.print(f"[bold red]error:[/] {field}: {escape(first['msg'])}", highlight=False)
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
        disable=not console.is_terminal,  # piped output gets the result, not the animation
    ) as progress:
        task = progress.add_task(label, total=None)
        yield lambda count: progress.advance(task, count)


def as_service(work: Callable[[AsyncSession], Awaitable[R]]) -> R:
    """Run `work` in one service-role transaction on the configured database.

    An operator acts across every tenant, as the workers do; the database must be current.
    """
    from autofy.db import migrate
    from autofy.db.engine import Database

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


# --- output -------------------------------------------------------------------------------------

STATUS_STYLE = {
    "healthy": "green",
    "degraded": "yellow",
    "down": "red",
    "unknown": "dim",
    "completed": "green",
    "running": "cyan",
    "failed": "red",
    "cancelled": "yellow",
}


def json_value(value: Any) -> Any:
    """A value as JSON shows it: ids and times as strings, durations in seconds."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def print_json(document: Any) -> None:
    typer.echo(json.dumps(document, default=json_value, indent=2, ensure_ascii=False))


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, timedelta):
        return f"{value.total_seconds():.2f} s"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value)


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A table on a terminal; piped, a header line and one tab-separated line per row, uncut."""
    if not console.is_terminal:
        for line in [columns, *([_cell(value) for value in row] for row in rows)]:
            typer.echo("\t".join(cell.replace("\t", " ").replace("\n", " ") for cell in line))
        return
    table = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        cells = [_cell(value) for value in row]
        table.add_row(*(f"[{STATUS_STYLE[c]}]{c}[/]" if c in STATUS_STYLE else c for c in cells))
    console.print(table)


def print_rows(
    title: str,
    columns: Mapping[str, Callable[[Mapping[str, Any]], Any]],
    rows: Sequence[Mapping[str, Any]],
    *,
    as_json: bool,
) -> None:
    """Rows as a table of `columns` (heading → value of a row), or as JSON: every field of each row."""
    if as_json:
        print_json([dict(row) for row in rows])
        return
    print_table(title, list(columns), [[cell(row) for cell in columns.values()] for row in rows])
