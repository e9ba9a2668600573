"""The migrated schema is the seed's schema, apart from the deviations listed here.

The seed (docs/spec/DATABASE_SCHEMA.md, a vendored copy of ../shared/seed/DATABASE_SCHEMA.md) is
parsed into tables, columns, types, nullability, defaults, CHECK lists, UNIQUE sets, foreign keys
and indexes, and compared with the catalog of a database migrated to 0001_foundation. Each
deviation from the seed is one entry below, checked to still differ from the seed, so a change on
either side fails the test. docs/database.md explains why each deviation exists.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest

from autofy.db import migrate
from tests.db.catalog import Catalog, Index, normalize_index_columns, read_catalog
from tests.support import database_url_with_name

REPO_ROOT = Path(__file__).parents[2]
VENDORED_SEED = REPO_ROOT / "docs/spec/DATABASE_SCHEMA.md"
SHARED_SEED = REPO_ROOT.parent / "shared/seed/DATABASE_SCHEMA.md"
FOUNDATION = "0001_foundation"

SEED_TYPES = {
    "UUID": "uuid",
    "TEXT": "text",
    "TEXT[]": "text[]",
    "TIMESTAMPTZ": "timestamp with time zone",
    "INTEGER": "integer",
    "BOOLEAN": "boolean",
    "JSONB": "jsonb",
    "INTERVAL": "interval",
    "INET": "inet",
    "VECTOR(1536)": "vector(1536)",
}

# --- the deviations from the seed, each explained in docs/database.md ---------------------------

# The seed gives no ON DELETE for these; without one, deleting the referenced row fails.
ON_DELETE_DEVIATIONS = {
    ("profiles", "id"): "CASCADE",
    ("workflows", "chat_session_id"): "SET NULL",
    ("chat_sessions", "workflow_id"): "SET NULL",
    ("workflow_executions", "error_step_id"): "SET NULL",
    ("workflow_templates", "created_by"): "SET NULL",
    ("audit_logs", "user_id"): "SET NULL",
}
# Seed indexes replaced: the seed's workflow_executions.created_at does not exist (started_at is
# the creation time); ivfflat on an empty table has poor recall, HNSW needs no training.
REPLACED_INDEXES = {
    "idx_executions_workflow_created": (
        "idx_executions_workflow_started",
        Index("workflow_executions", "btree", "workflow_id, started_at desc"),
    ),
    "idx_chat_messages_embedding": (
        "idx_chat_messages_embedding",
        Index("chat_messages", "hnsw", "embedding vector_cosine_ops"),
    ),
}
# Indexes the seed lacks: FK columns whose referenced rows are deleted, and the API key lookup.
ADDED_INDEXES = {
    "idx_workflows_chat_session": Index(
        "workflows", "btree", "chat_session_id", "(chat_session_id IS NOT NULL)"
    ),
    "idx_chat_sessions_workflow": Index("chat_sessions", "btree", "workflow_id", "(workflow_id IS NOT NULL)"),
    "idx_executions_error_step": Index(
        "workflow_executions", "btree", "error_step_id", "(error_step_id IS NOT NULL)"
    ),
    "idx_workflow_templates_created_by": Index(
        "workflow_templates", "btree", "created_by", "(created_by IS NOT NULL)"
    ),
    "idx_api_keys_key_prefix": Index("api_keys", "btree", "key_prefix"),
}


# --- the seed, parsed ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedColumn:
    type: str
    nullable: bool
    default: str | None


@dataclass
class Seed:
    tables: dict[str, list[str]] = field(default_factory=dict)
    columns: dict[tuple[str, str], SeedColumn] = field(default_factory=dict)
    primary_keys: dict[str, tuple[str, ...]] = field(default_factory=dict)
    uniques: set[tuple[str, tuple[str, ...]]] = field(default_factory=set)
    checks: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    foreign_keys: dict[tuple[str, str], tuple[str, str, str]] = field(default_factory=dict)
    indexes: dict[str, Index] = field(default_factory=dict)


TABLE_SECTION = re.compile(r"^### \*\*(\w+)\*\*\n.*?```sql\n(.*?)```", re.M | re.S)
INDEX_STATEMENT = re.compile(r"CREATE INDEX (\w+) ON (\w+)\s*(?:USING (\w+)\s*)?\((.*)\);", re.IGNORECASE)
CONSTRAINT_KEYWORDS = re.compile(r"\s(PRIMARY KEY|NOT NULL|DEFAULT|CHECK|REFERENCES)\b")


def parse_seed(markdown: str) -> Seed:
    seed = Seed()
    specifications = markdown.split("## 📋 Detailed Table Specifications", 1)[1]
    specifications = specifications.split("## 🔐 Row Level Security", 1)[0]
    for table, body in TABLE_SECTION.findall(specifications):
        seed.tables[table] = []
        for raw_line in body.splitlines():
            line = raw_line.split("--", 1)[0].strip()
            if not line:
                continue
            unique = re.fullmatch(r"UNIQUE\((.*)\)", line)
            if unique:
                seed.uniques.add((table, tuple(c.strip() for c in unique.group(1).split(","))))
                continue
            _parse_column(seed, table, line)
    index_block = markdown.split("## 📈 Indexes for Performance", 1)[1].split("```sql", 1)[1]
    for name, table, method, columns in INDEX_STATEMENT.findall(index_block.split("```", 1)[0]):
        seed.indexes[name] = Index(table, (method or "btree").lower(), normalize_index_columns(columns))
    return seed


def _parse_column(seed: Seed, table: str, line: str) -> None:
    name, rest = line.split(None, 1)
    first_keyword = CONSTRAINT_KEYWORDS.search(" " + rest)
    type_text = (rest[: first_keyword.start()] if first_keyword else rest).strip()
    constraints = rest[len(type_text) :]
    seed.tables[table].append(name)
    primary_key = "PRIMARY KEY" in constraints
    if primary_key:
        seed.primary_keys[table] = (name,)
    default = re.search(r"DEFAULT (.+?)(?=\s+CHECK\b|\s+REFERENCES\b|$)", constraints)
    seed.columns[(table, name)] = SeedColumn(
        SEED_TYPES[type_text.upper()],
        nullable=not (primary_key or "NOT NULL" in constraints),
        default=default.group(1) if default else None,
    )
    check = re.search(r"CHECK \((\w+) IN \((.*?)\)\)", constraints)
    if check:
        seed.checks[(table, check.group(1))] = tuple(re.findall(r"'([^']*)'", check.group(2)))
    reference = re.search(r"REFERENCES ([\w.]+)\((\w+)\)(?: ON DELETE (CASCADE|SET NULL))?", constraints)
    if reference:
        seed.foreign_keys[(table, name)] = (
            reference.group(1),
            reference.group(2),
            reference.group(3) or "NO ACTION",
        )
    if re.search(r"\bUNIQUE\b", constraints):
        seed.uniques.add((table, (name,)))


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed() -> Seed:
    return parse_seed(VENDORED_SEED.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def live(postgres_server_url: str) -> Iterator[Catalog]:
    """The catalog of a database migrated to the foundation revision (later migrations add
    their own objects, which are not the seed's)."""
    name = f"autofy_conformance_{uuid.uuid4().hex[:8]}"
    url = database_url_with_name(postgres_server_url, name)

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(postgres_server_url)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f"create database {name}"))
    try:
        migrate.upgrade(url, FOUNDATION)
        yield asyncio.run(read_catalog(url))
    finally:
        asyncio.run(admin(f"drop database if exists {name} with (force)"))


# --- tests ---------------------------------------------------------------------------------------


def test_vendored_seed_is_the_shared_seed() -> None:
    # The shared seed exists only next to the original checkout; elsewhere the vendored copy is
    # the reference and there is nothing to compare it with.
    if SHARED_SEED.exists():
        assert VENDORED_SEED.read_bytes() == SHARED_SEED.read_bytes()
    assert VENDORED_SEED.exists()


def test_the_seed_parses_into_thirteen_tables(seed: Seed) -> None:
    assert len(seed.tables) == 13
    assert sum(len(columns) for columns in seed.tables.values()) == 139
    assert len(seed.indexes) == 11


def test_tables_and_columns_in_order(seed: Seed, live: Catalog) -> None:
    assert live.tables == seed.tables


def test_column_types_and_nullability(seed: Seed, live: Catalog) -> None:
    expected = {key: (c.type, c.nullable) for key, c in seed.columns.items()}
    actual = {key: (c.type, c.nullable) for key, c in live.columns.items()}
    assert actual == expected


def test_column_defaults(seed: Seed, live: Catalog, postgres_server_url: str) -> None:
    assert {k for k, c in live.columns.items() if c.default} == {
        k for k, c in seed.columns.items() if c.default
    }

    async def evaluate() -> list[tuple[tuple[str, str], str, str]]:
        connection = await asyncpg.connect(postgres_server_url)
        try:
            differences = []
            for key, column in seed.columns.items():
                if column.default is None:
                    continue
                live_default = live.columns[key].default
                assert live_default is not None
                if column.default.lower() in {"gen_random_uuid()", "now()"}:
                    same = live_default == column.default.lower()
                else:
                    # Compare values, not spellings: 'UTC' and 'UTC'::text are the same default.
                    value_type = column.type.replace("vector(1536)", "text")
                    seed_value = await connection.fetchval(f"select ({column.default})::{value_type}::text")
                    live_value = await connection.fetchval(f"select ({live_default})::text")
                    same = seed_value == live_value
                if not same:
                    differences.append((key, column.default, live_default))
            return differences
        finally:
            await connection.close()

    assert asyncio.run(evaluate()) == []


def test_primary_keys_and_unique_constraints(seed: Seed, live: Catalog) -> None:
    assert live.primary_keys == seed.primary_keys
    assert live.uniques == seed.uniques


def test_check_constraints(seed: Seed, live: Catalog) -> None:
    assert live.checks == seed.checks


def test_foreign_keys_are_the_seeds_with_the_listed_on_delete_actions(seed: Seed, live: Catalog) -> None:
    for key, action in ON_DELETE_DEVIATIONS.items():
        assert seed.foreign_keys[key][2] != action, f"{key} is no longer a deviation"
    expected = {
        key: (target, column, ON_DELETE_DEVIATIONS.get(key, action))
        for key, (target, column, action) in seed.foreign_keys.items()
    }
    assert live.foreign_keys == expected


def test_indexes_are_the_seeds_with_the_listed_changes(seed: Seed, live: Catalog) -> None:
    expected = dict(seed.indexes)
    for seed_name, (live_name, index) in REPLACED_INDEXES.items():
        assert expected.pop(seed_name) != index, f"{seed_name} is no longer a deviation"
        expected[live_name] = index
    for name, index in ADDED_INDEXES.items():
        assert name not in seed.indexes
        expected[name] = index
    assert live.indexes == expected
