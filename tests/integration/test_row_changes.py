"""The typed row changes: each kind has its statement, a store runs them in order (a run
of one kind as one batch), and what it writes is what the queries read back, on both
stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from conftest import open_test_store

from threadline.adapters.persistence.read_model_recorder import (
    ReadModelRecorder,
    write_statements,
)
from threadline.adapters.queries import open_queries
from threadline.application.read_queries import SearchQuery, ThreadQuery
from threadline.application.row_changes import (
    ROW_CHANGES,
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
from threadline.application.usage import bucket_rows, message_row

pytestmark = pytest.mark.both_stores


def test_every_kind_of_change_but_search_has_a_statement_with_a_value_for_each_field() -> None:
    for mark in ("?", "%s"):
        statements = write_statements(mark, prefix="threadline.")
        assert set(statements) | {InsertSearch} == set(ROW_CHANGES)
        for kind, sql in statements.items():
            assert sql.count(mark) == len(kind._fields), kind.__name__


def test_a_new_thread_has_the_summary_columns_in_the_order_an_update_sets_them() -> None:
    # The projection makes one from the other: InsertThread(thread_id, *summary[:-1], ...).
    assert InsertThread._fields[1 : len(UpdateSummary._fields)] == UpdateSummary._fields[:-1]


def test_a_usage_bucket_has_the_numbers_of_a_usage_row_in_the_same_order() -> None:
    # The projection adds rows up into buckets by position: AddToUsageBucket(*key, *sums, ...).
    assert AddToUsageBucket._fields[3:-3] == InsertUsage._fields[6:]


def test_a_run_of_one_kind_is_one_batch_and_the_order_is_kept() -> None:
    calls: list[tuple[str, Any]] = []
    cursor = SimpleNamespace(executemany=lambda sql, rows: calls.append((sql, list(rows))))

    def bulk(name: str) -> Any:
        return lambda c, rows: calls.append((name, list(rows)))

    recorder = SimpleNamespace(
        statements={kind: kind.__name__ for kind in ROW_CHANGES},
        values=list,
        insert_history=bulk("history"),
        insert_search=bulk("search"),
    )
    history = [InsertHistory("t", p, "user_message", None, 1, p) for p in range(3)]
    search = InsertSearch("t", 0, "user_message", b"[]", "hello")
    changes: list[RowChange] = [
        AddToItemCount(3, None, None, "t"),
        AddToItemCount(1, None, None, "u"),
        *history,
        ClearHistory("t"),
        history[0],
        search,
        ClearSearch("t"),
    ]

    ReadModelRecorder.write(recorder, cursor, changes)  # type: ignore[arg-type]

    assert calls == [
        (
            "AddToItemCount",
            [AddToItemCount(3, None, None, "t"), AddToItemCount(1, None, None, "u")],
        ),
        ("history", history),
        ("ClearHistory", [ClearHistory("t")]),
        ("history", [history[0]]),
        ("search", [search]),
        ("ClearSearch", [ClearSearch("t")]),
    ]


def summary(thread_id: str, title: str) -> UpdateSummary:
    models = orjson.dumps(["claude"]).decode()
    when = "2026-12-01T10:00:00.000000Z"
    return UpdateSummary(
        title, "prompt", "preview", "first", "/w", None, None, None, models, when, when, thread_id
    )


def new_thread(
    thread_id: str, agent_id: str | None = None, parent: str | None = None
) -> InsertThread:
    return InsertThread(
        thread_id,
        *summary(thread_id, thread_id)[:-1],
        source_agent="claude_code",
        source_path=f"/s/{thread_id}.jsonl",
        source_session_id=None,
        agent_id=agent_id,
        parent_thread_id=parent,
        spawned_by_call_id=None,
    )


@pytest.fixture
def store(home: Path) -> Iterator[Any]:
    store = open_test_store(home)
    try:
        yield store
    finally:
        store.close()


def test_what_each_kind_of_change_writes_the_queries_read_back(store: Any) -> None:
    search = [
        InsertSearch("parent", 0, "user_message", b'["find the zanzibar"]', "find the zanzibar"),
        InsertSearch("parent", 1, "assistant_message", b'["no \\u0000 here"]', "no \x00 here"),
    ]
    store.read_models.apply(
        [
            new_thread("parent"),
            # The sub-agent's call seen before its thread, then the other way round.
            InsertSpawn("parent", "agent-1", "call-1"),
            LinkSpawnedThread("call-1", "parent", "agent-1"),
            new_thread("child-1", agent_id="agent-1", parent="parent"),
            LinkSpawningCall("child-1"),
            new_thread("child-2", agent_id="agent-2", parent="parent"),
            LinkSpawningCall("child-2"),
            InsertSpawn("parent", "agent-2", "call-2"),
            InsertSpawn("parent", "agent-2", "call-2"),  # once only
            LinkSpawnedThread("call-2", "parent", "agent-2"),
            AddToItemCount(2, None, None, "parent"),
            AddToItemCount(5, None, None, "child-1"),
            ResetItemCount("child-1"),
            summary("parent", "renamed"),
            InsertHistory("child-2", 0, "user_message", None, 7, 0),
            ClearHistory("child-2"),
            *(InsertHistory("parent", p, "user_message", None, 9, p) for p in range(2)),
            InsertSearch("child-2", 0, "user_message", b'["zanzibar gone"]', "zanzibar gone"),
            ClearSearch("child-2"),
            *search,
            RegisterSource("import-1", "claude_code", "/s/parent.jsonl"),
            RecordImport(
                "parent",
                10,
                20,
                "abc",
                10,
                2,
                2,
                "imported",
                0,
                "2026-12-01T10:00:00Z",
                2,
                "/s/parent.jsonl",
                0,
                None,
                None,
                None,
                "import-1",
            ),
            TouchSource(30, 0, "import-1"),
        ],
        {"threads": 1, "history": 1, "ledger": 1, "search": 1},
    )

    queries = open_queries(store.location)
    try:
        threads = {t["thread_id"]: t for t in queries.threads(ThreadQuery(limit=None))}
        assert threads["parent"]["title"] == "renamed"
        assert threads["parent"]["item_count"] == 2
        assert threads["child-1"]["item_count"] == 0
        assert threads["child-1"]["spawned_by_call_id"] == "call-1"
        assert threads["child-2"]["spawned_by_call_id"] == "call-2"
        assert [h["position"] for h in queries.history("parent")] == [0, 1]
        assert queries.history("child-2") == []
        assert queries.recorded_versions() == {"/s/parent.jsonl": (10, 30, "parent")}
        found = queries.search(SearchQuery("zanzibar"))
        assert [(r["thread_id"], r["position"]) for r in found] == [("parent", 0)]
    finally:
        queries.close()


def live_thread(thread_id: str) -> InsertThread:
    return new_thread(thread_id)._replace(
        title="Live session",
        title_source="fallback",
        preview="",
        first_user_message="",
        source_agent="threadline",
    )


def test_the_users_names_lineage_conversations_and_gone_locations_read_back(
    store: Any,
) -> None:
    later = "2026-12-02T08:00:00.000000Z"
    store.read_models.apply(
        [
            # The index is saved before the thread's first event: the row finds it later.
            RegisterConversation("parent", "session-1", "index-1"),
            LinkConversation("parent"),
            new_thread("parent"),
            LinkConversation("parent"),
            new_thread("child-1"),
            RegisterConversation(
                "child-1", "session-1/agent-a1", "index-2"
            ),  # an earlier release's
            LinkConversation("child-1"),
            FollowHead("/s/moved/parent.jsonl", "index-1"),
            FollowHead("/s/nowhere.jsonl", "index-3"),
            Rename("My name", "parent"),
            summary("parent", "a later title the source wrote"),  # the Session keeps the name,
            Rename("My name", "parent"),  # as its next event says
            SetArchived(1, "child-1"),
            SetLineage("parent", None, "child-1"),
            AddToItemCount(2, later, later, "parent"),
            AddToItemCount(
                1, "2026-11-30T08:00:00.000000Z", "2026-11-30T08:00:00.000000Z", "parent"
            ),
            live_thread("live-1"),
            TitleFromFirstPrompt("first prompt", "first prompt", "first prompt\n", "live-1"),
            TitleFromFirstPrompt("second", "second", "second", "live-1"),  # the first stays
            live_thread("live-2"),
            Rename("named before any prompt", "live-2"),
            TitleFromFirstPrompt("a prompt", "a prompt", "a prompt", "live-2"),
            TitleFromFirstPrompt("not a live one", "p", "p", "parent"),
            RegisterSource("import-1", "claude_code", "/s/parent.jsonl"),
            MarkGone("import-1"),
        ],
        {"threads": 1, "ledger": 1},
    )

    queries = open_queries(store.location)
    try:
        rows = queries.threads(ThreadQuery(limit=None, archived=None))
        threads = {t["thread_id"]: t for t in rows}
        parent, child = threads["parent"], threads["child-1"]
        assert (parent["title"], parent["title_source"]) == ("My name", "user")
        assert parent["first_user_message"] == "first"
        assert parent["source_path"] == "/s/moved/parent.jsonl"
        assert child["source_path"] == "/s/child-1.jsonl"
        assert (parent["conversation_id"], child["conversation_id"]) == (
            "session-1",
            "session-1/agent-a1",
        )
        assert (parent["item_count"], parent["updated_at"]) == (3, later)
        assert (child["archived"], child["continued_from"], child["forked_from"]) == (
            1,
            "parent",
            None,
        )
        live_1, live_2 = threads["live-1"], threads["live-2"]
        assert (live_1["title"], live_1["title_source"], live_1["preview"]) == (
            "first prompt",
            "prompt",
            "first prompt",
        )
        assert (live_2["title"], live_2["first_user_message"]) == (
            "named before any prompt",
            "a prompt",
        )
        assert [r["thread_id"] for r in queries.threads(ThreadQuery(limit=None))] == [
            t for t in threads if t != "child-1"
        ]
        [entry] = queries.ledger()
        assert entry["gone"] == 1
    finally:
        queries.close()


def test_the_usage_changes_add_up_and_a_rewrite_takes_a_threads_rows_out(store: Any) -> None:
    def answer(thread: str, position: int, message_id: str, at: str, output: int) -> Any:
        item = {
            "type": "assistant",
            "timestamp": at,
            "message_id": message_id,
            "model": "claude-sonnet-4-5",
            "usage": {"input_tokens": 1, "output_tokens": output},
        }
        return message_row(thread, position, item)

    rows = [
        answer("a", 0, "m1", "2026-12-01T10:01:00.000000Z", 5),
        answer("a", 1, "m2", "2026-12-01T10:14:00.000000Z", 7),
        answer("b", 0, "m1", "2026-12-01T10:02:00.000000Z", 5),  # a copy of a's first
    ]
    store.read_models.apply(
        [
            InsertUsageThread("a", "claude_code", None, "", None, 0),
            InsertUsageThread("b", "claude_code", "/w", "B", "a", 1),
            UpdateUsageThread("/w", "A", "a"),
            UpdateUsageThread(None, "B2", "b"),  # no cwd: the one kept
            *rows[:2],
            *bucket_rows(rows[:2]),
            rows[2],
            *bucket_rows(rows[2:]),
            *(CountMessageId(r.message_id) for r in rows),
        ],
        {"usage": 1},
    )

    queries = open_queries(store.location)
    try:
        threads = {t["thread_id"]: t for t in queries.usage_threads()}
        assert (threads["a"]["cwd"], threads["a"]["title"]) == ("/w", "A")
        assert (threads["b"]["cwd"], threads["b"]["title"]) == ("/w", "B2")
        [bucket] = [b for b in queries.usage_buckets((), ()) if b["thread_id"] == "a"]
        assert (bucket["output_tokens"], bucket["messages"]) == (12, 2)
        assert (bucket["first"], bucket["last"]) == (
            "2026-12-01T10:01:00.000Z",
            "2026-12-01T10:14:00.000Z",
        )
        [added] = queries.usage_buckets((), (), by_thread=False)
        assert (added["thread_id"], int(added["output_tokens"]), int(added["messages"])) == (
            "",
            17,
            3,
        )
        assert {(c["thread_id"], c["sidechain"]) for c in queries.usage_copies()} == {
            ("a", 0),
            ("b", 1),
        }
        assert [b["thread_id"] for b in queries.usage_buckets(("/w",), ("codex",))] == []
    finally:
        queries.close()

    store.read_models.apply(
        [UncountMessageIds("b"), ClearUsage("b"), ClearUsageBuckets("b")], {"usage": 2}
    )
    queries = open_queries(store.location)
    try:
        assert queries.usage_copies() == []
        assert [b["thread_id"] for b in queries.usage_buckets((), ())] == ["a"]
    finally:
        queries.close()
