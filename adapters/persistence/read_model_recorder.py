"""The read models' writes, written once for every store.

As the eventsourcing library's ``searchablecontent`` example does it: one recorder
base with the SQL and the behaviour (here: the schema version, the projections'
positions in the library's tracking table, and one statement per kind of row
change), and a thin subclass per dialect (``sqlite_read_models``,
``postgres_read_models``) that also derives from the library's tracking recorder
for that database and brings only what differs: the tables' DDL, the bulk paths
(PostgreSQL's COPY), the search index (FTS5 against ``tsvector``) and reset.

Each page's rows and the projections' positions commit in one transaction: the
library's tracking upsert only moves forward, so a page applied twice is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from itertools import groupby
from typing import TYPE_CHECKING, Any, NamedTuple

from eventsourcing.persistence import Tracking, TrackingRecorder

from threadline.adapters.persistence.read_models import SCHEMA_VERSION, TABLES, TRACKING_PREFIX
from threadline.application.history import SourceLines
from threadline.application.row_changes import (
    AddToItemCount,
    AddToUsageBucket,
    ClearHistory,
    ClearSearch,
    ClearUsage,
    ClearUsageBuckets,
    CountMessageId,
    FollowHead,
    InsertHistory,
    InsertSearch,
    InsertSpawn,
    InsertThread,
    InsertUsage,
    InsertUsageThread,
    LinkConversation,
    LinkSpawnedThread,
    LinkSpawningCall,
    MarkGone,
    RecordImport,
    RegisterConversation,
    RegisterSource,
    Rename,
    ResetItemCount,
    RowChange,
    SetArchived,
    SetLineage,
    TitleFromFirstPrompt,
    TouchSource,
    UncountMessageIds,
    UpdateSummary,
    UpdateUsageThread,
)
from threadline.domain.session import LIVE_AGENT


def write_statements(mark: str, prefix: str = "") -> dict[type[RowChange], str]:
    """The statement for each kind of row change, its values in the change's order.

    ``mark`` is the driver's placeholder, ``prefix`` qualifies the tables' names."""

    def insert(table: str, change: type[NamedTuple]) -> str:
        columns = ", ".join(change._fields)
        return f"INSERT INTO {prefix}{table} ({columns}) VALUES ({marks(change)})"

    def marks(change: type[NamedTuple]) -> str:
        return ", ".join([mark] * len(change._fields))

    def update(table: str, change: type[NamedTuple]) -> str:
        """Every field but the last is set; the last is the row's key."""
        *columns, key = change._fields
        values = ", ".join(f"{c} = {mark}" for c in columns)
        return f"UPDATE {prefix}{table} SET {values} WHERE {key} = {mark}"

    def delete(table: str, change: type[NamedTuple]) -> str:
        (key,) = change._fields
        return f"DELETE FROM {prefix}{table} WHERE {key} = {mark}"

    b, ids = f"{prefix}usage_buckets", f"{prefix}usage_ids"
    added = ", ".join(f"{c} = {b}.{c} + excluded.{c}" for c in AddToUsageBucket._fields[3:-2])
    return {
        InsertThread: insert("threads", InsertThread),
        UpdateSummary: update("threads", UpdateSummary),
        AddToItemCount: f"UPDATE {prefix}threads SET item_count = item_count + {mark},"
        f" updated_at = CASE WHEN updated_at IS NULL OR updated_at < {mark} THEN {mark}"
        f" ELSE updated_at END WHERE thread_id = {mark}",
        TitleFromFirstPrompt: f"UPDATE {prefix}threads SET"
        f" title = CASE WHEN title_source = 'fallback' THEN {mark} ELSE title END,"
        " title_source = CASE WHEN title_source = 'fallback' THEN 'prompt' ELSE title_source END,"
        f" preview = {mark}, first_user_message = {mark} WHERE thread_id = {mark}"
        f" AND first_user_message = '' AND source_agent = '{LIVE_AGENT}'",
        Rename: f"UPDATE {prefix}threads SET title = {mark}, title_source = 'user'"
        f" WHERE thread_id = {mark}",
        SetArchived: update("threads", SetArchived),
        SetLineage: update("threads", SetLineage),
        RegisterConversation: insert("conversations", RegisterConversation)
        + " ON CONFLICT DO NOTHING",
        LinkConversation: f"UPDATE {prefix}threads SET conversation_id = ("
        f"SELECT conversation_id FROM {prefix}conversations c"
        " WHERE c.thread_id = threads.thread_id)"
        f" WHERE thread_id = {mark}",
        FollowHead: f"UPDATE {prefix}threads SET source_path = {mark} WHERE thread_id = ("
        f"SELECT thread_id FROM {prefix}conversations c WHERE c.conversation_index = {mark})",
        ResetItemCount: f"UPDATE {prefix}threads SET item_count = 0 WHERE thread_id = {mark}",
        InsertSpawn: insert("spawns", InsertSpawn) + " ON CONFLICT DO NOTHING",
        LinkSpawnedThread: f"UPDATE {prefix}threads SET spawned_by_call_id = {mark}"
        f" WHERE parent_thread_id = {mark} AND agent_id = {mark} AND spawned_by_call_id IS NULL",
        LinkSpawningCall: f"UPDATE {prefix}threads SET spawned_by_call_id = ("
        f"SELECT call_id FROM {prefix}spawns WHERE spawns.parent_thread_id"
        " = threads.parent_thread_id AND spawns.agent_id = threads.agent_id)"
        f" WHERE thread_id = {mark} AND spawned_by_call_id IS NULL AND agent_id IS NOT NULL",
        InsertHistory: insert("history", InsertHistory),
        ClearHistory: delete("history", ClearHistory),
        RegisterSource: insert("ledger", RegisterSource),
        RecordImport: update("ledger", RecordImport),
        TouchSource: update("ledger", TouchSource),
        MarkGone: f"UPDATE {prefix}ledger SET gone = 1 WHERE import_id = {mark}",
        ClearSearch: delete("search_items", ClearSearch),
        # The usage read model (``application.usage``): a bucket and a message id's count
        # add up as rows are written.
        InsertUsage: insert("usage_messages", InsertUsage),
        AddToUsageBucket: insert("usage_buckets", AddToUsageBucket)
        + f" ON CONFLICT (thread_id, slot, model) DO UPDATE SET {added},"
        f" first = CASE WHEN excluded.first < {b}.first THEN excluded.first ELSE {b}.first END,"
        f" last = CASE WHEN excluded.last > {b}.last THEN excluded.last ELSE {b}.last END",
        CountMessageId: f"INSERT INTO {ids} (message_id, copies) VALUES ({mark}, 1)"
        f" ON CONFLICT (message_id) DO UPDATE SET copies = {ids}.copies + 1",
        # The thread's rows, by message id, taken off the ids' counts.
        UncountMessageIds: f"WITH gone AS (SELECT message_id, count(*) AS n"
        f" FROM {prefix}usage_messages WHERE thread_id = {mark} AND message_id IS NOT NULL"
        f" GROUP BY message_id) UPDATE {ids} SET copies = copies"
        f" - (SELECT n FROM gone WHERE gone.message_id = {ids}.message_id)"
        " WHERE message_id IN (SELECT message_id FROM gone)",
        ClearUsage: delete("usage_messages", ClearUsage),
        ClearUsageBuckets: delete("usage_buckets", ClearUsageBuckets),
        # A thread imported again under the same id (a store rebuilt by hand) replaces its row.
        InsertUsageThread: insert("usage_threads", InsertUsageThread)
        + " ON CONFLICT (thread_id) DO UPDATE SET agent = excluded.agent, cwd = excluded.cwd,"
        " title = excluded.title, parent_thread_id = excluded.parent_thread_id,"
        " sidechain = excluded.sidechain",
        UpdateUsageThread: f"UPDATE {prefix}usage_threads"
        f" SET cwd = coalesce({mark}, cwd), title = {mark} WHERE thread_id = {mark}",
    }


def usage_tables(text: str, integer: str, prefix: str = "") -> list[str]:
    """The usage read model's CREATE statements, with a dialect's text and integer types."""
    numbers = ", ".join(f"{c} {integer} NOT NULL" for c in AddToUsageBucket._fields[3:-3])
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


class ReadModelRecorder(TrackingRecorder):
    """The thread list, history, ledger and search tables, with each projection's position.

    A dialect's subclass derives from this first, then from the library's tracking
    recorder for its database (which brings ``datastore`` and ``_insert_tracking``)."""

    mark = "?"
    prefix = ""
    """Qualifies the tables' names (PostgreSQL: the store's schema)."""
    tables: dict[str, tuple[str, ...]] = TABLES
    statements: dict[type[RowChange], str] = write_statements(mark)
    tracking_table = "tracking"
    datastore: Any

    if TYPE_CHECKING:  # the library's recorder for the dialect brings it

        def _insert_tracking(self, c: Any, tracking: Tracking) -> None: ...

    def create_table(self) -> None:
        """The library's tables and ours; an outdated schema's tables are dropped first,
        and the projections' positions with them (they are rebuilt from the events)."""
        schema_table = f"{self.prefix}read_model_schema"
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"CREATE TABLE IF NOT EXISTS {schema_table} (version INTEGER NOT NULL)")
            c.execute(f"SELECT max(version) AS version FROM {schema_table}")
            row = c.fetchone()
            outdated = row is None or row["version"] != SCHEMA_VERSION
            if outdated:
                for tables in self.tables.values():
                    for table in tables:
                        c.execute(f"DROP TABLE IF EXISTS {self.prefix}{table}")
                c.execute(f"DELETE FROM {schema_table}")
                c.execute(f"INSERT INTO {schema_table} VALUES ({self.mark})", (SCHEMA_VERSION,))
        super().create_table()  # type: ignore[misc]  # the library's recorder's
        if outdated:
            with self.datastore.transaction(commit=True) as c:
                self.configure_new_tables(c)
                c.execute(
                    f"DELETE FROM {self.tracking_table} WHERE application_name LIKE {self.mark}",
                    (TRACKING_PREFIX + "%",),
                )

    def configure_new_tables(self, c: Any) -> None:
        """Settings made once, on tables just made (not on every open)."""

    def positions(self) -> dict[str, int]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT application_name, notification_id FROM {self.tracking_table}"
                f" WHERE application_name LIKE {self.mark}",
                (TRACKING_PREFIX + "%",),
            )
            return {
                r["application_name"].removeprefix(TRACKING_PREFIX): r["notification_id"]
                for r in c.fetchall()
            }

    def apply(self, changes: Sequence[RowChange], positions: dict[str, int]) -> None:
        with self.datastore.transaction(commit=True) as c:
            for name, position in sorted(positions.items()):
                # Refused (IntegrityError, rolling back the rows too) unless it moves
                # forward; in name order, so that two catch-ups lock them alike.
                self._insert_tracking(c, Tracking(TRACKING_PREFIX + name, position))
            self.write(c, changes)

    def write(self, c: Any, changes: Iterable[RowChange]) -> None:
        """Make the row changes in order, a run of the same kind as one batch."""
        for kind, run in groupby(changes, type):
            if kind is InsertHistory:
                self.insert_history(c, run)  # type: ignore[arg-type]
            elif kind is InsertSearch:
                self.insert_search(c, run)  # type: ignore[arg-type]
            else:
                c.executemany(self.statements[kind], self.values(run))

    def values(self, changes: Iterable[RowChange]) -> list[Sequence[Any]]:
        """The statement's values for each change (each change is its values)."""
        return list(changes)

    def insert_history(self, c: Any, rows: Iterator[InsertHistory]) -> None:
        c.executemany(self.statements[InsertHistory], self.values(rows))

    def insert_search(self, c: Any, rows: Iterator[InsertSearch]) -> None:
        """Index the items' texts: each store has its own full-text index."""
        raise NotImplementedError

    def reset(self, names: Sequence[str]) -> None:
        """Drop the named projections' rows and positions, to replay them from the start."""
        raise NotImplementedError

    def source_lines(self) -> AbstractContextManager[SourceLines]:
        """Reads texts left in source lines (for the search projection), for one page."""
        raise NotImplementedError
