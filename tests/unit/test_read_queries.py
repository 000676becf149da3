"""The database-independent parts of reading: cursors, time bounds, the thread-list SQL."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from threadline.adapters.persistence.read_models import thread_list_sql
from threadline.application.read_queries import (
    BadQueryError,
    Cursor,
    SearchQuery,
    ThreadQuery,
    parse_moment,
    row_cursor,
    snippet,
)


def test_a_cursor_survives_encoding() -> None:
    cursor = Cursor("created", "asc", "2025-03-01T09:00:00.000000Z", "a-b-c")

    assert Cursor.decode(cursor.encode()) == cursor


@pytest.mark.parametrize("text", ["", "x", "updated~sideways~v~id", "elsewhere~asc~v~id"])
def test_a_malformed_cursor_is_refused(text: str) -> None:
    with pytest.raises(BadQueryError):
        Cursor.decode(text)


def test_time_bounds_are_utc_text_that_sorts_with_stored_timestamps() -> None:
    now = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)

    assert parse_moment("2025-03-01") == "2025-03-01T00:00:00.000000Z"
    assert parse_moment("2025-03-01T10:30+02:00") == "2025-03-01T08:30:00.000000Z"
    assert parse_moment("7d", now) == "2025-03-03T12:00:00.000000Z"
    assert parse_moment("90m", now) == "2025-03-10T10:30:00.000000Z"
    with pytest.raises(BadQueryError):
        parse_moment("yesterday")


def test_search_words_become_quoted_fts_terms() -> None:
    assert SearchQuery('fix "the" date-test').fts() == '"fix" "the" "date" "test"'
    # The index keeps no positions: a word of several tokens is each of them.
    assert SearchQuery("cache_key").fts() == '"cache" "key"'
    assert SearchQuery("__").fts() == ""
    # CJK: a run is its bigrams, one letter a prefix; a run ends where the script changes.
    assert SearchQuery("東京タワー").fts() == '"東京" "京タ" "タワ" "ワー"'
    assert SearchQuery("京 Python3で").fts() == '"Python3" "京"* "で"*'
    assert SearchQuery("京 Python3で").words == ("python3", "京", "で")
    with pytest.raises(BadQueryError):
        SearchQuery("*** ???")


def keyset_walk(rows: list[tuple[str, str | None, str | None]], query: ThreadQuery) -> list[str]:
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE TABLE threads (thread_id TEXT, created_at TEXT, updated_at TEXT, cwd TEXT,"
        " source_agent TEXT, archived INTEGER DEFAULT 0, parent_thread_id TEXT)"
    )
    conn.executemany(
        "INSERT INTO threads (thread_id, created_at, updated_at) VALUES (?, ?, ?)", rows
    )
    seen: list[str] = []
    while True:
        sql, params = thread_list_sql(query)
        page = conn.execute(sql, params).fetchall()[: query.limit]
        if not page:
            return seen
        seen.extend(r[0] for r in page)
        last = {"thread_id": page[-1][0], "created_at": page[-1][1], "updated_at": page[-1][2]}
        query = ThreadQuery(
            sort=query.sort,
            direction=query.direction,
            limit=query.limit,
            after=Cursor.decode(row_cursor(query, last)),
        )


@pytest.mark.parametrize("sort", ["created", "updated"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_keyset_pages_visit_every_row_once_even_with_ties_and_missing_times(
    sort: str, direction: str
) -> None:
    rows = [
        ("t1", "2025-03-01T00:00:00.000000Z", "2025-03-02T00:00:00.000000Z"),
        ("t2", "2025-03-01T00:00:00.000000Z", "2025-03-02T00:00:00.000000Z"),
        ("t3", None, None),
        ("t0", "2025-03-01T00:00:00.000000Z", None),
        ("t4", None, "2025-03-03T00:00:00.000000Z"),
        ("t5", "2025-02-01T00:00:00.000000Z", "2025-03-05T00:00:00.000000Z"),
    ]

    def query(limit: int) -> ThreadQuery:
        return ThreadQuery(sort=sort, direction=direction, limit=limit)  # type: ignore[arg-type]

    walked = keyset_walk(rows, query(2))

    assert sorted(walked) == sorted(r[0] for r in rows)
    assert len(walked) == len(set(walked))
    assert walked == keyset_walk(rows, query(100))


def test_thread_list_sql_uses_the_placeholder_it_is_given() -> None:
    query = ThreadQuery(cwds=("/a", "/b"), sources=("claude-code",), parent="p", limit=5)

    sql, params = thread_list_sql(query, mark="%s")

    assert "?" not in sql
    assert sql.count("%s") == len(params) == 6


def marked(text: str, *terms: str) -> str:
    return snippet(text, terms, "[", "]")


def test_a_short_text_is_its_own_snippet_with_every_query_word_marked() -> None:
    assert marked("Now validate the email field", "validate", "email") == (
        "Now [validate] the [email] field"
    )
    assert marked("Deploy: RÉSUMÉ and résumé", "resume") == "Deploy: [RÉSUMÉ] and [résumé]"
    assert marked("nothing to see here", "absent") == "nothing to see here"


def test_a_cjk_word_of_the_query_is_marked_inside_a_run_of_cjk_letters() -> None:
    assert marked("東京タワーに行きました", "タワー") == "東京[タワー]に行きました"
    assert marked("我住在东京市。东京很大", "东京") == "我住在[东京]市。[东京]很大"
    assert marked("서울에서 만나요", "서울") == "[서울]에서 만나요"
    assert marked("東京towerで", "tower", "で") == "東京[tower][で]"
    assert marked("東京タワーに行きました", "京") == "東[京]タワーに行きました"
    assert marked("京都に行きました", "東京") == "京都に行きました"


def test_a_long_text_is_cut_around_a_cjk_match_far_into_it() -> None:
    text = "start, " + "lorem, ipsum, " * 10_000 + "東京タワーに行きました。" + " dolor" * 10_000

    cut = marked(text, "タワー")

    assert cut.startswith("…") and cut.endswith("…")
    assert "東京[タワー]に行きました。" in cut


def test_a_snippet_is_sixteen_words_around_the_best_match_with_ellipses() -> None:
    text = (
        " ".join(f"w{i}" for i in range(100)) + " needle " + " ".join(f"v{i}" for i in range(100))
    )

    cut = marked(text, "needle")

    assert cut.startswith("…") and cut.endswith("…")
    assert "[needle]" in cut
    assert len(cut.strip("…").split()) == 16


def test_a_snippet_prefers_the_window_with_more_of_the_query_words() -> None:
    text = "alpha " + "filler " * 50 + "alpha beta together " + "filler " * 50

    assert "[alpha] [beta]" in marked(text, "alpha", "beta")


def test_a_long_text_is_cut_around_a_match_far_into_it() -> None:
    text = "start " + "lorem ipsum " * 100_000 + "Zanzibar at the end"

    cut = marked(text, "zanzibar")

    assert cut.startswith("…")
    assert cut.endswith("[Zanzibar] at the end")
