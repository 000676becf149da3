"""The usage read model's tables on both stores: schema, row changes, and the one query.

Slots into the read-model stores (``sqlite_read_models``, ``postgres_read_models``) as
their ``usage`` tables and ops; the query is the same SQL on both (only the placeholder
and the schema prefix differ). Light: no import beyond the standard library and
``application.usage``, so that ``threadline usage`` starts fast.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from threadline.application.usage import (
    COPY_ORDER,
    MESSAGE_COLUMNS,
    THREAD_COLUMNS,
    Bucket,
    ThreadInfo,
    bucket_from_row,
)

NAMES = ("usage_messages", "usage_threads")


def tables(text: str, integer: str, prefix: str = "") -> list[str]:
    """The CREATE statements, with a dialect's text and integer types."""
    numbers = ",\n".join(f"{c} {integer} NOT NULL" for c in MESSAGE_COLUMNS[6:])
    return [
        f"""CREATE TABLE IF NOT EXISTS {prefix}usage_messages (
            thread_id {text} NOT NULL,
            position {integer} NOT NULL,
            message_id {text},
            timestamp {text} NOT NULL,
            slot {text} NOT NULL,
            model {text} NOT NULL,
            {numbers},
            PRIMARY KEY (thread_id, position))""",
        f"""CREATE TABLE IF NOT EXISTS {prefix}usage_threads (
            thread_id {text} PRIMARY KEY,
            agent {text} NOT NULL,
            cwd {text},
            title {text} NOT NULL,
            parent_thread_id {text},
            sidechain INTEGER NOT NULL)""",
    ]


def writes(mark: str, prefix: str = "") -> dict[str, str]:
    """Each op's statement (its argument is a tuple of the statement's parameters)."""
    return {
        "usage_message": f"INSERT INTO {prefix}usage_messages ({', '.join(MESSAGE_COLUMNS)})"
        f" VALUES ({', '.join([mark] * len(MESSAGE_COLUMNS))})",
        # A thread imported again under the same id (a store rebuilt by hand) replaces its row.
        "usage_thread": f"INSERT INTO {prefix}usage_threads ({', '.join(THREAD_COLUMNS)})"
        f" VALUES ({', '.join([mark] * len(THREAD_COLUMNS))})"
        f" ON CONFLICT (thread_id) DO UPDATE SET agent = excluded.agent, cwd = excluded.cwd,"
        " title = excluded.title, parent_thread_id = excluded.parent_thread_id,"
        " sidechain = excluded.sidechain",
        "usage_thread_update": f"UPDATE {prefix}usage_threads"
        f" SET cwd = coalesce({mark}, cwd), title = {mark} WHERE thread_id = {mark}",
        "usage_clear": f"DELETE FROM {prefix}usage_messages WHERE thread_id = {mark}",
    }


SQLITE_TABLES = tables("TEXT", "INTEGER")
SQLITE_WRITES = writes("?")


def postgres_tables(schema: str) -> list[str]:
    return tables('TEXT COLLATE "C"', "BIGINT", schema + ".")


def postgres_writes(schema: str) -> dict[str, str]:
    return writes("%s", schema + ".")


# -- the query -----------------------------------------------------------------------------

_SUMS = ", ".join(f"sum(r.{c})" for c in MESSAGE_COLUMNS[6:])


def _order() -> str:
    terms = []
    for term in COPY_ORDER:
        column = term.lstrip("-")
        if column == "sidechain":
            column = "coalesce(t.sidechain, 0)"
        elif "+" in column:
            column = " + ".join(f"m.{c.strip()}" for c in column.strip("()").split("+"))
        else:
            column = f"m.{column}"
        terms.append(f"{column} DESC" if term.startswith("-") else column)
    return ", ".join(terms)


def buckets_sql(
    cwds: Sequence[str], sources: Sequence[str], mark: str, prefix: str = ""
) -> tuple[str, list[Any]]:
    """Counted usage (one copy of each response) by UTC quarter-hour, thread and model."""
    filters, params = ["r.copy = 1"], list[Any]()
    if cwds:
        filters.append(f"t.cwd IN ({', '.join([mark] * len(cwds))})")
        params.extend(cwds)
    if sources:
        filters.append(f"t.agent IN ({', '.join([mark] * len(sources))})")
        params.extend(sources)
    sql = f"""
        WITH ranked AS (
            SELECT m.*, row_number() OVER (
                PARTITION BY coalesce(m.message_id, m.thread_id || '#' || m.position)
                ORDER BY {_order()}) AS copy
            FROM {prefix}usage_messages m
            LEFT JOIN {prefix}usage_threads t ON t.thread_id = m.thread_id)
        SELECT r.slot, r.thread_id, r.model, {_SUMS}, count(*), min(r.timestamp),
            max(r.timestamp)
        FROM ranked r LEFT JOIN {prefix}usage_threads t ON t.thread_id = r.thread_id
        WHERE {" AND ".join(filters)}
        GROUP BY r.slot, r.thread_id, r.model"""
    return sql, params


THREADS_SQL = "SELECT thread_id, agent, cwd, title, parent_thread_id FROM {prefix}usage_threads"


def read_usage(
    conn: Any, cwds: Sequence[str] = (), sources: Sequence[str] = ()
) -> tuple[list[Bucket], dict[str, ThreadInfo]]:
    """The buckets and every thread's details, on a read side's connection (SQLite's, or
    PostgreSQL's)."""
    mark, prefix = "?", ""
    if not isinstance(conn, sqlite3.Connection):
        from threadline.adapters.persistence.postgres_connection import SCHEMA

        mark, prefix = "%s", f"{SCHEMA}."
    sql, params = buckets_sql(cwds, sources, mark, prefix)
    rows = _rows(conn, sql, params)
    threads = {
        r[0]: ThreadInfo(r[1], r[2], r[3], r[4])
        for r in _rows(conn, THREADS_SQL.format(prefix=prefix), [])
    }
    return [bucket_from_row(r) for r in rows], threads


def _rows(conn: Any, sql: str, params: list[Any]) -> list[Sequence[Any]]:
    if isinstance(conn, sqlite3.Connection):
        return conn.execute(sql, params).fetchall()
    from psycopg.rows import tuple_row

    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(sql, params)
        return cur.fetchall()
