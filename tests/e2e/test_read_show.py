"""``threadline show``: history paged by position; a transcript for people, JSON, Markdown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import (
    CWD_ROOT,
    Conversation,
    long_text,
    run_cli,
    session_uuid,
    slug,
    thinking,
    write_transcript,
)

pytestmark = pytest.mark.both_stores

BIG_OUTPUT = long_text("output", 6000) + "\nsecond line\nthird line"


def imported_thread(tmp_path: Path, home: Path) -> str:
    convo = Conversation(session_uuid("show"))
    convo.user("List the files, please")
    convo.assistant(thinking("I should run ls."), "Let me look.")
    convo.tool_turn("Bash", {"command": "ls -la"}, BIG_OUTPUT)
    convo.assistant("There are many files.")
    path = tmp_path / ".claude" / "projects" / slug(f"{CWD_ROOT}/app") / "show.jsonl"
    write_transcript(path, convo.records)
    result = run_cli("import", path, "--json", home=home)
    assert result.returncode == 0, result.stderr
    thread_id: str = result.json()["sources"][0]["thread_id"]
    return thread_id


def show_json(home: Path, *args: str) -> dict[str, Any]:
    result = run_cli("show", *args, "--json", home=home)
    assert result.returncode == 0, result.stderr
    shown: dict[str, Any] = result.json()
    return shown


def test_history_pages_by_position(tmp_path: Path, home: Path) -> None:
    thread_id = imported_thread(tmp_path, home)
    whole = show_json(home, thread_id)
    count = whole["thread"]["item_count"]
    assert whole["next_position"] is None

    pages, start = [], 0
    while start is not None:
        page = show_json(home, thread_id, "--from", str(start), "--limit", "2")
        pages.append(page["items"])
        start = page["next_position"]

    assert [i for page in pages for i in page] == whole["items"]
    assert [len(p) for p in pages] == [2] * (count // 2) + ([count % 2] if count % 2 else [])
    assert show_json(home, thread_id, "--from", str(count))["items"] == []


def test_the_transcript_folds_tool_calls_and_results_to_a_line_with_their_size(
    tmp_path: Path, home: Path
) -> None:
    thread_id = imported_thread(tmp_path, home)

    result = run_cli("show", thread_id[:8], home=home, env={"COLUMNS": "120"})

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "List the files, please" in out
    assert "I should run ls." in out
    (call,) = [line for line in out.splitlines() if line.startswith("→ Bash")]
    assert "ls -la" in call
    (res,) = [line for line in out.splitlines() if line.startswith("← result")]
    assert f"({len(BIG_OUTPUT.encode()) / 1024:.1f} KiB, 3 lines)" in res
    assert "second line" not in out
    assert len(res) <= 120


def test_full_shows_tool_output_whole(tmp_path: Path, home: Path) -> None:
    thread_id = imported_thread(tmp_path, home)

    result = run_cli("show", thread_id, "--full", home=home)

    assert result.returncode == 0, result.stderr
    assert "second line\nthird line" in result.stdout
    assert BIG_OUTPUT.split("\n")[0] in result.stdout.replace("\n", "")


def test_markdown_export(tmp_path: Path, home: Path) -> None:
    thread_id = imported_thread(tmp_path, home)

    folded = run_cli("show", thread_id, "--markdown", home=home)
    full = run_cli("show", thread_id, "--markdown", "--full", home=home)

    assert folded.returncode == 0, folded.stderr
    md = folded.stdout
    assert md.startswith("# List the files, please\n")
    assert f"- thread: `{thread_id}`" in md
    assert "## User · 2025-03-01 09:00\n\nList the files, please\n" in md
    assert "> I should run ls." in md
    assert "*← result (" in md
    assert "second line" not in md
    assert f"~~~\n{BIG_OUTPUT}\n~~~" in full.stdout


def test_show_usage_errors(tmp_path: Path, home: Path) -> None:
    thread_id = imported_thread(tmp_path, home)

    both = run_cli("show", thread_id, "--json", "--markdown", home=home)
    negative = run_cli("show", thread_id, "--from", "-1", home=home)
    missing = run_cli("show", "ffffffff", home=home)

    assert both.returncode == negative.returncode == 2
    assert missing.returncode == 1
    assert "no thread 'ffffffff'" in missing.stderr
