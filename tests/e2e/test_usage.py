"""``threadline usage`` on real transcript files, through the CLI, on both stores: each API
response counts once however many lines, files and locations repeat it."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    CWD_ROOT,
    Conversation,
    append_transcript,
    run_cli,
    session_uuid,
    slug,
    write_transcript,
)

pytestmark = pytest.mark.both_stores

SONNET = "claude-sonnet-4-5-20250929"


def answer(
    conv: Conversation,
    message_id: str,
    *,
    request_id: str | None = None,
    text: str = "ok",
    model: str = SONNET,
    **usage: int,
) -> dict[str, Any]:
    """One assistant line (a whole response, or one streamed fragment of it)."""
    message = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": None,
        "usage": {"input_tokens": 0, "output_tokens": 0} | usage,
    }
    return conv.envelope("assistant", message=message, requestId=request_id or f"req_{message_id}")


def project_dir(root: Path, cwd: str) -> Path:
    return root / ".claude" / "projects" / slug(cwd)


def usage(home: Path, *options: str) -> dict[str, Any]:
    result = run_cli("usage", "--json", "--timezone", "UTC", *options, home=home)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = result.json()
    return report


def totals(home: Path, *options: str) -> dict[str, int]:
    t = usage(home, *options)["totals"]
    return {k: t[f"{k}_tokens"] for k in ("input", "output", "cache_creation", "cache_read")}


def imported(home: Path, *paths: Path) -> None:
    for path in paths:
        result = run_cli("import", path, "--json", home=home)
        assert result.returncode == 0, result.stderr


def test_streamed_fragments_count_once_with_their_final_usage(tmp_path: Path, home: Path) -> None:
    conv = Conversation(session_uuid("fragments"))
    conv.user("Fix the test")
    # One response written as three lines: provisional output counts, then the final one.
    answer(
        conv,
        "msg_f",
        text="Looking.",
        input_tokens=10,
        output_tokens=9,
        cache_read_input_tokens=100,
    )
    answer(
        conv,
        "msg_f",
        text="Found it.",
        input_tokens=10,
        output_tokens=9,
        cache_read_input_tokens=100,
    )
    answer(
        conv, "msg_f", text="Done.", input_tokens=10, output_tokens=209, cache_read_input_tokens=100
    )
    conv.write(project_dir(tmp_path, conv.cwd or "") / f"{conv.session_id}.jsonl")
    imported(home, tmp_path / ".claude")

    assert totals(home) == {"input": 10, "output": 209, "cache_creation": 0, "cache_read": 100}
    assert usage(home)["totals"]["messages"] == 1


def test_a_fragment_appended_later_replaces_the_provisional_usage(
    tmp_path: Path, home: Path
) -> None:
    conv = Conversation(session_uuid("appended"))
    conv.user("Go")
    answer(conv, "msg_a", text="Start", input_tokens=10, output_tokens=5)
    path = conv.write(project_dir(tmp_path, conv.cwd or "") / f"{conv.session_id}.jsonl")
    imported(home, path)
    assert totals(home)["output"] == 5

    rest = Conversation(conv.session_id, start=conv.start, _n=conv._n, parent=conv.parent)
    answer(rest, "msg_a", text="and finish", input_tokens=10, output_tokens=120)
    append_transcript(path, rest.records)
    imported(home, path)
    assert totals(home) == {"input": 10, "output": 120, "cache_creation": 0, "cache_read": 0}


def test_a_resumed_session_repeating_earlier_lines_counts_them_once(
    tmp_path: Path, home: Path
) -> None:
    first = Conversation(session_uuid("first"))
    first.user("Start")
    answer(first, "msg_1", input_tokens=100, output_tokens=10)
    first.user("More")
    answer(first, "msg_2", input_tokens=200, output_tokens=20)
    folder = project_dir(tmp_path, first.cwd or "")
    first.write(folder / f"{first.session_id}.jsonl")
    # `claude --resume`: a new file replays the earlier lines (same uuids, message and
    # request ids) under the new session id, then goes on.
    resumed_id = session_uuid("resumed")
    replay = [r | {"sessionId": resumed_id} for r in first.records]
    more = Conversation(resumed_id, start=first.start, _n=first._n, parent=first.parent)
    more.user("And the docs")
    answer(more, "msg_3", input_tokens=300, output_tokens=30)
    write_transcript(folder / f"{resumed_id}.jsonl", replay + more.records)
    imported(home, tmp_path / ".claude")

    assert totals(home) == {"input": 600, "output": 60, "cache_creation": 0, "cache_read": 0}
    assert usage(home)["totals"]["messages"] == 3


def test_a_sub_agent_replaying_its_parent_counts_the_parents_copy(
    tmp_path: Path, home: Path
) -> None:
    parent = Conversation(session_uuid("parent"))
    parent.user("Find the bug")
    answer(parent, "msg_p1", input_tokens=50, output_tokens=5, cache_read_input_tokens=1000)
    call = parent.tool_turn("Task", {"description": "search", "prompt": "look"}, "found it")
    parent.records[-1]["toolUseResult"] = {"agentId": "a1b2c3d", "status": "completed"}
    answer(parent, "msg_p2", input_tokens=60, output_tokens=6)
    folder = project_dir(tmp_path, parent.cwd or "")
    parent.write(folder / f"{parent.session_id}.jsonl")

    child = Conversation(parent.session_id, is_sidechain=True, agent_id="a1b2c3d")
    child.user("look")
    # The sidechain replays the parent's first response with a new request id (and its
    # own cache read), then answers for itself.
    answer(
        child,
        "msg_p1",
        request_id="req_replay",
        input_tokens=50,
        output_tokens=5,
        cache_read_input_tokens=9000,
    )
    answer(child, "msg_c1", input_tokens=7, output_tokens=70)
    child.write(folder / parent.session_id / "subagents" / "agent-a1b2c3d.jsonl")
    imported(home, tmp_path / ".claude")
    assert call

    # msg_p1 (parent's copy) + the tool turn's answer + msg_p2 + the sub-agent's own msg_c1
    want_input = 50 + 10 + 60 + 7
    assert totals(home)["cache_read"] == 1000
    assert totals(home)["input"] == want_input
    # The sub-agent's usage counts in the thread that spawned it.
    sessions = usage(home, "session")["rows"]
    assert len(sessions) == 1
    assert sessions[0]["input_tokens"] == want_input


def test_the_same_conversation_at_two_locations_counts_once(tmp_path: Path, home: Path) -> None:
    conv = Conversation(session_uuid("copied"))
    conv.user("Hello")
    answer(conv, "msg_x", input_tokens=40, output_tokens=4)
    answer(conv, "msg_y", input_tokens=30, output_tokens=3)
    here = conv.write(project_dir(tmp_path / "laptop", conv.cwd or "") / f"{conv.session_id}.jsonl")
    there = project_dir(tmp_path / "backup", f"{CWD_ROOT}/moved") / f"{conv.session_id}.jsonl"
    there.parent.mkdir(parents=True)
    shutil.copyfile(here, there)
    imported(home, tmp_path / "laptop" / ".claude", tmp_path / "backup" / ".claude")

    threads = run_cli("threads", "--json", home=home).json()
    assert len(threads) == 1  # one conversation, one thread, wherever its file lives (ADR 0011)
    assert totals(home) == {"input": 70, "output": 7, "cache_creation": 0, "cache_read": 0}
    assert totals(home, "--cwd", conv.cwd or "") == totals(home)
    assert usage(home, "project")["totals"]["input_tokens"] == 70


def test_a_rewritten_transcript_replaces_its_usage(tmp_path: Path, home: Path) -> None:
    conv = Conversation(session_uuid("rewritten"))
    conv.user("One")
    answer(conv, "msg_r1", input_tokens=10, output_tokens=1)
    answer(conv, "msg_r2", input_tokens=20, output_tokens=2)
    path = conv.write(project_dir(tmp_path, conv.cwd or "") / f"{conv.session_id}.jsonl")
    imported(home, path)
    assert totals(home)["input"] == 30

    again = Conversation(conv.session_id)
    again.user("Once more")
    answer(again, "msg_r9", input_tokens=5, output_tokens=1)
    again.write(path)  # rewritten in place: not a prefix of what was imported
    imported(home, path)
    assert totals(home) == {"input": 5, "output": 1, "cache_creation": 0, "cache_read": 0}


def two_projects(tmp_path: Path, home: Path) -> None:
    app = Conversation(session_uuid("app"), cwd=f"{CWD_ROOT}/app")
    app.user("a")
    answer(app, "msg_app", input_tokens=150_000)  # 2025-03-01 09:00:30 UTC
    lib = Conversation(session_uuid("lib"), cwd=f"{CWD_ROOT}/lib")
    lib.start = lib.start.replace(day=2, hour=23, minute=50)
    lib.user("b")
    answer(lib, "msg_lib", model="claude-opus-4-1-20250805", input_tokens=150_000)
    mystery = Conversation(session_uuid("mystery"), cwd=f"{CWD_ROOT}/lib")
    mystery.user("c")
    answer(mystery, "msg_m", model="claude-experimental-9", input_tokens=500, output_tokens=5)
    for conv in (app, lib, mystery):
        conv.write(project_dir(tmp_path, conv.cwd or "") / f"{conv.session_id}.jsonl")
    imported(home, tmp_path / ".claude")


def test_reports_group_filter_and_price(tmp_path: Path, home: Path) -> None:
    two_projects(tmp_path, home)

    daily = usage(home)
    assert [r["date"] for r in daily["rows"]] == ["2025-03-01", "2025-03-02"]
    assert daily["totals"]["cost"] == pytest.approx(0.45 + 2.25)
    assert daily["unpriced_models"] == [{"model": "claude-experimental-9", "tokens": 505}]
    # 23:50 UTC on the 2nd is the 3rd in Tokyo.
    tokyo = usage(home, "--timezone", "Asia/Tokyo")
    assert [r["date"] for r in tokyo["rows"]] == ["2025-03-01", "2025-03-03"]

    assert [r["cwd"] for r in usage(home, "project")["rows"]] == [
        f"{CWD_ROOT}/lib",
        f"{CWD_ROOT}/app",
    ]
    assert usage(home, "--cwd", f"{CWD_ROOT}/app")["totals"]["input_tokens"] == 150_000
    assert usage(home, "--source", "codex")["rows"] == []
    assert usage(home, "--since", "2025-03-02")["totals"]["input_tokens"] == 150_000
    assert usage(home, "--until", "20250301")["totals"]["input_tokens"] == 150_500
    models = usage(home, "model")["rows"]
    assert [m["model"] for m in models][:2] == ["claude-opus-4-1-20250805", SONNET]
    monthly = usage(home, "monthly")["rows"]
    assert [(r["month"], r["messages"]) for r in monthly] == [("2025-03", 3)]

    table = run_cli("usage", "--timezone", "UTC", home=home, env={"COLUMNS": "150"})
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["date", "models", "input"]
    assert lines[-3].startswith("total") and "300,500" in lines[-3] and "+?" in lines[-3]
    assert "claude-experimental-9 (505 tokens)" in table.stdout


def test_prices_from_the_home_replace_and_add_models(tmp_path: Path, home: Path) -> None:
    two_projects(tmp_path, home)
    prices = {
        "taken": "2026-12-01",
        "models": {
            "claude-experimental-9": {"input": 2, "output": 2, "cache_write": 2, "cache_read": 2},
            "claude-sonnet-4-5": {"input": 1, "output": 1, "cache_write": 1, "cache_read": 1},
        },
    }
    home.mkdir(parents=True, exist_ok=True)
    (home / "pricing.json").write_text(json.dumps(prices))
    report = usage(home)
    assert report["unpriced_models"] == []
    assert report["totals"]["cost"] == pytest.approx(0.15 + 2.25 + 505 * 2 / 1e6)
    assert "2026-12-01" in report["prices"]["taken"]

    (home / "pricing.json").write_text("{not json")
    broken = run_cli("usage", home=home)
    assert broken.returncode == 2 and "pricing.json" in broken.stderr


@pytest.mark.parametrize(
    "options",
    [["hourly"], ["--since", "someday"], ["--timezone", "Mars/Base"]],
    ids=["report", "since", "timezone"],
)
def test_a_bad_argument_is_a_usage_error(home: Path, options: list[str]) -> None:
    result = run_cli("usage", *options, home=home)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_an_empty_store_has_no_usage(home: Path) -> None:
    report = usage(home)
    assert report["rows"] == [] and report["totals"]["total_tokens"] == 0


def test_a_rewritten_copy_still_counts_once(tmp_path: Path, home: Path) -> None:
    conv = Conversation(session_uuid("copied-then-rewritten"))
    conv.user("Hello")
    answer(conv, "msg_x", input_tokens=40, output_tokens=4)
    answer(conv, "msg_y", input_tokens=30, output_tokens=3)
    here = conv.write(project_dir(tmp_path / "laptop", conv.cwd or "") / f"{conv.session_id}.jsonl")
    there = project_dir(tmp_path / "backup", f"{CWD_ROOT}/moved") / f"{conv.session_id}.jsonl"
    there.parent.mkdir(parents=True)
    shutil.copyfile(here, there)
    imported(home, tmp_path / "laptop" / ".claude", tmp_path / "backup" / ".claude")
    assert totals(home)["input"] == 70

    # The backup is rewritten (its first prompt edited): the same responses, and one more.
    conv.records[0]["message"]["content"] = "Hello again"
    more = Conversation(conv.session_id, start=conv.start, _n=conv._n, parent=conv.parent)
    answer(more, "msg_z", input_tokens=5, output_tokens=1)
    write_transcript(there, conv.records + more.records)
    imported(home, tmp_path / "backup" / ".claude")
    assert totals(home) == {"input": 75, "output": 8, "cache_creation": 0, "cache_read": 0}
    # And rewritten once more without them, ending as late: one conversation is one thread
    # (ADR 0011), which keeps the version that ends latest, so usage is that version's
    # (the laptop's older copy stays in the event history and is not counted again).
    write_transcript(there, more.records)
    imported(home, tmp_path / "backup" / ".claude")
    assert totals(home) == {"input": 5, "output": 1, "cache_creation": 0, "cache_read": 0}


@pytest.mark.sqlite_only
def test_usage_tables_that_are_missing_are_made_anew(tmp_path: Path, home: Path) -> None:
    conv = Conversation(session_uuid("dropped"))
    conv.user("Hi")
    answer(conv, "msg_d", input_tokens=12, output_tokens=3)
    conv.write(project_dir(tmp_path, conv.cwd or "") / f"{conv.session_id}.jsonl")
    imported(home, tmp_path / ".claude")
    with sqlite3.connect(home / "threadline.db") as db:  # an older usage read model's tables
        db.execute("DROP TABLE usage_ids")
    assert totals(home) == {"input": 12, "output": 3, "cache_creation": 0, "cache_read": 0}


def test_rebuilding_usage_gives_the_incrementally_kept_reports(tmp_path: Path, home: Path) -> None:
    two_projects(tmp_path, home)
    conv = Conversation(session_uuid("grown"))
    conv.user("Go")
    answer(conv, "msg_g", input_tokens=10, output_tokens=5)
    path = conv.write(project_dir(tmp_path, conv.cwd or "") / f"{conv.session_id}.jsonl")
    imported(home, path)
    usage(home)  # caught up here, then kept up to date as the source grows
    rest = Conversation(conv.session_id, start=conv.start, _n=conv._n, parent=conv.parent)
    answer(rest, "msg_g", input_tokens=10, output_tokens=50)
    answer(rest, "msg_h", input_tokens=1, output_tokens=1)
    append_transcript(path, rest.records)
    imported(home, path)
    kinds = ("daily", "weekly", "monthly", "session", "model", "project")
    incremental = {kind: usage(home, kind) for kind in kinds}
    assert incremental["daily"]["totals"]["output_tokens"] == 5 + 51

    result = run_cli("rebuild", "usage", home=home)
    assert result.returncode == 0, result.stderr
    assert {kind: usage(home, kind) for kind in kinds} == incremental


def test_a_thread_the_user_renamed_is_reported_by_that_name(tmp_path: Path, home: Path) -> None:
    root = tmp_path / "user"
    conv = Conversation(session_uuid("renamed"), f"{CWD_ROOT}/renamed")
    path = project_dir(root, conv.cwd) / f"{conv.session_id}.jsonl"
    write_transcript(path, [conv.user("hello"), answer(conv, "msg_r1", output_tokens=7)])
    imported(home, path)
    (row,) = usage(home, "session")["rows"]

    renamed = run_cli("rename", row["thread_id"], "Budget review", home=home)
    assert renamed.returncode == 0, renamed.stderr

    assert [r["title"] for r in usage(home, "session")["rows"]] == ["Budget review"]
