"""The read use cases (``application.views``) on an in-memory ``ReadModels``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import pytest

from threadline.application import views
from threadline.application.read_queries import (
    ALL_PROJECTIONS,
    EAGER_PROJECTIONS,
    SearchQuery,
    ThreadQuery,
)
from threadline.application.usage import bucket_rows, load_prices, message_row
from threadline.application.views import (
    AmbiguousThreadError,
    ReadModelMissingError,
    ReadModels,
    StoreNotFoundError,
    ThreadNotFoundError,
)

Row = dict[str, Any]


def thread(thread_id: str, updated: str, item_count: int = 3) -> Row:
    return {
        "thread_id": thread_id,
        "title": f"thread {thread_id[:4]}",
        "created_at": "2026-10-01T00:00:00.000000Z",
        "updated_at": updated,
        "item_count": item_count,
        "models": b'["claude-opus"]',
        "archived": 0,
    }


THREADS = [
    thread("aaaa1111-0000", "2026-10-05T00:00:00.000000Z"),
    thread("aaaa2222-0000", "2026-10-04T00:00:00.000000Z"),
    thread("bbbb1111-0000", "2026-10-03T00:00:00.000000Z"),
]


class InMemoryReadModels:
    """The ``ReadModels`` port over a few rows; says whether it was closed."""

    def __init__(self, behind: Sequence[str] = ()) -> None:
        self.behind = set(behind)
        self.closed = False
        self.items = [
            {"type": "user", "parts": ["hello"]},
            {"type": "assistant", "parts": ["hi"]},
            {"type": "user", "parts": ["bye"]},
        ]

    def close(self) -> None:
        self.closed = True

    def is_behind(self, names: Sequence[str]) -> bool:
        return bool(self.behind & set(names))

    def threads(self, query: ThreadQuery) -> list[Row]:
        rows = [dict(r) for r in THREADS]
        return rows if query.limit is None else rows[: query.limit + 1]

    def thread(self, thread_id: str) -> Row | None:
        return next((dict(r) for r in THREADS if r["thread_id"] == thread_id), None)

    def find_threads(self, prefix: str) -> list[str]:
        return [r["thread_id"] for r in THREADS if r["thread_id"].startswith(prefix)][:2]

    def history(self, thread_id: str, start: int = 0, limit: int | None = None) -> list[Row]:
        rows = [
            {"position": p, "notification_id": 7, "item_index": p} for p in range(len(self.items))
        ]
        return rows[start:] if limit is None else rows[start : start + limit]

    def event_states(self, notification_ids: Sequence[int]) -> dict[int, bytes]:
        return {n: orjson.dumps({"items": self.items}) for n in notification_ids}

    def search(self, query: SearchQuery) -> list[Row]:
        return [{"thread_id": "aaaa1111-0000", "position": 0, "snippet": "hello", "rank": -2.5}]

    def ledger(self) -> list[Row]:
        return [{"source_path": "/p/a.jsonl", "outcome": "imported", "gone": 1}]

    def recorded_versions(self) -> dict[str, tuple[int, int, str | None]]:
        return {}

    def blob(self, key: str) -> bytes:
        raise KeyError(key)

    usage_missing = False
    """As if the usage tables were not there (an older usage read model's)."""

    def usage_buckets(
        self, cwds: Sequence[str], sources: Sequence[str], by_thread: bool = True
    ) -> list[Row]:
        if self.usage_missing:
            raise ReadModelMissingError("no usage tables")
        # Without by_thread, every thread's rows added up under thread id "".
        rows = [message_row(t if by_thread else "", 0, USAGE_ITEM) for t in ("parent", "child")]
        return [b._asdict() for b in bucket_rows(r for r in rows if r is not None)]

    def usage_copies(self) -> list[Row]:
        # One response, in the parent and replayed in its sub-agent: the parent's counts.
        return [usage_row("parent", 0), usage_row("child", 0) | {"sidechain": 1}]

    def usage_threads(self) -> list[Row]:
        return [
            {"thread_id": "parent", "agent": "claude-code", "cwd": "/w", "title": "P"}
            | {"parent_thread_id": None},
            {"thread_id": "child", "agent": "claude-code", "cwd": "/w", "title": "C"}
            | {"parent_thread_id": "parent"},
        ]


USAGE_ITEM = {
    "type": "assistant",
    "timestamp": "2026-10-05T14:02:00.000000Z",
    "message_id": "msg_1",
    "model": "claude-sonnet-4-5",
    "usage": {"input_tokens": 10, "output_tokens": 20},
}


def usage_row(thread_id: str, position: int) -> Row:
    row = message_row(thread_id, position, USAGE_ITEM)
    assert row is not None
    return row._asdict() | {"sidechain": 0}


class Opener:
    """Opens in-memory read models, each behind on ``behind`` until ``catch_up``."""

    def __init__(self, behind: Sequence[str] = (), store: bool = True) -> None:
        self.behind = list(behind)
        self.store = store
        self.opened: list[InMemoryReadModels] = []
        self.caught_up: list[list[str]] = []

    def open(self) -> ReadModels:
        if not self.store:
            raise StoreNotFoundError("no store here yet")
        read_models = InMemoryReadModels(self.behind)
        self.opened.append(read_models)
        return read_models

    def catch_up(self, names: Sequence[str]) -> None:
        self.caught_up.append(list(names))
        self.behind, self.store = [], True

    def rebuild(self, names: Sequence[str]) -> None:
        self.caught_up.append(["rebuilt", *names])
        self.missing = False

    missing = False

    def open_usage(self) -> ReadModels:
        read_models = self.open()
        read_models.usage_missing = self.missing  # type: ignore[attr-defined]
        return read_models


def test_read_models_that_have_seen_every_event_are_read_as_they_are() -> None:
    opener = Opener()

    read_models = views.up_to_date(opener.open, opener.catch_up, EAGER_PROJECTIONS)

    assert opener.caught_up == []
    assert read_models is opener.opened[0] and not opener.opened[0].closed


def test_read_models_behind_the_events_catch_up_first_and_are_read_afresh() -> None:
    opener = Opener(behind=["search"])

    read_models = views.up_to_date(opener.open, opener.catch_up, ALL_PROJECTIONS)

    assert opener.caught_up == [list(ALL_PROJECTIONS)]
    assert opener.opened[0].closed
    assert read_models is opener.opened[1] and not read_models.is_behind(ALL_PROJECTIONS)


def test_a_model_behind_that_is_not_asked_for_does_not_hold_the_read_up() -> None:
    opener = Opener(behind=["search"])

    views.up_to_date(opener.open, opener.catch_up, EAGER_PROJECTIONS)

    assert opener.caught_up == []


def test_a_missing_store_is_caught_up_into_being_before_it_is_read() -> None:
    opener = Opener(store=False)

    read_models = views.up_to_date(opener.open, opener.catch_up, EAGER_PROJECTIONS)

    assert opener.caught_up == [list(EAGER_PROJECTIONS)]
    assert read_models is opener.opened[0]


def test_a_unique_prefix_resolves_to_its_thread() -> None:
    assert views.resolve_thread(InMemoryReadModels(), "bbbb") == "bbbb1111-0000"


def test_a_prefix_no_thread_has_is_not_found() -> None:
    with pytest.raises(ThreadNotFoundError, match="no thread 'cccc'"):
        views.resolve_thread(InMemoryReadModels(), "cccc")


def test_a_prefix_of_two_threads_is_ambiguous() -> None:
    with pytest.raises(AmbiguousThreadError, match="more than one thread"):
        views.resolve_thread(InMemoryReadModels(), "aaaa")


def test_a_page_of_threads_gives_each_row_its_cursor_and_says_where_the_next_starts() -> None:
    page = views.list_threads(InMemoryReadModels(), ThreadQuery(limit=2))

    assert [r["thread_id"] for r in page["threads"]] == ["aaaa1111-0000", "aaaa2222-0000"]
    assert page["threads"][0]["models"] == ["claude-opus"]
    assert page["threads"][0]["archived"] is False
    assert page["threads"][1]["cursor"] == (
        "updated~desc~2026-10-04T00:00:00.000000Z~aaaa2222-0000"
    )
    assert page["next_cursor"] == page["threads"][1]["cursor"]


def test_the_last_page_of_threads_has_no_next_cursor() -> None:
    page = views.list_threads(InMemoryReadModels(), ThreadQuery(limit=3))

    assert len(page["threads"]) == 3
    assert page["next_cursor"] is None


def test_showing_a_thread_by_prefix_gives_its_items_with_positions_and_the_next_one() -> None:
    shown = views.show_thread(InMemoryReadModels(), "bbbb", start=0, limit=2)

    assert shown["thread"]["thread_id"] == "bbbb1111-0000"
    assert shown["thread"]["models"] == ["claude-opus"]
    assert [(i["position"], i["parts"]) for i in shown["items"]] == [(0, ["hello"]), (1, ["hi"])]
    assert shown["next_position"] == 2


def test_the_end_of_a_thread_has_no_next_position() -> None:
    shown = views.show_thread(InMemoryReadModels(), "bbbb", start=1)

    assert [i["position"] for i in shown["items"]] == [1, 2]
    assert shown["next_position"] is None


def test_search_results_score_higher_for_better_matches() -> None:
    rows = views.search(InMemoryReadModels(), SearchQuery("hello"))

    assert rows == [{"thread_id": "aaaa1111-0000", "position": 0, "snippet": "hello", "score": 2.5}]


def test_the_ledger_is_the_read_models_ledger_with_gone_as_a_flag() -> None:
    assert views.ledger(InMemoryReadModels()) == [
        {"source_path": "/p/a.jsonl", "outcome": "imported", "gone": True}
    ]


PRICES = load_prices(
    '{"models": {"claude-sonnet-4-5": {"input": 3, "output": 15,'
    ' "cache_write": 3.75, "cache_read": 0.3}}}'
)


def test_usage_catches_up_the_usage_read_model_and_counts_a_replayed_response_once() -> None:
    opener = Opener(behind=["usage"])

    report = views.usage(
        opener.open_usage, opener.catch_up, opener.rebuild, PRICES, "session", timezone="UTC"
    )

    assert opener.caught_up == [["usage"]]
    assert all(r.closed for r in opener.opened)
    [row] = report["rows"]
    assert (row["thread_id"], row["title"]) == ("parent", "P")
    assert (row["input_tokens"], row["output_tokens"], row["messages"]) == (10, 20, 1)
    assert report["totals"]["cost"] == pytest.approx((10 * 3 + 20 * 15) / 1e6)


def test_usage_tables_that_are_missing_are_rebuilt_and_read_again() -> None:
    opener = Opener()
    opener.missing = True

    report = views.usage(opener.open_usage, opener.catch_up, opener.rebuild, PRICES)

    assert opener.caught_up == [["rebuilt", "usage"]]
    assert len(opener.opened) == 2 and all(r.closed for r in opener.opened)
    assert report["totals"]["messages"] == 1
