"""The user's own names for threads (issue #12): ``rename``, ``archive``, ``unarchive``.

Real transcript files and the real CLI, on both stores: a name given by id prefix is the
thread's title in ``threads``, ``show``, ``search`` and their ``--json``, and survives
every later import of its source (an append that writes a title of its own, a rewrite,
a copy and a move of the tree); an archived thread is listed only when asked for.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import ClaudeTree, append_transcript, run_cli, table, write_transcript

pytestmark = pytest.mark.both_stores

NAME = "My own name for it"


def listed(home: Path, *options: str) -> dict[str, dict[str, Any]]:
    result = run_cli("threads", "--json", *options, home=home)
    assert result.returncode == 0, result.stderr
    return {t["thread_id"]: t for t in result.json()}


def imported(path: Path, home: Path) -> list[str]:
    result = run_cli("import", path, "--json", home=home)
    assert result.returncode == 0, result.stderr
    return sorted(s["outcome"] for s in result.json()["sources"])


def thread_of(tree: ClaudeTree, name: str, home: Path) -> str:
    path = str(tree.session(name).path)
    [thread_id] = [t for t, row in listed(home, "--all").items() if row["source_path"] == path]
    return thread_id


def test_a_name_shows_everywhere_and_survives_append_rewrite_copy_and_move(
    claude_tree: ClaudeTree, home: Path, tmp_path: Path
) -> None:
    imported(claude_tree.claude_home, home)
    thread_id = thread_of(claude_tree, "middle", home)
    others = {t: row["title"] for t, row in listed(home).items() if t != thread_id}

    renamed = run_cli("rename", thread_id[:8], "My", "own  name", "for it", home=home)

    assert renamed.returncode == 0, renamed.stderr
    assert renamed.stdout.strip() == f"renamed {thread_id[:8]}: {NAME}"

    def shown_everywhere() -> None:
        row = listed(home)[thread_id]
        assert (row["title"], row["title_source"]) == (NAME, "user")
        assert NAME in run_cli("threads", home=home).stdout
        show = run_cli("show", thread_id[:8], "--json", home=home).json()
        assert show["thread"]["title"] == NAME
        header = run_cli("show", thread_id[:8], "--limit", "1", home=home).stdout
        assert header.startswith(NAME) and "named by you" in header
        found = run_cli("search", "middle", "--json", home=home).json()
        assert {r["title"] for r in found if r["thread_id"] == thread_id} == {NAME}
        assert {t: r["title"] for t, r in listed(home).items() if t != thread_id} == others

    shown_everywhere()
    session = claude_tree.session("middle")
    convo = session.conversation

    # The source grows, and names itself: the user's name still wins.
    convo.user("one more step in the middle session")
    convo.custom_title("A title the source wrote later")
    append_transcript(session.path, convo.records[-2:])
    assert imported(claude_tree.claude_home, home) == ["appended", "skipped", "skipped"]
    shown_everywhere()

    # Rewritten in place (Claude Code compacting it): its history replaced, the name kept.
    write_transcript(session.path, convo.records[:6])
    assert "replaced" in imported(claude_tree.claude_home, home)
    shown_everywhere()

    # A copy of the tree elsewhere, then the tree moved: the same thread, the same name.
    copy = tmp_path / "elsewhere" / ".claude"
    shutil.copytree(claude_tree.claude_home, copy)
    assert imported(copy, home) == ["known", "known", "known"]
    moved = tmp_path / "moved" / ".claude"
    shutil.move(claude_tree.claude_home, moved)
    convo.user("grown after the move")
    append_transcript(moved / session.path.relative_to(claude_tree.claude_home), convo.records[-1:])
    assert "appended" in imported(moved, home)
    shown_everywhere()

    # Rebuilt from the events, the name is still the title.
    before = table(home, "threads", "thread_id")
    assert run_cli("rebuild", "threads", home=home).returncode == 0
    assert table(home, "threads", "thread_id") == before


def test_an_archived_thread_is_listed_only_when_asked_for(
    claude_tree: ClaudeTree, home: Path
) -> None:
    imported(claude_tree.claude_home, home)
    thread_id = thread_of(claude_tree, "oldest", home)
    everyone = set(listed(home))

    archived = run_cli("archive", thread_id[:8], "--json", home=home)

    assert archived.returncode == 0, archived.stderr
    assert archived.json()["archived"] is True
    assert set(listed(home)) == everyone - {thread_id}
    assert set(listed(home, "--archived")) == {thread_id}
    assert set(listed(home, "--all")) == everyone
    assert listed(home, "--all")[thread_id]["archived"] is True
    assert "[archived]" in run_cli("threads", "--all", home=home).stdout
    again = run_cli("archive", thread_id, home=home)
    assert (again.returncode, again.stdout.strip()) == (0, f"{thread_id[:8]} was archived already")
    # Re-importing the source does not bring it back.
    claude_tree.session("oldest").conversation.user("still archived")
    session = claude_tree.session("oldest")
    append_transcript(session.path, session.records[-1:])
    assert "appended" in imported(claude_tree.claude_home, home)
    assert thread_id not in listed(home)

    unarchived = run_cli("unarchive", thread_id[:8], home=home)

    assert unarchived.returncode == 0, unarchived.stderr
    assert set(listed(home)) == everyone
    assert listed(home)[thread_id]["archived"] is False


def test_an_unknown_or_ambiguous_thread_and_an_empty_name_are_clear_errors(
    claude_tree: ClaudeTree, home: Path
) -> None:
    imported(claude_tree.claude_home, home)
    before = listed(home, "--all")

    unknown = run_cli("rename", "ffffffff", "A name", home=home)
    ambiguous = run_cli("archive", "", home=home)
    empty = run_cli("rename", next(iter(before))[:8], "  ", home=home)
    missing = run_cli("unarchive", "0000", home=home)

    assert (unknown.returncode, unknown.stderr) == (1, "threadline: no thread 'ffffffff'\n")
    assert ambiguous.returncode == 2
    assert "matches more than one thread" in ambiguous.stderr
    assert (empty.returncode, empty.stderr) == (2, "threadline: a thread's name cannot be empty\n")
    assert missing.returncode == 1
    for result in (unknown, ambiguous, empty, missing):
        assert "Traceback" not in result.stderr
    assert listed(home, "--all") == before
