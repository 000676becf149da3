"""Conversations that share lines or live inside another (issue #12, ADR 0011).

Real files and the real CLI: a sub-agent known only from its parent's ``agent_progress``
lines is a child thread (one, when its own transcript turns up too); a session that
resumes or forks another repeats its lines, and they are recorded once; a session that
starts with a slash command is titled by it.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    Conversation,
    count_events,
    open_test_store,
    run_cli,
    session_uuid,
    slug,
)

pytestmark = pytest.mark.both_stores

CWD = "/nonexistent-threadline-tests/app"
LINEAGE = "threadline.domain.session:Session.LineageRecorded"


def import_json(*paths: Path | str, home: Path) -> dict[str, Any]:
    result = run_cli("import", *map(str, paths), "--json", home=home)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = result.json()
    return report


def threads(home: Path) -> list[dict[str, Any]]:
    listed = run_cli("threads", "--json", "--all", home=home)
    assert listed.returncode == 0, listed.stderr
    result: list[dict[str, Any]] = listed.json()
    return result


def project(tmp_path: Path) -> Path:
    return tmp_path / ".claude" / "projects" / slug(CWD)


# -- sub-agents known from their parent's progress lines -------------------------------------


def sub_agent(parent: Conversation, agent_id: str) -> Conversation:
    sub = Conversation(parent.session_id, cwd=CWD, is_sidechain=True, agent_id=agent_id)
    sub.user("Find every naive datetime")
    sub.assistant("Two: cache.py:12 and refresh.py:40.", message_id="msg_sub_1")
    return sub


def parent_with_progress(tmp_path: Path, agent_id: str = "a1b2c3d") -> tuple[Path, str, Any]:
    """A session whose Task call ran a sub-agent, mirrored in ``agent_progress`` lines."""
    parent = Conversation(session_uuid("parent"), cwd=CWD)
    parent.user("Check the timezone handling")
    call_id = "toolu_task_1"
    parent.assistant(
        "I'll ask a sub-agent.",
        {"type": "tool_use", "id": call_id, "name": "Task", "input": {"prompt": "Find"}},
    )
    sub = sub_agent(parent, agent_id)
    for record in sub.records:
        inner = {k: record[k] for k in ("type", "message", "uuid", "timestamp")}
        parent.envelope(
            "progress",
            data={"type": "agent_progress", "agentId": agent_id, "message": inner},
            toolUseID=f"agent_msg_{record['uuid'][:8]}",
            parentToolUseID=call_id,
        )
    parent.tool_result(call_id, "Two naive calls.")
    path = parent.write(project(tmp_path) / f"{parent.session_id}.jsonl")
    return path, call_id, sub


def test_a_sub_agent_known_only_from_progress_lines_is_a_child_thread(
    tmp_path: Path, home: Path
) -> None:
    path, call_id, sub = parent_with_progress(tmp_path)

    import_json(path, home=home)

    listed = threads(home)
    (parent,) = [t for t in listed if t["parent_thread_id"] is None]
    (child,) = [t for t in listed if t["parent_thread_id"] is not None]
    assert child["parent_thread_id"] == parent["thread_id"]
    assert (child["agent_id"], child["spawned_by_call_id"]) == ("a1b2c3d", call_id)
    assert child["title"] == "Find every naive datetime"
    shown = run_cli("show", child["thread_id"], "--json", home=home).json()
    assert [i["uuid"] for i in shown["items"]] == [r["uuid"] for r in sub.records]


def test_the_sub_agents_own_transcript_found_later_fills_the_same_child_thread(
    tmp_path: Path, home: Path
) -> None:
    path, _, sub = parent_with_progress(tmp_path)
    import_json(path, home=home)
    (child,) = [t for t in threads(home) if t["parent_thread_id"]]
    sub.user("A line only the sub-agent's own file has")
    own = sub.write(path.with_suffix("") / "subagents" / "agent-a1b2c3d.jsonl")

    report = import_json(own, home=home)

    assert report["sources"][0]["outcome"] == "replaced"
    assert report["sources"][0]["thread_id"] == child["thread_id"]
    listed = threads(home)
    assert len(listed) == 2
    (after,) = [t for t in listed if t["parent_thread_id"]]
    assert after["item_count"] == 3
    # The parent grows, and mirrors no more: the file is the child's content now.
    import_json(path.parent.parent.parent, home=home)
    assert [t["item_count"] for t in threads(home) if t["parent_thread_id"]] == [3]


def test_a_sub_agent_file_and_its_progress_lines_imported_together_make_one_child(
    tmp_path: Path, home: Path
) -> None:
    path, _, sub = parent_with_progress(tmp_path)
    sub.write(path.with_suffix("") / "subagents" / "agent-a1b2c3d.jsonl")

    import_json(tmp_path / ".claude", home=home)
    import_json(tmp_path / ".claude", home=home)

    listed = threads(home)
    assert len(listed) == 2
    (child,) = [t for t in listed if t["parent_thread_id"]]
    assert child["item_count"] == 2


# -- resume and fork ---------------------------------------------------------------------


def origin(tmp_path: Path, exchanges: int = 3) -> Conversation:
    convo = Conversation(session_uuid("origin"), cwd=CWD)
    for i in range(exchanges):
        convo.user(f"Step {i} of the origin")
        convo.assistant(f"Done with step {i}.")
    convo.write(project(tmp_path) / f"{convo.session_id}.jsonl")
    return convo


def repeating(tmp_path: Path, earlier: Conversation, upto: int, name: str) -> Conversation:
    """A new session that starts by repeating ``upto`` lines of ``earlier`` (same uuids)."""
    convo = Conversation(session_uuid(name), cwd=CWD, start=earlier.start)
    convo.records = [{**r, "sessionId": convo.session_id} for r in earlier.records[:upto]]
    convo.parent = earlier.records[upto - 1]["uuid"]
    convo._n = 100  # its own lines get uuids and times of their own, later
    convo.user(f"A prompt only {name} has")
    convo.assistant(f"An answer only {name} has.")
    convo.write(project(tmp_path) / f"{convo.session_id}.jsonl")
    return convo


def lineage_of(home: Path, thread_id: str) -> tuple[str | None, str | None]:
    store = open_test_store(home)
    try:
        session = store.app.repository.get(uuid.UUID(thread_id))
        return (
            str(session.continued_from) if session.continued_from else None,
            str(session.forked_from) if session.forked_from else None,
        )
    finally:
        store.close()


def thread_of(report: dict[str, Any], convo: Conversation) -> str:
    (source,) = [s for s in report["sources"] if convo.session_id in s["path"]]
    thread_id: str = source["thread_id"]
    return thread_id


def test_a_resumed_session_continues_its_origin_and_its_repeated_lines_count_once(
    tmp_path: Path, home: Path
) -> None:
    first = origin(tmp_path)
    o = thread_of(import_json(tmp_path / ".claude", home=home), first)
    resumed = repeating(tmp_path, first, len(first.records), "resumed")

    c = thread_of(import_json(tmp_path / ".claude", home=home), resumed)

    assert lineage_of(home, c) == (o, None)
    counts = {t["thread_id"]: t["item_count"] for t in threads(home)}
    assert counts == {o: len(first.records), c: 2}  # each line once, in one thread
    assert count_events(home, LINEAGE) == 1


def test_a_fork_records_which_thread_it_forked(tmp_path: Path, home: Path) -> None:
    first = origin(tmp_path)
    o = thread_of(import_json(tmp_path / ".claude", home=home), first)
    fork = repeating(tmp_path, first, 2, "fork")

    f = thread_of(import_json(tmp_path / ".claude", home=home), fork)

    assert lineage_of(home, f) == (None, o)
    counts = {t["thread_id"]: t["item_count"] for t in threads(home)}
    assert counts == {o: len(first.records), f: 2}


def test_a_resumed_session_imported_before_its_origin_is_still_its_continuation(
    tmp_path: Path, home: Path
) -> None:
    first = origin(tmp_path)
    resumed = repeating(tmp_path, first, len(first.records), "resumed")
    origin_file = project(tmp_path) / f"{first.session_id}.jsonl"
    moved_away = tmp_path / "later" / origin_file.name
    moved_away.parent.mkdir()
    origin_file.rename(moved_away)
    c = thread_of(import_json(tmp_path / ".claude", home=home), resumed)

    o = thread_of(import_json(moved_away, home=home), first)

    assert lineage_of(home, c) == (o, None)
    counts = {t["thread_id"]: t["item_count"] for t in threads(home)}
    assert sum(counts.values()) == len(first.records) + 2  # no line counted twice


# -- titles ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "args", "title"),
    [("/init", None, "/init"), ("/review", "src/app.py", "/review src/app.py")],
)
def test_a_session_that_starts_with_a_slash_command_is_titled_by_it(
    tmp_path: Path, home: Path, command: str, args: str | None, title: str
) -> None:
    convo = Conversation(session_uuid(command), cwd=CWD)
    text = (
        f"<command-message>{command[1:]}</command-message>\n<command-name>{command}</command-name>"
    )
    if args:
        text += f"\n<command-args>{args}</command-args>"
    convo.user(text)
    convo.user("Expanded command instructions …", isMeta=True)
    convo.assistant("Looking at the code base.", message_id="msg_cmd_1")
    path = convo.write(project(tmp_path) / f"{convo.session_id}.jsonl")

    import_json(path, home=home)

    (thread,) = threads(home)
    assert thread["title"] == title
