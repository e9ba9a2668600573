"""Read a database's schema from pg_catalog into plain values, for comparisons in tests."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import asyncpg

ON_DELETE = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
CHECK_IN_LIST = re.compile(r"\(\((\w+) = ANY \(ARRAY\[(.*)\]\)\)\)")
INDEX_DEFINITION = re.compile(
    r"CREATE INDEX (\w+) ON (?:public\.)?(\w+) USING (\w+) \((.*?)\)(?: WHERE (.*))?$"
)


@dataclass(frozen=True)
class Column:
    type: str
    nullable: bool
    default: str | None


@dataclass(frozen=True)
class Index:
    table: str
    method: str
    columns: str
    where: str | None = None


@dataclass
class Catalog:
    """What a schema comparison needs; equality means the same schema."""

    tables: dict[str, list[str]] = field(default_factory=dict)
    columns: dict[tuple[str, str], Column] = field(default_factory=dict)
    primary_keys: dict[str, tuple[str, ...]] = field(default_factory=dict)
    uniques: set[tuple[str, tuple[str, ...]]] = field(default_factory=set)
    # CHECK (column IN (...)), the seed's only kind, as the list of allowed values.
    checks: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    other_checks: set[tuple[str, str]] = field(default_factory=set)
    foreign_keys: dict[tuple[str, str], tuple[str, str, str]] = field(default_factory=dict)
    indexes: dict[str, Index] = field(default_factory=dict)
    functions: set[str] = field(default_factory=set)
    triggers: set[tuple[str, str]] = field(default_factory=set)
    policies: dict[tuple[str, str], tuple[Any, ...]] = field(default_factory=dict)
    grants: set[tuple[str, str, str]] = field(default_factory=set)
    column_grants: set[tuple[str, str, str, str]] = field(default_factory=set)


def normalize_index_columns(columns: str) -> str:
    return ", ".join(" ".join(part.split()).lower() for part in columns.split(","))


async def read_catalog(database_url: str, schemas: tuple[str, ...] = ("public",)) -> Catalog:
    """The tables, constraints, indexes, functions, triggers, policies and grants of `schemas`.

    Objects that belong to an extension (pgvector's functions) are left out; alembic's own
    bookkeeping table too.
    """
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("set search_path = public")
        return await _read(connection, list(schemas))
    finally:
        await connection.close()


async def _read(connection: asyncpg.Connection, schemas: list[str]) -> Catalog:
    catalog = Catalog()
    tables = await connection.fetch(
        """
        select c.oid, c.oid::regclass::text as name from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any($1) and c.relkind in ('r', 'p') and c.relname <> 'alembic_version'
        order by 2
        """,
        schemas,
    )
    table_oids = [row["oid"] for row in tables]
    for row in await connection.fetch(
        """
        select a.attrelid::regclass::text as table_name, a.attname, a.attnotnull,
               format_type(a.atttypid, a.atttypmod) as type,
               pg_get_expr(d.adbin, d.adrelid) as default
        from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
        where a.attrelid = any($1) and a.attnum > 0 and not a.attisdropped
        order by a.attrelid::regclass::text, a.attnum
        """,
        table_oids,
    ):
        catalog.tables.setdefault(row["table_name"], []).append(row["attname"])
        catalog.columns[(row["table_name"], row["attname"])] = Column(
            row["type"], not row["attnotnull"], row["default"]
        )
    for row in await connection.fetch(
        """
        select con.conrelid::regclass::text as table_name, con.contype::text as contype,
               con.confdeltype::text as confdeltype,
               con.confrelid::regclass::text as target,
               array(select a.attname from unnest(con.conkey) with ordinality k(n, i)
                     join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.n
                     order by k.i)::text[] as columns,
               array(select a.attname from unnest(con.confkey) with ordinality k(n, i)
                     join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.n
                     order by k.i)::text[] as target_columns,
               pg_get_constraintdef(con.oid) as definition
        from pg_constraint con where con.conrelid = any($1) and con.contype in ('p', 'u', 'f', 'c')
        """,
        table_oids,
    ):
        table, columns = row["table_name"], tuple(row["columns"])
        if row["contype"] == "p":
            catalog.primary_keys[table] = columns
        elif row["contype"] == "u":
            catalog.uniques.add((table, columns))
        elif row["contype"] == "f":
            (column,) = columns
            (target_column,) = row["target_columns"]
            catalog.foreign_keys[(table, column)] = (
                row["target"],
                target_column,
                ON_DELETE[row["confdeltype"]],
            )
        elif row["contype"] == "c":
            match = CHECK_IN_LIST.fullmatch(row["definition"].removeprefix("CHECK "))
            if match:
                values = tuple(re.findall(r"'([^']*)'::text", match.group(2)))
                catalog.checks[(table, match.group(1))] = values
            else:
                catalog.other_checks.add((table, row["definition"]))
    for row in await connection.fetch(
        """
        select i.indexrelid::regclass::text as name, pg_get_indexdef(i.indexrelid) as definition
        from pg_index i
        where i.indrelid = any($1)
          and not exists (select from pg_constraint con where con.conindid = i.indexrelid)
        """,
        table_oids,
    ):
        match = INDEX_DEFINITION.match(row["definition"])
        if match:
            name, table, method, columns, where = match.groups()
            catalog.indexes[name] = Index(table, method, normalize_index_columns(columns), where)
        else:  # unique or expression indexes: the seed has none, keep the definition whole
            catalog.indexes[row["name"]] = Index("", "", row["definition"])
    for row in await connection.fetch(
        """
        select p.oid::regprocedure::text as name, pg_get_functiondef(p.oid) as definition,
               p.proacl::text as acl
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = any($1)
          and not exists (select from pg_depend d
                          where d.objid = p.oid and d.classid = 'pg_proc'::regclass
                            and d.deptype = 'e')
        """,
        schemas,
    ):
        catalog.functions.add(f"{row['name']}|{row['acl']}|{row['definition']}")
    for row in await connection.fetch(
        """
        select t.tgrelid::regclass::text as table_name, pg_get_triggerdef(t.oid) as definition
        from pg_trigger t join pg_class c on c.oid = t.tgrelid
        join pg_namespace n on n.oid = c.relnamespace
        where not t.tgisinternal and n.nspname = any($1)
        """,
        schemas,
    ):
        catalog.triggers.add((row["table_name"], row["definition"]))
    for row in await connection.fetch(
        """
        select tablename, policyname, permissive, roles::text[] as roles, cmd, qual, with_check
        from pg_policies where schemaname = any($1)
        """,
        schemas,
    ):
        catalog.policies[(row["tablename"], row["policyname"])] = (
            row["permissive"],
            tuple(row["roles"]),
            row["cmd"],
            row["qual"],
            row["with_check"],
        )
    for row in await connection.fetch(
        """
        select c.oid::regclass::text as table_name, coalesce(g.rolname, 'public') as grantee,
               acl.privilege_type
        from pg_class c, aclexplode(c.relacl) acl
        left join pg_roles g on g.oid = acl.grantee
        where c.oid = any($1)
        """,
        table_oids,
    ):
        catalog.grants.add((row["table_name"], row["grantee"], row["privilege_type"]))
    for row in await connection.fetch(
        """
        select a.attrelid::regclass::text as table_name, a.attname,
               coalesce(g.rolname, 'public') as grantee, acl.privilege_type
        from pg_attribute a, aclexplode(a.attacl) acl
        left join pg_roles g on g.oid = acl.grantee
        where a.attrelid = any($1)
        """,
        table_oids,
    ):
        catalog.column_grants.add((row["table_name"], row["attname"], row["grantee"], row["privilege_type"]))
    return catalog
