"""Pages of a list, shared by every domain that lists: the page shapes the API returns, and keyset
pagination (stable pages while rows are added, with an opaque cursor).

A cursor names the sort it was made for and the last row of its page (sort value and id, the id
breaking ties); the next page starts strictly after that row. Offsets stay available for jumping
to a page number. Rows whose sort value is null come last in either direction. Lists that page by
offset alone (the audit log, templates, chat sessions) answer an `OffsetPage`.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, UnaryExpression, and_, or_

from autofy.errors import ValidationFailedError

SortValue = str | datetime | None

# An offset is a scan of every row it skips, and PostgreSQL refuses one past 2**63 - 1: deeper
# pages are reached by cursor or narrower filters. Every list's `offset` query parameter is bounded
# by it (`dependencies.Offset`).
MAX_OFFSET = 1_000_000
ItemT = TypeVar("ItemT", bound=BaseModel)


class OffsetPage(BaseModel, Generic[ItemT]):
    """One page of a list paged by `limit` and `offset`."""

    items: list[ItemT]
    total: int = Field(description="How many items match the filters, over all pages.")
    limit: int
    offset: int


class Page(OffsetPage[ItemT], Generic[ItemT]):
    """One page of a list that also pages by cursor (`next_cursor`), stable while rows are added."""

    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last page."
    )


@dataclass(frozen=True)
class Cursor:
    sort: str
    value: SortValue
    last_id: uuid.UUID


def encode_cursor(sort: str, value: SortValue, last_id: uuid.UUID) -> str:
    raw_value = value.isoformat() if isinstance(value, datetime) else value
    payload = json.dumps({"s": sort, "v": raw_value, "id": str(last_id)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *, sort: str, parse_value: Callable[[str], SortValue]) -> Cursor:
    """The cursor's position, or 422 when it is malformed or was made for another sort."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        raw_value = payload["v"]
        value = None if raw_value is None else parse_value(str(raw_value))
        decoded = Cursor(sort=str(payload["s"]), value=value, last_id=uuid.UUID(str(payload["id"])))
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise _bad_cursor("The cursor is malformed; use the next_cursor of a previous page.") from None
    if decoded.sort != sort:
        raise _bad_cursor("The cursor was made for another sort order; keep the same sort and order.")
    return decoded


def _bad_cursor(message: str) -> ValidationFailedError:
    return ValidationFailedError(message, details=[{"field": "query.cursor", "message": message}])


def order_by(
    column: ColumnElement[Any], id_column: ColumnElement[Any], *, descending: bool
) -> list[UnaryExpression[Any]]:
    if descending:
        return [column.desc().nulls_last(), id_column.desc()]
    return [column.asc().nulls_last(), id_column.asc()]


def after(
    column: ColumnElement[Any], id_column: ColumnElement[Any], cursor: Cursor, *, descending: bool
) -> ColumnElement[bool]:
    """Rows that come after the cursor's row in `order_by(column, id_column)`."""
    id_after = id_column < cursor.last_id if descending else id_column > cursor.last_id
    if cursor.value is None:
        # Null values sort last: only more nulls, with a later id, can follow.
        return and_(column.is_(None), id_after)
    value_after = column < cursor.value if descending else column > cursor.value
    return or_(value_after, and_(column == cursor.value, id_after), column.is_(None))


def one_page(
    query: Select[Any],
    column: ColumnElement[Any],
    id_column: ColumnElement[Any],
    *,
    descending: bool,
    cursor: Cursor | None,
    limit: int,
    offset: int,
) -> Select[Any]:
    """`query` in `order_by(column, id_column)` order, from after `cursor` (if any), one page long."""
    if cursor is not None:
        query = query.where(after(column, id_column, cursor, descending=descending))
    return query.order_by(*order_by(column, id_column, descending=descending)).limit(limit).offset(offset)
