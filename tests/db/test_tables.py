"""src/autofy/db/tables.py names what the migrations created: same columns, types, nullability."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql

from autofy.db import tables
from tests.db.catalog import read_catalog


async def test_every_declared_column_exists_with_its_type_and_nullability(
    database_url: str,
) -> None:
    live = await read_catalog(database_url, ("public", "auth"))
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    declared = {}
    for table in tables.metadata.sorted_tables:
        name = table.name if table.schema is None else f"{table.schema}.{table.name}"
        for column in table.columns:
            declared[(name, column.name)] = (
                column.type.compile(dialect=dialect).lower(),
                column.nullable,
            )
    actual = {key: (live.columns[key].type, live.columns[key].nullable) for key in declared}
    assert actual == declared


async def test_the_seed_tables_declare_every_foundation_column(database_url: str) -> None:
    live = await read_catalog(database_url, ("public", "auth"))
    # Later migrations may add columns (the engine's bookkeeping); the seed's must all be here.
    for table in (*tables.PUBLIC_TABLES, tables.users):
        name = table.name if table.schema is None else f"{table.schema}.{table.name}"
        declared = [column.name for column in table.columns]
        assert [c for c in live.tables[name] if c in declared] == declared


def test_public_tables_are_the_seeds_thirteen() -> None:
    assert len(tables.PUBLIC_TABLES) == 13
    assert {table.name for table in tables.PUBLIC_TABLES} == {
        name for name in tables.metadata.tables if "." not in name
    }
