"""The usage read model's tables on both stores: schema, row changes, and the queries.

Slots into the read-model stores (``sqlite_read_models``, ``postgres_read_models``) as
their ``usage`` tables and ops; the queries are the same SQL on both (only the
placeholder, the schema prefix and the name of the two-argument minimum differ). Light:
the standard library and ``application.usage`` only, so that ``threadline usage`` starts
fast.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from threadline.application.usage import (
    BUCKET_COLUMNS,
    MESSAGE_COLUMNS,
    THREAD_COLUMNS,
    Bucket,
    ThreadInfo,
    bucket_from_row,
    count_once,
)

NAMES = ("usage_messages", "usage_buckets", "usage_ids", "usage_threads")
_NUMBERS = MESSAGE_COLUMNS[6:]


def tables(text: str, integer: str, prefix: str = "") -> list[str]:
    """The CREATE statements, with a dialect's text and integer types."""
    numbers = ", ".join(f"{c} {integer} NOT NULL" for c in _NUMBERS)
    return [
        f"""CREATE TABLE IF NOT EXISTS {prefix}usage_messages (
            thread_id {text} NOT NULL, position {integer} NOT NULL, message_id {text},
            timestamp {text} NOT NULL, slot {text} NOT NULL, model {text} NOT NULL, {numbers},
            PRIMARY KEY (thread_id, position))""",
        f"CREATE INDEX IF NOT EXISTS usage_messages_by_id ON {prefix}usage_messages (message_id)",
        # How many rows each message id has; the few that have more than one are indexed, so
        # a report finds the copies without reading every id.
        f"""CREATE TABLE IF NOT EXISTS {prefix}usage_ids (
            message_id {text} PRIMARY KEY, copies {integer} NOT NULL)""",
        f"CREATE INDEX IF NOT EXISTS usage_ids_copied ON {prefix}usage_ids (message_id)"
        " WHERE copies > 1",
        f"""CREATE TABLE IF NOT EXISTS {prefix}usage_buckets (
            thread_id {text} NOT NULL, slot {text} NOT NULL, model {text} NOT NULL, {numbers},
            messages {integer} NOT NULL, first {text} NOT NULL, last {text} NOT NULL,
            PRIMARY KEY (thread_id, slot, model))""",
        f"""CREATE TABLE IF NOT EXISTS {prefix}usage_threads (
            thread_id {text} PRIMARY KEY, agent {text} NOT NULL, cwd {text},
            title {text} NOT NULL, parent_thread_id {text}, sidechain INTEGER NOT NULL)""",
    ]


def writes(mark: str, least: str, greatest: str, prefix: str = "") -> dict[str, str]:
    """Each op's statement (its argument is a tuple of the statement's parameters)."""

    def insert(table: str, columns: Sequence[str]) -> str:
        marks = ", ".join([mark] * len(columns))
        return f"INSERT INTO {prefix}{table} ({', '.join(columns)}) VALUES ({marks})"

    b = f"{prefix}usage_buckets"
    added = ", ".join(f"{c} = {b}.{c} + excluded.{c}" for c in (*_NUMBERS, "messages"))
    return {
        "usage_message": insert("usage_messages", MESSAGE_COLUMNS),
        "usage_bucket": insert("usage_buckets", BUCKET_COLUMNS)
        + f" ON CONFLICT (thread_id, slot, model) DO UPDATE SET {added},"
        f" first = {least}({b}.first, excluded.first), last = {greatest}({b}.last, excluded.last)",
        # A thread imported again under the same id (a store rebuilt by hand) replaces its row.
        "usage_thread": insert("usage_threads", THREAD_COLUMNS)
        + " ON CONFLICT (thread_id) DO UPDATE SET agent = excluded.agent, cwd = excluded.cwd,"
        " title = excluded.title, parent_thread_id = excluded.parent_thread_id,"
        " sidechain = excluded.sidechain",
        "usage_thread_update": f"UPDATE {prefix}usage_threads"
        f" SET cwd = coalesce({mark}, cwd), title = {mark} WHERE thread_id = {mark}",
        "usage_id": f"INSERT INTO {prefix}usage_ids (message_id, copies) VALUES ({mark}, 1)"
        f" ON CONFLICT (message_id) DO UPDATE SET copies = {prefix}usage_ids.copies + 1",
        "usage_uncount_ids": f"UPDATE {prefix}usage_ids SET copies = copies - ("
        f"SELECT count(*) FROM {prefix}usage_messages m WHERE m.thread_id = {mark}"
        f" AND m.message_id = {prefix}usage_ids.message_id) WHERE message_id IN ("
        f"SELECT message_id FROM {prefix}usage_messages WHERE thread_id = {mark})",
        "usage_clear": f"DELETE FROM {prefix}usage_messages WHERE thread_id = {mark}",
        "usage_clear_buckets": f"DELETE FROM {b} WHERE thread_id = {mark}",
    }


SQLITE_TABLES = tables("TEXT", "INTEGER")
SQLITE_WRITES = writes("?", "min", "max")


def postgres_tables(schema: str) -> list[str]:
    return tables('TEXT COLLATE "C"', "BIGINT", schema + ".")


def postgres_writes(schema: str) -> dict[str, str]:
    return writes("%s", "least", "greatest", schema + ".")


# -- the queries -----------------------------------------------------------------------------


def _thread_filters(
    cwds: Sequence[str], sources: Sequence[str], mark: str
) -> tuple[str, list[Any]]:
    filters, params = [], list[Any]()
    if cwds:
        filters.append(f"t.cwd IN ({', '.join([mark] * len(cwds))})")
        params.extend(cwds)
    if sources:
        filters.append(f"t.agent IN ({', '.join([mark] * len(sources))})")
        params.extend(sources)
    return (" WHERE " + " AND ".join(filters) if filters else ""), params


def buckets_sql(
    cwds: Sequence[str],
    sources: Sequence[str],
    mark: str,
    prefix: str = "",
    by_thread: bool = True,
) -> tuple[str, list[Any]]:
    """Every bucket of the threads that pass the filters; without ``by_thread``, the
    threads' buckets of each quarter-hour and model added up (thread id ``''``)."""
    where, params = _thread_filters(cwds, sources, mark)
    joined = (
        f" FROM {prefix}usage_buckets b"
        f" LEFT JOIN {prefix}usage_threads t ON t.thread_id = b.thread_id{where}"
    )
    if by_thread:
        return f"SELECT {', '.join(f'b.{c}' for c in BUCKET_COLUMNS)}{joined}", params
    sums = ", ".join(f"sum(b.{c})" for c in BUCKET_COLUMNS[3:-2])
    return (
        f"SELECT '', b.slot, b.model, {sums}, min(b.first), max(b.last){joined}"
        " GROUP BY b.slot, b.model",
        params,
    )


def copies_sql(prefix: str = "") -> str:
    """Every row of each message id that has more than one (in any thread), and whether
    its thread is a sub-agent's."""
    columns = ", ".join(f"m.{c}" for c in MESSAGE_COLUMNS)
    return (
        f"SELECT {columns}, coalesce(t.sidechain, 0) AS sidechain FROM {prefix}usage_messages m"
        f" LEFT JOIN {prefix}usage_threads t ON t.thread_id = m.thread_id"
        f" WHERE m.message_id IN (SELECT message_id FROM {prefix}usage_ids WHERE copies > 1)"
    )


THREADS_SQL = "SELECT thread_id, agent, cwd, title, parent_thread_id FROM {prefix}usage_threads"


def read_usage(
    conn: Any, cwds: Sequence[str] = (), sources: Sequence[str] = (), by_thread: bool = True
) -> tuple[list[Bucket], dict[str, ThreadInfo]]:
    """The counted buckets and every thread's details, on a read side's connection
    (SQLite's, or PostgreSQL's). Without ``by_thread`` (a report by period or model), the
    buckets of all threads are added up in the query and no thread's details are read."""
    mark, prefix = "?", ""
    if not isinstance(conn, sqlite3.Connection):
        from threadline.adapters.persistence.postgres_connection import SCHEMA

        mark, prefix = "%s", f"{SCHEMA}."
    # With a filter, the buckets stay by thread: the copy that counts may be in a thread
    # the filter leaves out, and a lost copy is taken out of its own thread's bucket only.
    by_thread = by_thread or bool(cwds or sources)
    sql, params = buckets_sql(cwds, sources, mark, prefix, by_thread)
    buckets = [bucket_from_row(r) for r in _rows(conn, sql, params)]
    names = (*MESSAGE_COLUMNS, "sidechain")
    copies = [dict(zip(names, r, strict=True)) for r in _rows(conn, copies_sql(prefix), [])]
    threads = {}
    if by_thread:
        threads = {
            r[0]: ThreadInfo(r[1], r[2], r[3], r[4])
            for r in _rows(conn, THREADS_SQL.format(prefix=prefix), [])
        }
    return count_once(buckets, copies, by_thread), threads


def _rows(conn: Any, sql: str, params: list[Any]) -> list[Sequence[Any]]:
    if isinstance(conn, sqlite3.Connection):
        return conn.execute(sql, params).fetchall()
    from psycopg.rows import tuple_row

    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(sql, params)
        return cur.fetchall()
