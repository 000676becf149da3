"""``threadline search``: FTS5 over every item's text, ranked, with the match marked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import (
    _DATABASES,
    CWD_ROOT,
    ClaudeTree,
    Conversation,
    long_text,
    on_postgres,
    query,
    run_cli,
    session_uuid,
    slug,
    write_transcript,
)

pytestmark = pytest.mark.both_stores


def search(home: Path, *args: str) -> list[dict[str, Any]]:
    result = run_cli("search", *args, "--json", home=home)
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = result.json()
    return rows


def import_conversation(convo: Conversation, name: str, tmp_path: Path, home: Path) -> None:
    """Write ``convo`` as the transcript ``name`` of one project and import it."""
    path = tmp_path / ".claude" / "projects" / slug(f"{CWD_ROOT}/app") / f"{name}.jsonl"
    write_transcript(path, convo.records)
    assert run_cli("import", path, home=home).returncode == 0


def imported(tree: ClaudeTree, home: Path, *options: str) -> dict[str, str]:
    """Import the tree; return each session's thread id by name."""
    result = run_cli("import", tree.claude_home, "--json", *options, home=home)
    assert result.returncode == 0, result.stderr
    by_path = {s["path"]: s["thread_id"] for s in result.json()["sources"]}
    return {s.name: by_path[str(s.path)] for s in tree.sessions}


def test_search_finds_items_by_their_words_with_thread_position_role_and_marked_snippet(
    claude_tree: ClaudeTree, home: Path
) -> None:
    ids = imported(claude_tree, home)

    rows = search(home, "validate email")

    assert rows, "nothing found"
    best = rows[0]
    assert best["thread_id"] == ids["middle"]
    assert best["role"] == "user"
    assert best["snippet"] == "Now **validate** the **email** field"
    shown = run_cli("show", best["thread_id"], "--json", home=home).json()
    item = next(i for i in shown["items"] if i["position"] == best["position"])
    assert item["parts"] == ["Now validate the email field"]


def test_search_covers_reasoning_tool_calls_and_results(
    claude_tree: ClaudeTree, home: Path
) -> None:
    imported(claude_tree, home)

    roles = {r["role"] for r in search(home, "step", "--limit", "100")}
    assert {"reasoning", "assistant"} <= roles
    assert {r["role"] for r in search(home, "Bash")} >= {"tool_call"}
    assert {r["role"] for r in search(home, "txt")} == {"tool_result"}


def test_search_reads_texts_left_in_their_source_lines(tmp_path: Path, home: Path) -> None:
    convo = Conversation(session_uuid("big"))
    convo.user("Show me the log")
    call = convo.tool_turn("Bash", {"command": "cat log"}, long_text("start", 5000) + " zanzibar")
    assert call
    import_conversation(convo, "big", tmp_path, home)

    (hit,) = search(home, "zanzibar")

    assert hit["role"] == "tool_result"
    assert "**zanzibar**" in hit["snippet"]


def test_search_filters_by_cwd_and_source_and_limits(claude_tree: ClaudeTree, home: Path) -> None:
    ids = imported(claude_tree, home)

    web = search(home, "step", "--cwd", f"{CWD_ROOT}/web-app", "--limit", "100")
    assert {r["thread_id"] for r in web} == {ids["middle"], ids["oldest"]}
    assert search(home, "step", "--source", "codex") == []
    assert len(search(home, "step", "--limit", "2")) == 2


def test_search_finds_every_item_with_the_words_best_score_first(
    claude_tree: ClaudeTree, home: Path
) -> None:
    imported(claude_tree, home)

    rows = search(home, "release script")

    assert {r["snippet"] for r in rows} == {
        "Explain the **release** **script**",
        "**Release** **script** tidy-up",
    }
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)


def test_a_word_of_several_tokens_finds_them_in_any_order(tmp_path: Path, home: Path) -> None:
    convo = Conversation(session_uuid("tokens"))
    convo.user("rename cache_key")
    convo.assistant("the key of the cache is fine")
    convo.assistant("the cache is cold")
    import_conversation(convo, "tokens", tmp_path, home)

    rows = search(home, "cache_key")

    # Shortest first, on both stores.
    assert [r["position"] for r in rows] == [0, 1]


def test_import_with_no_index_leaves_search_to_catch_up_first(
    claude_tree: ClaudeTree, home: Path
) -> None:
    imported(claude_tree, home, "--no-index")
    assert query(home, "SELECT count(*) FROM search_items") == [(0,)]

    assert search(home, "flaky")

    assert query(home, "SELECT count(*) FROM search_items")[0][0] > 0


def test_a_rewritten_source_leaves_no_stale_search_rows(
    claude_tree: ClaudeTree, home: Path
) -> None:
    imported(claude_tree, home)
    assert search(home, "flaky")
    oldest = claude_tree.session("oldest")
    records = [r for r in oldest.records if "flaky" not in str(r)]
    write_transcript(oldest.path, records)
    imported(claude_tree, home)

    assert search(home, "flaky") == []


def test_human_search_output_and_queries_without_words(claude_tree: ClaudeTree, home: Path) -> None:
    imported(claude_tree, home)

    shown = run_cli("search", "dry-run", home=home)
    nothing = run_cli("search", "no-such-word-anywhere", home=home)
    bad = run_cli("search", "***", home=home)

    assert shown.returncode == 0, shown.stderr
    assert "Release script tidy-up" in shown.stdout
    assert "Add --dry-run" in shown.stdout
    assert nothing.returncode == 0
    assert "no matches" in nothing.stderr
    assert bad.returncode == 2
    assert "no words" in bad.stderr


def test_a_rewrite_leaves_no_stale_words_on_the_items_that_replace_it(
    tmp_path: Path, home: Path
) -> None:
    """The index keeps a deleted row's words (it is contentless): the items written after
    a rewrite must never be found by them (their ids are new, never reused)."""
    path = tmp_path / ".claude" / "projects" / slug(f"{CWD_ROOT}/app") / "only.jsonl"
    first = Conversation(session_uuid("only"))
    first.user("the quokka hides in the first version")
    first.assistant("a quokka indeed")
    write_transcript(path, first.records)
    assert run_cli("import", path, home=home).returncode == 0
    assert len(search(home, "quokka")) == 2
    second = Conversation(session_uuid("only"))
    second.user("the second version mentions wombats")
    second.assistant("wombats only")
    write_transcript(path, second.records)
    assert run_cli("import", path, home=home).returncode == 0

    assert search(home, "quokka") == []
    assert {r["snippet"] for r in search(home, "wombats")} == {
        "the second version mentions **wombats**",
        "**wombats** only",
    }


def test_a_match_deep_in_a_long_tool_output_gets_a_snippet_around_it(
    tmp_path: Path, home: Path
) -> None:
    convo = Conversation(session_uuid("long"))
    convo.user("Run the build")
    convo.tool_turn("Bash", {"command": "make"}, long_text("build", 60_000) + " linker zanzibar")
    import_conversation(convo, "long", tmp_path, home)

    (hit,) = search(home, "zanzibar")

    assert hit["role"] == "tool_result"
    assert hit["snippet"].startswith("…")
    assert hit["snippet"].endswith("linker **zanzibar**")


def test_every_word_of_a_very_long_tool_output_is_found_wherever_it_lies(
    tmp_path: Path, home: Path
) -> None:
    # Words ~200 K characters apart in one item, and one past the first 64 Ki characters
    # (where PostgreSQL's index once cut its rows), are found together, on both stores.
    head = "wombat " + long_text("log", 65_530 - len("wombat "))
    output = head + " straddling " + long_text("tail", 150_000) + " numbat"
    assert head.rfind(" ") < 65_536 < len(head) + len(" straddling")
    convo = Conversation(session_uuid("very-long"))
    convo.user("Run the soak test")
    convo.tool_turn("Bash", {"command": "make soak"}, output)
    convo.user("So the wombat met the numbat?")
    import_conversation(convo, "very-long", tmp_path, home)

    far_apart = search(home, "wombat numbat")
    across = search(home, "straddling")

    # The words side by side first, then the words a row or more apart.
    assert [(r["role"], r["position"]) for r in far_apart] == [("user", 4), ("tool_result", 3)]
    assert [(r["role"], r["position"]) for r in across] == [("tool_result", 3)]
    assert "**straddling**" in across[0]["snippet"]


def test_a_word_at_the_end_of_a_tool_output_of_more_than_a_mebibyte_is_found(
    tmp_path: Path, home: Path
) -> None:
    convo = Conversation(session_uuid("huge"))
    convo.user("Run the whole suite")
    convo.tool_turn("Bash", {"command": "pytest"}, long_text("PASSED", 1_200_000) + " segfault")
    import_conversation(convo, "huge", tmp_path, home)

    (hit,) = search(home, "segfault")

    assert hit["role"] == "tool_result"
    assert hit["snippet"].endswith("**segfault**")


def test_words_with_underscores_diacritics_cjk_and_digits_find_the_same_items_on_both_stores(
    tmp_path: Path, home: Path
) -> None:
    """One tokenizer (``search_words``) for PostgreSQL's index and every query: the same
    items as SQLite's FTS5 (``unicode61 remove_diacritics 2``) finds."""
    convo = Conversation(session_uuid("words"))
    convo.user("rename snake_case_name in x86_64 builds")
    convo.assistant("Crème brûlée au Café, cafe\u0301s")
    convo.assistant("東京タワー 東京 に行く")
    convo.assistant("release v1.2.3 on x86")
    import_conversation(convo, "words", tmp_path, home)

    def found(text: str) -> list[int]:
        return [r["position"] for r in search(home, text)]

    assert found("case_name") == found("name CASE") == [0]
    assert found("creme") == found("BRÛLÉE") == found("cafes") == [1]
    assert found("東京") == [2]
    assert found("東京タワー") == [2]
    assert found("タワー") == [2]  # CJK runs are indexed as their bigrams (ADR 0015)
    assert found("x86") == [3, 0]
    assert found("64") == [0]
    assert found("v1.2") == [3]
    assert search(home, "café")[0]["snippet"] == "Crème brûlée au **Café**, cafe\u0301s"


def test_an_item_of_more_distinct_words_than_a_tsvector_holds_is_found_by_any_of_them(
    tmp_path: Path, home: Path
) -> None:
    # 1.3 MB of distinct words: more than one PostgreSQL ``tsvector`` holds (1 MiB), so
    # that item's words are in several rows there; found by words in any of them at once.
    output = " ".join(f"hash{i:08x}" for i in range(110_000))
    convo = Conversation(session_uuid("hashes"))
    convo.user("List the hashes")
    convo.tool_turn("Bash", {"command": "list"}, output)
    convo.user("hash00000000 first")
    import_conversation(convo, "hashes", tmp_path, home)

    both_ends = search(home, "hash00000000 hash0001adaf")
    each = [search(home, f"hash{i:08x}") for i in (0, 55_000, 109_999)]

    assert [(r["role"], r["position"]) for r in both_ends] == [("tool_result", 3)]
    assert [[r["position"] for r in rows] for rows in each] == [[4, 3], [3], [3]]
    if on_postgres(home):
        assert query(home, "SELECT max(chunks) FROM search_items") == [(2,)]


CJK_TEXTS = [
    "東京タワーに行きました",
    "我住在东京市。东京很大",
    "서울에서 만나요",
    "Python3でテストする、東京towerも",
    "京都の寺",
]


def import_cjk(tmp_path: Path, home: Path) -> None:
    convo = Conversation(session_uuid("cjk"))
    convo.user(CJK_TEXTS[0])
    for text in CJK_TEXTS[1:]:
        convo.assistant(text)
    import_conversation(convo, "cjk", tmp_path, home)


def test_chinese_japanese_and_korean_words_are_found_inside_runs_of_letters(
    tmp_path: Path, home: Path
) -> None:
    import_cjk(tmp_path, home)

    def found(text: str) -> dict[int, str]:
        return {r["position"]: r["snippet"] for r in search(home, text, "--limit", "100")}

    assert found("タワー") == {0: "東京**タワー**に行きました"}
    assert found("行き") == {0: "東京タワーに**行き**ました"}
    assert found("タワー 行き") == {0: "東京**タワー**に**行き**ました"}
    assert found("东京") == {1: "我住在**东京**市。**东京**很大"}
    assert found("서울") == {2: "**서울**에서 만나요"}
    assert found("만나") == {2: "서울에서 **만나**요"}
    # One letter: every item that holds it, wherever it is in its run.
    assert found("京") == {
        0: "東**京**タワーに行きました",
        1: "我住在东**京**市。东**京**很大",
        3: "Python3でテストする、東**京**towerも",
        4: "**京**都の寺",
    }
    assert found("寺") == {4: "京都の**寺**"}
    # Mixed scripts: a run ends where the script changes.
    assert found("tower") == {3: "Python3でテストする、東京**tower**も"}
    assert found("東京tower") == {3: "Python3でテストする、**東京****tower**も"}
    assert found("Python3") == {3: "**Python3**でテストする、東京towerも"}
    assert found("python3で") == {3: "**Python3****で**テストする、東京towerも"}


def test_a_cjk_query_whose_bigrams_are_not_all_in_one_item_does_not_find_it(
    tmp_path: Path, home: Path
) -> None:
    import_cjk(tmp_path, home)

    def found(text: str) -> list[int]:
        return [r["position"] for r in search(home, text)]

    assert found("東京") == [0, 3]
    assert found("京都") == [4]
    # Each bigram of "東京都" is in some item, but no item holds both; "タ" and "京" are
    # in item 0, never "タ京"; "东京" (simplified) is not "東京".
    assert found("東京都") == []
    assert found("東京 京都") == []
    assert found("タ京") == []
    assert found("东京タワー") == []


def _indexed_as_schema_12_left_it(home: Path) -> None:
    """Each item's index words as read-model schema 12 made them: a CJK run one word."""
    from threadline.application.search_words import words

    if on_postgres(home):
        import psycopg

        with psycopg.connect(_DATABASES[home], options="-c search_path=threadline") as conn:
            for position, text in enumerate(CJK_TEXTS):
                conn.execute(
                    "UPDATE search_items SET words = %s::tsvector WHERE position = %s",
                    (" ".join(set(words(text))), position),
                )
            conn.execute("UPDATE read_model_schema SET version = 12")
        return
    import sqlite3

    conn = sqlite3.connect(home / "threadline.db")
    try:
        conn.execute("INSERT INTO search_text (search_text) VALUES ('delete-all')")
        for position, text in enumerate(CJK_TEXTS):
            conn.execute(
                "INSERT INTO search_text (rowid, text)"
                " SELECT id, ? FROM search_items WHERE position = ?",
                (text, position),
            )
        conn.execute("UPDATE read_model_schema SET version = 12")
        conn.commit()
    finally:
        conn.close()


def test_a_store_indexed_before_cjk_bigrams_rebuilds_its_index_and_finds_cjk_words(
    tmp_path: Path, home: Path
) -> None:
    import_cjk(tmp_path, home)
    _indexed_as_schema_12_left_it(home)

    found = search(home, "タワー")

    assert [(r["position"], r["snippet"]) for r in found] == [(0, "東京**タワー**に行きました")]
    assert query(home, "SELECT version FROM read_model_schema") == [(13,)]
