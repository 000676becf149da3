"""OpenCode sessions (``opencode.db`` and the legacy ``storage/`` JSON tree) -> items.

A real ``opencode.db`` written by OpenCode 1.18.33 (``tests/fixtures/opencode/real``,
made by ``make_real_db.py``), databases built with the same tables, and JSON trees
written the way the legacy storage wrote them (pretty-printed), one test per rule.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from threadline.adapters.opencode import discovery
from threadline.adapters.opencode.discovery import discover
from threadline.adapters.opencode.reader import OpenCodeReader
from threadline.adapters.source_support import LinkedThreadContent
from threadline.application.ports import ReadTranscript, SourceFile
from threadline.domain.items import (
    AssistantMessage,
    Image,
    Item,
    Reasoning,
    SystemNote,
    ToolCall,
    ToolResult,
    Unknown,
    UserMessage,
)

REAL_DB = Path(__file__).resolve().parents[1] / "fixtures" / "opencode" / "real" / "opencode.db"


class MemoryBlobs:
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        self.data[key] = bytes(data)
        return key

    def get(self, key: str) -> bytes:
        return self.data[key]


def read_all(path: Path | str, blobs: MemoryBlobs | None = None) -> dict[str, ReadTranscript]:
    sources, problems = discover([str(path)])
    assert not problems, problems
    return {
        s.path.rpartition("#")[2].removesuffix(".json").rpartition("/")[2]: OpenCodeReader().read(
            s, None, blobs or MemoryBlobs()
        )
        for s in sources
    }


def main(result: ReadTranscript) -> LinkedThreadContent:
    assert isinstance(result.main, LinkedThreadContent), result.problems
    return result.main


def of(items: list[Item], kind: type) -> list[Any]:
    return [i for i in items if isinstance(i, kind)]


@pytest.fixture
def real_db(tmp_path: Path) -> Path:
    target = tmp_path / "opencode" / "opencode.db"
    target.parent.mkdir()
    shutil.copy(REAL_DB, target)
    return target


def sessions_of(db: Path) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM session ORDER BY time_created")]
    finally:
        conn.close()


# -- the real database ---------------------------------------------------------------


def test_real_session_with_reasoning_tool_call_result_and_usage(real_db: Path) -> None:
    first = sessions_of(real_db)[0]
    thread = main(read_all(real_db)[first["id"]])
    items = thread.items
    assert [i.type for i in items] == [
        "user",
        "reasoning",
        "assistant",
        "tool_call",
        "tool_result",
        "assistant",
        "user",
        "assistant",
    ]
    assert thread.summary.title == first["title"] and thread.summary.title_source == "ai"
    assert thread.summary.cwd == first["directory"] == "/tmp/threadline-fixture/weather-app"
    assert thread.summary.models == ["scripted-model"]
    assert thread.conversation_id == first["id"] and thread.source.session_id == first["id"]
    (call,) = of(items, ToolCall)
    (result,) = of(items, ToolResult)
    assert (call.name, call.input) == (
        "bash",
        {"command": "echo '20 passed in 1.82s'", "description": "Run the tests"},
    )
    assert (
        result.call_id == call.call_id
        and result.output == "20 passed in 1.82s\n"
        and not result.is_error
    )
    assert of(items, Reasoning)[0].text == "I should run the test suite with bash."
    answers = of(items, AssistantMessage)
    # Usage per message, from its tokens; the step-finish parts are not counted again.
    assert sum(a.usage.input_tokens for a in answers) == first["tokens_input"]
    assert sum(a.usage.output_tokens for a in answers) == first["tokens_output"]
    assert all(a.usage.model_extra and "cost" in a.usage.model_extra for a in answers)
    assert (
        thread.summary.created_at is not None
        and int(thread.summary.created_at.timestamp() * 1000) == first["time_created"]
    )


def test_real_subagent_session_is_a_child_of_the_task_call(real_db: Path) -> None:
    sessions = sessions_of(real_db)
    child = next(s for s in sessions if s["parent_id"])
    parent = next(s for s in sessions if s["id"] == child["parent_id"])
    results = read_all(real_db)
    thread = main(results[child["id"]])
    assert thread.parent_conversation_id == main(results[parent["id"]]).conversation_id
    assert thread.parent_conversation_id == parent["id"]
    assert thread.lineage is not None and thread.lineage.conversation_id == parent["id"]
    (task,) = of(main(results[parent["id"]]).items, ToolCall)
    assert task.name == "task" and thread.spawned_by_call_id == task.call_id


def test_every_row_is_kept_byte_for_byte(real_db: Path) -> None:
    blobs = MemoryBlobs()
    first = sessions_of(real_db)[0]
    result = read_all(real_db, blobs)[first["id"]]
    page = b"".join(blobs.get(p.blob) for p in result.pages)
    conn = sqlite3.connect(real_db)
    rows = conn.execute(
        "SELECT data FROM part WHERE session_id = ?"
        " UNION ALL SELECT data FROM message WHERE session_id = ?",
        (first["id"], first["id"]),
    ).fetchall()
    conn.close()
    assert rows and all(r[0].encode() in page for r in rows)
    assert result.version.consumed_lines == len(page.splitlines())


def test_discovery_stat_matches_the_read_and_changes_when_a_part_does(real_db: Path) -> None:
    sources, _ = discover([str(real_db.parent)])
    assert len(sources) == 3 and all(
        s.path.startswith(os.path.realpath(real_db) + "#") for s in sources
    )
    source = sources[0]
    result = OpenCodeReader().read(source, None, MemoryBlobs())
    assert (result.version.size, result.version.mtime_ns) == (source.size, source.mtime_ns)
    session_id = source.path.rpartition("#")[2]
    conn = sqlite3.connect(real_db)
    conn.execute(
        "UPDATE part SET time_updated = time_updated + 5000"
        " WHERE id = (SELECT max(id) FROM part WHERE session_id = ?)",
        (session_id,),
    )
    conn.commit()
    conn.close()
    (again,) = [s for s in discover([str(real_db.parent)])[0] if s.path == source.path]
    assert again.mtime_ns > source.mtime_ns


# -- the database while OpenCode writes, and broken ones -----------------------------------


def test_one_consistent_snapshot_while_opencode_is_writing(real_db: Path) -> None:
    writer = sqlite3.connect(real_db, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    first = sessions_of(real_db)[0]
    before = main(read_all(real_db)[first["id"]])
    writer.execute("BEGIN IMMEDIATE")
    message = "msg_zzzzzzzzzzzzzzzzzzzzzzzzzz"
    writer.execute(
        "INSERT INTO message (id, session_id, time_created, time_updated, data)"
        " VALUES (?, ?, ?, ?, ?)",
        (
            message,
            first["id"],
            9_999_999_999_999,
            9_999_999_999_999,
            json.dumps(
                {
                    "role": "user",
                    "time": {"created": 9_999_999_999_999},
                    "agent": "build",
                    "model": {"providerID": "x", "modelID": "y"},
                }
            ),
        ),
    )
    writer.execute(
        "INSERT INTO part (id, message_id, session_id, time_created, time_updated, data)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (
            "prt_zzzzzzzzzzzzzzzzzzzzzzzzzz",
            message,
            first["id"],
            9_999_999_999_999,
            9_999_999_999_999,
            json.dumps({"type": "text", "text": "not yet committed"}),
        ),
    )
    during = main(read_all(real_db)[first["id"]])  # the writer holds its transaction open
    assert [i.type for i in during.items] == [i.type for i in before.items]
    writer.execute("COMMIT")
    after = main(read_all(real_db)[first["id"]])
    assert after.items[-1].type == "user" and after.items[-1].parts == ["not yet committed"]  # type: ignore[union-attr]
    writer.close()


def test_a_locked_database_is_a_problem_not_a_crash(
    real_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discovery, "LOCK_TIMEOUT", 0.05)
    sources, _ = discover([str(real_db)])
    locker = sqlite3.connect(real_db, isolation_level=None)
    locker.execute("PRAGMA journal_mode=DELETE")
    locker.execute("BEGIN EXCLUSIVE")
    try:
        result = OpenCodeReader().read(sources[0], None, MemoryBlobs())
        assert result.main is None
        assert [p.reason for p in result.problems] == [
            "cannot read the OpenCode database: database is locked"
        ]
        found, problems = discover([str(real_db)])
        assert not found and "locked" in problems[0].reason
    finally:
        locker.execute("ROLLBACK")
        locker.close()


def test_a_corrupt_database_is_a_problem(tmp_path: Path) -> None:
    db = tmp_path / "opencode.db"
    db.write_bytes(b"this is not a database" * 100)
    found, problems = discover([str(tmp_path)])
    assert not found
    assert [(p.path, p.line) for p in problems] == [(str(db), 0)]
    assert "cannot read the OpenCode database" in problems[0].reason


# -- hand-built databases: each part kind ------------------------------------------------------


SCHEMA = """
CREATE TABLE project (id TEXT PRIMARY KEY, worktree TEXT NOT NULL, vcs TEXT, name TEXT,
    time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL);
CREATE TABLE session (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, parent_id TEXT,
    slug TEXT NOT NULL, directory TEXT NOT NULL, title TEXT NOT NULL, version TEXT NOT NULL,
    time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL);
CREATE TABLE message (id TEXT PRIMARY KEY, session_id TEXT NOT NULL,
    time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE part (id TEXT PRIMARY KEY, message_id TEXT NOT NULL, session_id TEXT NOT NULL,
    time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL, data TEXT NOT NULL);
"""
T0 = 1_790_000_000_000


def build_db(
    path: Path,
    messages: list[tuple[dict[str, Any], list[Any]]],
    *,
    title: str = "New session - 2026-09-21",
    session: str = "ses_1",
) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    conn.execute("INSERT INTO project VALUES ('prj', '/work/app', 'git', 'app', ?, ?)", (T0, T0))
    conn.execute(
        "INSERT INTO session VALUES (?, 'prj', NULL, 'slug', '/work/app', ?, '1.18.33', ?, ?)",
        (session, title, T0, T0 + 9000),
    )
    for n, (info, parts) in enumerate(messages):
        mid = f"msg_{n:03d}"
        conn.execute(
            "INSERT INTO message VALUES (?, ?, ?, ?, ?)",
            (
                mid,
                session,
                T0 + n * 1000,
                T0 + n * 1000,
                json.dumps(info | {"time": {"created": T0 + n * 1000}}),
            ),
        )
        for k, part in enumerate(parts):
            data = part if isinstance(part, str) else json.dumps(part)
            conn.execute(
                "INSERT INTO part VALUES (?, ?, ?, ?, ?, ?)",
                (f"prt_{n:03d}_{k:02d}", mid, session, T0, T0, data),
            )
    conn.commit()
    conn.close()
    return path


USER = {"role": "user", "agent": "build", "model": {"providerID": "anthropic", "modelID": "claude"}}
ASSISTANT = {
    "role": "assistant",
    "modelID": "claude-sonnet",
    "providerID": "anthropic",
    "mode": "build",
    "cost": 0.01,
    "tokens": {"input": 10, "output": 5, "reasoning": 2, "cache": {"read": 3, "write": 1}},
}


def test_every_part_kind_and_tool_state(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\nimg"
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    db = build_db(
        tmp_path / "opencode.db",
        [
            (
                USER,
                [
                    {"type": "text", "text": "Fix the flaky test"},
                    {
                        "type": "text",
                        "text": "<system-reminder>ctx</system-reminder>",
                        "synthetic": True,
                    },
                    {"type": "file", "mime": "image/png", "filename": "shot.png", "url": url},
                ],
            ),
            (
                ASSISTANT,
                [
                    {"type": "step-start"},
                    {
                        "type": "reasoning",
                        "text": "Look at the test first.",
                        "time": {"start": T0 + 1100},
                    },
                    {
                        "type": "tool",
                        "callID": "c1",
                        "tool": "read",
                        "state": {
                            "status": "completed",
                            "input": {"filePath": "a.py"},
                            "output": "1: x",
                            "title": "a.py",
                            "metadata": {},
                            "time": {"start": T0 + 1200, "end": T0 + 1300},
                        },
                    },
                    {
                        "type": "tool",
                        "callID": "c2",
                        "tool": "bash",
                        "state": {
                            "status": "error",
                            "input": {"command": "false"},
                            "error": "exit 1",
                            "time": {"start": T0 + 1400, "end": T0 + 1500},
                        },
                    },
                    {
                        "type": "tool",
                        "callID": "c3",
                        "tool": "bash",
                        "state": {
                            "status": "running",
                            "input": {"command": "sleep 9"},
                            "time": {"start": T0 + 1600},
                        },
                    },
                    {"type": "text", "text": "Found it."},
                    {"type": "patch", "hash": "abc", "files": ["a.py"]},
                    {
                        "type": "step-finish",
                        "reason": "stop",
                        "cost": 0.01,
                        "tokens": {
                            "input": 10,
                            "output": 5,
                            "reasoning": 2,
                            "cache": {"read": 3, "write": 1},
                        },
                    },
                    {"type": "hologram", "x": 1},
                    "{not json",
                ],
            ),
            (ASSISTANT | {"summary": True}, [{"type": "text", "text": "Summary of the session."}]),
            (
                ASSISTANT | {"error": {"name": "APIError", "data": {"message": "rate limited"}}},
                [{"type": "compaction", "auto": True}],
            ),
        ],
    )
    blobs = MemoryBlobs()
    (result,) = read_all(db, blobs).values()
    thread = main(result)
    items = thread.items
    assert [p.line for p in result.problems] == [17] and "not JSON" in result.problems[0].reason
    users = of(items, UserMessage)
    assert [(u.parts, u.meta) for u in users] == [
        (["Fix the flaky test"], False),
        (["<system-reminder>ctx</system-reminder>"], True),
    ]
    (image,) = of(items, Image)
    assert blobs.get(image.image.blob) == png
    calls = {c.call_id: c for c in of(items, ToolCall)}
    results = {r.call_id: r for r in of(items, ToolResult)}
    assert set(calls) == {"c1", "c2", "c3"}
    assert results["c1"].output == "1: x" and not results["c1"].is_error
    assert results["c2"].output == "exit 1" and results["c2"].is_error
    assert "c3" not in results  # still running: the call alone, for now
    answer, failed = of(items, AssistantMessage)
    assert failed.parts == []  # the failed request: its usage, no text
    assert answer.parts == ["Found it."] and answer.model == "claude-sonnet"
    assert (
        answer.usage.input_tokens,
        answer.usage.cache_read_input_tokens,
        answer.usage.model_extra["cost"],
    ) == (10, 3, 0.01)
    subtypes = [n.subtype for n in of(items, SystemNote)]
    assert subtypes == ["patch", "compaction_summary", "compaction", "error"]
    assert [u.record_type for u in of(items, Unknown)] == ["part:hologram"]
    # No OpenCode title yet (its placeholder): the first prompt.
    assert (thread.summary.title, thread.summary.title_source) == ("Fix the flaky test", "prompt")


# -- the legacy JSON tree -------------------------------------------------------------------------


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def build_tree(
    root: Path, session: str, *, project: str = "prj", parent: str | None = None
) -> Path:
    storage = root / "storage"
    write_json(
        storage / "project" / f"{project}.json",
        {"id": project, "worktree": "/work/app", "vcs": "git", "time": {"created": T0}},
    )
    info = {
        "id": session,
        "projectID": project,
        "directory": "/work/app",
        "title": "Legacy session",
        "version": "0.5.1",
        "time": {"created": T0, "updated": T0 + 5000},
    }
    if parent:
        info["parentID"] = parent
    write_json(storage / "session" / project / f"{session}.json", info)
    write_json(
        storage / "message" / session / f"msg_{session}_1.json",
        {"id": f"msg_{session}_1", "sessionID": session, **USER, "time": {"created": T0 + 1000}},
    )
    write_json(
        storage / "part" / f"msg_{session}_1" / "prt_1.json",
        {
            "id": "prt_1",
            "sessionID": session,
            "messageID": f"msg_{session}_1",
            "type": "text",
            "text": "Old prompt",
        },
    )
    write_json(
        storage / "message" / session / f"msg_{session}_2.json",
        {
            "id": f"msg_{session}_2",
            "sessionID": session,
            **ASSISTANT,
            "time": {"created": T0 + 2000},
        },
    )
    write_json(
        storage / "part" / f"msg_{session}_2" / "prt_2.json",
        {
            "id": "prt_2",
            "type": "tool",
            "callID": "t1",
            "tool": "grep",
            "state": {
                "status": "completed",
                "input": {"pattern": "x"},
                "output": "a.py:1",
                "time": {"start": T0 + 2100, "end": T0 + 2200},
            },
        },
    )
    write_json(
        storage / "part" / f"msg_{session}_2" / "prt_3.json",
        {"id": "prt_3", "type": "text", "text": "Old answer"},
    )
    return storage / "session" / project / f"{session}.json"


def test_legacy_json_tree_session_with_its_exact_bytes(tmp_path: Path) -> None:
    session_file = build_tree(tmp_path, "ses_old")
    blobs = MemoryBlobs()
    (result,) = read_all(tmp_path, blobs).values()
    thread = main(result)
    assert not result.problems
    assert [i.type for i in thread.items] == ["user", "tool_call", "tool_result", "assistant"]
    assert thread.summary.title == "Legacy session" and thread.summary.cwd == "/work/app"
    assert thread.source.path == os.path.realpath(session_file)
    # Pretty-printed files cannot stand on one line: their exact bytes are blobs of their own.
    for path in (tmp_path / "storage").rglob("*.json"):
        if "project" not in path.parts:
            assert path.read_bytes() in blobs.data.values()


def test_json_tree_child_session_names_its_parent(tmp_path: Path) -> None:
    build_tree(tmp_path, "ses_parent")
    build_tree(tmp_path, "ses_child", parent="ses_parent")
    results = read_all(tmp_path)
    child = main(results["ses_child"])
    assert child.parent_conversation_id == main(results["ses_parent"]).conversation_id
    assert child.parent_conversation_id == "ses_parent"


def test_a_session_in_both_the_database_and_the_tree_is_read_once(tmp_path: Path) -> None:
    build_db(
        tmp_path / "opencode.db",
        [(USER, [{"type": "text", "text": "db prompt"}])],
        session="ses_both",
    )
    build_tree(tmp_path, "ses_both")
    build_tree(tmp_path, "ses_json_only")
    sources, problems = discover([str(tmp_path)])
    assert not problems
    paths = sorted(s.path for s in sources)
    assert paths == sorted(
        [
            f"{os.path.realpath(tmp_path / 'opencode.db')}#ses_both",
            os.path.realpath(tmp_path / "storage" / "session" / "prj" / "ses_json_only.json"),
        ]
    )


def test_a_half_written_json_file_is_reported_with_its_record(tmp_path: Path) -> None:
    build_tree(tmp_path, "ses_old")
    broken = tmp_path / "storage" / "part" / "msg_ses_old_2" / "prt_3.json"
    broken.write_text('{"id": "prt_3", "type": "te')
    (result,) = read_all(tmp_path).values()
    (problem,) = result.problems  # named by the file itself, not a line of the session
    assert problem.path == str(broken) and problem.line == 0 and "half-written" in problem.reason
    # The answer lost its text; it keeps its place (and usage) before its tool call.
    assert [i.type for i in main(result).items] == ["user", "assistant", "tool_call", "tool_result"]


def test_single_session_path_and_a_missing_one(real_db: Path) -> None:
    first = sessions_of(real_db)[0]
    found, problems = discover([f"{real_db}#{first['id']}", str(real_db.parent / "nope")])
    assert [s.path for s in found] == [f"{os.path.realpath(real_db)}#{first['id']}"]
    assert [p.reason for p in problems] == ["no such file or directory"]
    gone = SourceFile("opencode", f"{os.path.realpath(real_db)}#ses_deleted", 0, 0)
    result = OpenCodeReader().read(gone, None, MemoryBlobs())
    assert result.main is None and "no such session" in result.problems[-1].reason


def test_the_older_tree_layout_with_messages_under_session(tmp_path: Path) -> None:
    build_tree(tmp_path, "ses_old")
    storage = tmp_path / "storage"
    (storage / "session" / "message").mkdir()
    (storage / "message" / "ses_old").rename(storage / "session" / "message" / "ses_old")
    (storage / "session" / "part").mkdir()
    for part_dir in list((storage / "part").iterdir()):
        part_dir.rename(storage / "session" / "part" / part_dir.name)
    (result,) = read_all(tmp_path).values()
    assert [i.type for i in main(result).items] == ["user", "tool_call", "tool_result", "assistant"]
