"""``threadline threads``: filters, order and cursor paging, on a real store, through the CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    CWD_ROOT,
    ClaudeTree,
    Conversation,
    build_session,
    run_cli,
    session_uuid,
    slug,
    write_transcript,
)

pytestmark = pytest.mark.both_stores


def imported(tree: ClaudeTree, home: Path) -> None:
    result = run_cli("import", tree.claude_home, "--json", home=home)
    assert result.returncode == 0, result.stderr


def listed(home: Path, *options: str) -> list[dict[str, Any]]:
    result = run_cli("threads", "--json", *options, home=home)
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = result.json()
    return rows


def names(tree: ClaudeTree, rows: list[dict[str, Any]]) -> list[str]:
    by_path = {str(s.path): s.name for s in tree.sessions}
    return [by_path[r["source_path"]] for r in rows]


def all_pages(home: Path, *options: str) -> list[list[dict[str, Any]]]:
    pages, cursor = [], None
    while True:
        page = listed(home, *options, *(["--cursor", cursor] if cursor else []))
        if not page:
            return pages
        pages.append(page)
        cursor = page[-1]["cursor"]


def test_threads_filter_by_cwd_source_and_date_range(claude_tree: ClaudeTree, home: Path) -> None:
    imported(claude_tree, home)

    assert names(claude_tree, listed(home, "--cwd", f"{CWD_ROOT}/web-app")) == [
        "middle",
        "oldest",
    ]
    assert names(
        claude_tree, listed(home, "--cwd", f"{CWD_ROOT}/web-app", "--cwd", f"{CWD_ROOT}/cli-tool")
    ) == ["newest", "middle", "oldest"]
    assert listed(home, "--cwd", f"{CWD_ROOT}/nowhere") == []
    assert len(listed(home, "--source", "claude-code")) == 3
    assert listed(home, "--source", "codex") == []
    # middle runs on 2025-03-03, newest on 2025-03-06, oldest on 2025-03-01 (UTC).
    assert names(claude_tree, listed(home, "--since", "2025-03-02", "--until", "2025-03-05")) == [
        "middle"
    ]
    assert names(claude_tree, listed(home, "--since", "2025-03-06T00:00+00:00")) == ["newest"]
    assert names(claude_tree, listed(home, "--until", "2025-03-02")) == ["oldest"]


def test_threads_sort_by_created_or_updated_in_either_direction(tmp_path: Path, home: Path) -> None:
    projects = tmp_path / ".claude" / "projects"
    base = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    # "long" starts first but is updated last: the two orders differ.
    long = build_session(
        projects, "long", cwd=f"{CWD_ROOT}/a", branch="main", start=base, prompts=["x"] * 40
    )
    short = build_session(
        projects,
        "short",
        cwd=f"{CWD_ROOT}/a",
        branch="main",
        start=base + timedelta(minutes=5),
        prompts=["y"],
    )
    tree = ClaudeTree(tmp_path, [long, short])
    imported(tree, home)

    assert names(tree, listed(home)) == ["long", "short"]
    assert names(tree, listed(home, "--order", "asc")) == ["short", "long"]
    assert names(tree, listed(home, "--sort", "created")) == ["short", "long"]
    assert names(tree, listed(home, "--sort", "created", "--order", "asc")) == ["long", "short"]


def test_cursor_pages_cover_every_thread_once_in_order(claude_tree: ClaudeTree, home: Path) -> None:
    imported(claude_tree, home)
    for options in (
        ("--limit", "1"),
        ("--limit", "2", "--sort", "created", "--order", "asc"),
    ):
        pages = all_pages(home, *options)
        every = listed(home, *options[2:])
        assert [r["thread_id"] for page in pages for r in page] == [r["thread_id"] for r in every]
        assert all(len(page) <= int(options[1]) for page in pages)


def test_cursor_paging_stays_correct_while_new_threads_arrive(
    claude_tree: ClaudeTree, home: Path
) -> None:
    imported(claude_tree, home)
    first = listed(home, "--limit", "1", "--sort", "created", "--order", "asc")
    assert names(claude_tree, first) == ["oldest"]
    # Threads arrive between pages: one older than every listed one, one in the middle.
    base = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    for name, start in (("older", base - timedelta(days=9)), ("between", base + timedelta(days=1))):
        claude_tree.sessions.append(
            build_session(
                claude_tree.projects,
                name,
                cwd=f"{CWD_ROOT}/web-app",
                branch="main",
                start=start,
                prompts=[name],
            )
        )
    imported(claude_tree, home)

    rest = listed(home, "--sort", "created", "--order", "asc", "--cursor", first[-1]["cursor"])

    # Keyset paging: nothing repeats, the thread that arrived after the cursor is seen,
    # and the one that arrived before it is not (it sorts before the page already read).
    assert names(claude_tree, rest) == ["between", "middle", "newest"]


def test_archived_and_parent_filters(tmp_path: Path, home: Path) -> None:
    convo = Conversation(session_uuid("inline"))
    convo.user("Use a sub-agent to count the files")
    main_parent = convo.parent
    convo.is_sidechain, convo.parent = True, None
    convo.user("count files")
    convo.is_sidechain, convo.parent = False, main_parent
    convo.assistant("Done.")
    path = tmp_path / ".claude" / "projects" / slug(f"{CWD_ROOT}/app") / "s.jsonl"
    convo.write(path)
    assert run_cli("import", path, home=home).returncode == 0
    rows = listed(home)
    (parent,) = [r for r in rows if r["parent_thread_id"] is None]
    (child,) = [r for r in rows if r["parent_thread_id"] is not None]

    assert listed(home, "--parent", parent["thread_id"][:8]) == [child]
    assert listed(home, "--top-level") == [parent]
    # Nothing archives threads yet: archived threads are hidden by default, shown by --all.
    assert listed(home, "--archived") == []
    assert len(listed(home, "--all")) == 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--cursor", "not-a-cursor"), "not a thread-list cursor"),
        (("--since", "last tuesday"), "not a date, time or age"),
        (("--limit", "0"), "--limit must be at least 1"),
    ],
)
def test_bad_thread_list_options_are_usage_errors(
    claude_tree: ClaudeTree, home: Path, options: tuple[str, ...], message: str
) -> None:
    imported(claude_tree, home)

    result = run_cli("threads", *options, home=home)

    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_cursor_only_continues_the_order_it_came_from(
    claude_tree: ClaudeTree, home: Path
) -> None:
    imported(claude_tree, home)
    cursor = listed(home, "--limit", "1")[0]["cursor"]

    result = run_cli("threads", "--sort", "created", "--cursor", cursor, home=home)

    assert result.returncode == 2
    assert "the cursor is for --sort updated --order desc" in result.stderr


def test_the_table_names_the_next_page_when_there_is_one(
    claude_tree: ClaudeTree, home: Path
) -> None:
    imported(claude_tree, home)

    result = run_cli("threads", "--limit", "2", home=home, env={"COLUMNS": "160"})

    assert result.returncode == 0, result.stderr
    assert "Release script tidy-up" in result.stdout
    assert "Fix the flaky date test" not in result.stdout
    cursor = listed(home, "--limit", "2")[-1]["cursor"]
    assert f"threadline threads --cursor {cursor}" in result.stderr
    last = run_cli("threads", "--limit", "2", "--cursor", cursor, home=home)
    assert "Fix the flaky date test" in last.stdout
    assert "--cursor" not in last.stderr


def test_a_caught_up_thread_list_loads_neither_the_event_store_nor_the_search_code(
    claude_tree: ClaudeTree, home: Path
) -> None:
    """``threads`` is a cold process every time: it must stay a few SQL queries."""
    imported(claude_tree, home)

    result = run_cli("threads", home=home, env={"PYTHONPROFILEIMPORTTIME": "1"})

    assert result.returncode == 0, result.stderr
    loaded = {
        line.rsplit("|", 1)[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    heavy = {"pydantic", "eventsourcing", "rich"}
    assert {m for m in loaded if m.split(".")[0] in heavy} == set()
    assert {m for m in loaded if m.startswith("threadline.domain")} == set()
    assert {
        "threadline.application.history",
        "threadline.application.projections",
    } & loaded == set()


def test_the_ledger_shows_each_location_whole_on_a_line_of_its_own(
    tmp_path: Path, home: Path
) -> None:
    convo = Conversation(session_uuid("ledger-line"))
    convo.user("hello")
    folder = tmp_path / ".claude" / "projects" / ("-a-[bold]long-" + "x" * 80)
    path = folder / f"{convo.session_id}.jsonl"
    write_transcript(path, convo.records)
    imported = run_cli("import", path, "--json", home=home)
    assert imported.returncode == 0, imported.stderr
    thread_id = imported.json()["sources"][0]["thread_id"]

    shown = run_cli("ledger", home=home, env={"COLUMNS": "60"})

    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    at = lines.index(str(path))  # whole, markup-like text and all, however narrow
    assert lines[at + 1].split()[:3] == ["imported", "thread", thread_id[:8]]
