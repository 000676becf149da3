"""What the read side shows of a conversation's identity (issue #12, ADR 0011), through
the real CLI on real files, both stores: which thread a resumed or forked session
continues (``threads`` and ``--json``), the conversation id, a mirrored sub-agent's
source, a location gone from disk and a diverged one in ``ledger`` and its ``--json``;
each rebuilt from the events as it was kept.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    ClaudeTree,
    Conversation,
    append_transcript,
    open_test_store,
    run_cli,
    session_uuid,
    slug,
    table,
)

from threadline.adapters.claude_code.reader import AGENT

pytestmark = pytest.mark.both_stores

CWD = "/nonexistent-threadline-tests/app"


def imported(path: Path, home: Path) -> dict[str, dict[str, Any]]:
    result = run_cli("import", path, "--json", home=home)
    assert result.returncode == 0, result.stderr
    return {s["path"]: s for s in result.json()["sources"]}


def threads(home: Path) -> dict[str, dict[str, Any]]:
    result = run_cli("threads", "--json", "--all", home=home)
    assert result.returncode == 0, result.stderr
    return {t["thread_id"]: t for t in result.json()}


def ledger(home: Path) -> dict[str, dict[str, Any]]:
    result = run_cli("ledger", "--json", home=home)
    assert result.returncode == 0, result.stderr
    return {e["source_path"]: e for e in result.json()}


def ledger_table(home: Path) -> str:
    result = run_cli("ledger", home=home, env={"COLUMNS": "400"})
    assert result.returncode == 0, result.stderr
    return " ".join(result.stdout.split())


def rebuilt_equals_incremental(home: Path) -> None:
    before = {t: table(home, t, "1, 2") for t in ("threads", "conversations", "ledger")}
    assert run_cli("rebuild", "threads", "ledger", home=home).returncode == 0
    assert {t: table(home, t, "1, 2") for t in before} == before


def project(root: Path) -> Path:
    return root / ".claude" / "projects" / slug(CWD)


def repeating(root: Path, earlier: Conversation, upto: int, name: str) -> Conversation:
    """A session that starts by repeating ``upto`` lines of ``earlier`` (a Claude Code
    resume, or a fork when it stops short of the end)."""
    convo = Conversation(session_uuid(name), cwd=CWD, start=earlier.start)
    convo.records = [{**r, "sessionId": convo.session_id} for r in earlier.records[:upto]]
    convo.parent = earlier.records[upto - 1]["uuid"]
    convo._n = 100
    convo.user(f"A prompt only {name} has")
    convo.assistant(f"An answer only {name} has.")
    convo.write(project(root) / f"{convo.session_id}.jsonl")
    return convo


def test_threads_show_which_thread_a_resume_continues_and_a_fork_forks(
    tmp_path: Path, home: Path
) -> None:
    origin = Conversation(session_uuid("origin"), cwd=CWD)
    for i in range(3):
        origin.user(f"Step {i} of the origin")
        origin.assistant(f"Done with step {i}.")
    origin_path = origin.write(project(tmp_path) / f"{origin.session_id}.jsonl")
    o = imported(origin_path, home)[str(origin_path)]["thread_id"]
    resumed = repeating(tmp_path, origin, len(origin.records), "resumed")
    forked = repeating(tmp_path, origin, 2, "forked")

    sources = imported(tmp_path / ".claude", home)

    by_conversation = {t["conversation_id"]: t for t in threads(home).values()}
    assert set(by_conversation) == {origin.session_id, resumed.session_id, forked.session_id}
    c = by_conversation[resumed.session_id]
    f = by_conversation[forked.session_id]
    assert (c["continued_from"], c["forked_from"]) == (o, None)
    assert (f["continued_from"], f["forked_from"]) == (None, o)
    assert by_conversation[origin.session_id]["thread_id"] == o
    assert {s["thread_id"] for s in sources.values()} >= {c["thread_id"], f["thread_id"]}
    listed = run_cli("threads", home=home).stdout
    assert f"cont. {o[:8]}" in listed and f"fork {o[:8]}" in listed
    shown = run_cli("show", c["thread_id"][:8], "--limit", "1", home=home).stdout
    assert f"continues {o}" in shown
    rebuilt_equals_incremental(home)


def test_a_mirrored_sub_agents_row_names_its_parents_transcript_until_its_own_is_found(
    tmp_path: Path, home: Path
) -> None:
    parent = Conversation(session_uuid("parent"), cwd=CWD)
    parent.user("Check the timezone handling")
    call_id = "toolu_task_1"
    parent.assistant(
        "I'll ask a sub-agent.",
        {"type": "tool_use", "id": call_id, "name": "Task", "input": {"prompt": "Find"}},
    )
    sub = Conversation(parent.session_id, cwd=CWD, is_sidechain=True, agent_id="a1b2c3d")
    sub.user("Find every naive datetime")
    sub.assistant("Two: cache.py:12 and refresh.py:40.", message_id="msg_sub_1")
    for record in sub.records:
        inner = {k: record[k] for k in ("type", "message", "uuid", "timestamp")}
        parent.envelope(
            "progress",
            data={"type": "agent_progress", "agentId": "a1b2c3d", "message": inner},
            toolUseID=f"agent_msg_{record['uuid'][:8]}",
            parentToolUseID=call_id,
        )
    parent.tool_result(call_id, "Two naive calls.")
    path = parent.write(project(tmp_path) / f"{parent.session_id}.jsonl")

    imported(path, home)

    (child,) = [t for t in threads(home).values() if t["parent_thread_id"]]
    assert (child["source_path"], child["agent_id"]) == (str(path), "a1b2c3d")
    assert child["conversation_id"] == f"{parent.session_id}/agent-a1b2c3d"
    assert child["spawned_by_call_id"] == call_id
    rebuilt_equals_incremental(home)

    # Its own transcript found: the thread holds that file's bytes, and names it.
    sub.user("A line only the sub-agent's own file has")
    own = sub.write(path.with_suffix("") / "subagents" / "agent-a1b2c3d.jsonl")
    assert imported(own, home)[str(own)]["outcome"] == "replaced"
    (after,) = [t for t in threads(home).values() if t["parent_thread_id"]]
    assert (after["thread_id"], after["source_path"]) == (child["thread_id"], str(own))
    rebuilt_equals_incremental(home)


def test_the_ledger_shows_a_location_gone_from_disk_and_its_thread_stays(
    claude_tree: ClaudeTree, home: Path
) -> None:
    imported(claude_tree.claude_home, home)
    session = claude_tree.session("middle")
    kept = session.path.read_bytes()
    session.path.unlink()
    store = open_test_store(home)
    try:
        assert store.app.record_gone(AGENT, str(session.path))
        store.catch_up()
    finally:
        store.close()

    entries = ledger(home)
    assert entries[str(session.path)]["gone"] is True
    assert [e["gone"] for p, e in entries.items() if p != str(session.path)] == [False, False]
    assert "gone from disk; its thread is kept" in ledger_table(home)
    thread_id = entries[str(session.path)]["thread_id"]
    assert threads(home)[thread_id]["item_count"] > 0
    assert run_cli("show", thread_id[:8], home=home).returncode == 0
    rebuilt_equals_incremental(home)

    # Back, and grown: read again, it is no longer gone.
    session.path.write_bytes(kept)
    session.conversation.user("back from the backup")
    append_transcript(session.path, session.records[-1:])
    assert imported(session.path, home)[str(session.path)]["outcome"] == "appended"
    assert ledger(home)[str(session.path)]["gone"] is False


def test_the_ledger_says_how_a_location_diverged(
    claude_tree: ClaudeTree, home: Path, tmp_path: Path
) -> None:
    session = claude_tree.session("newest")
    copy = tmp_path / "other-machine" / ".claude"
    shutil.copytree(claude_tree.claude_home, copy)
    there_path = copy / session.path.relative_to(claude_tree.claude_home)
    here = session.conversation
    there = Conversation(
        here.session_id,
        cwd=here.cwd,
        git_branch=here.git_branch,
        start=here.start,
        step=timedelta(seconds=1),  # its new line is written sooner
        records=[dict(r) for r in here.records],
        parent=here.parent,
        _n=here._n,
    )
    there.user("Grown on the other machine")
    append_transcript(there_path, there.records[-1:])
    here.step = timedelta(hours=1)
    here.user("Grown here, later")
    append_transcript(session.path, here.records[-1:])
    imported(there_path, home)

    report = imported(session.path, home)[str(session.path)]

    assert report["outcome"] == "diverged_newer"
    entry = ledger(home)[str(session.path)]
    assert (entry["outcome"], entry["diverged_from"]) == ("diverged_newer", str(there_path))
    assert entry["this_ends_at"] > entry["other_ends_at"]
    assert ledger(home)[str(there_path)]["diverged_from"] is None
    mine, theirs = (entry[k][:16].replace("T", " ") for k in ("this_ends_at", "other_ends_at"))
    shown = ledger_table(home)
    assert "diverged from" in shown and f"ends {mine}, that one {theirs}" in shown
    rebuilt_equals_incremental(home)
