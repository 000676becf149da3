"""Gemini CLI chats (``session-*.jsonl`` upsert logs and whole-file ``.json``) -> items.

A real chat written by Gemini CLI 0.61.0 (``tests/fixtures/gemini/real``, made by
``make_real_chats.py``: a tool call, then a resumed run) and hand-written chats,
one test per rule of the upsert log.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from threadline.adapters.gemini.discovery import discover
from threadline.adapters.gemini.reader import GeminiReader
from threadline.adapters.jsonl_pages import TORN_LINE
from threadline.adapters.source_support import LinkedThreadContent
from threadline.application.history import SourceLines, full_item
from threadline.application.ports import ReadTranscript, ResumePoint, SourceFile
from threadline.domain.items import (
    AssistantMessage,
    Image,
    Item,
    Reasoning,
    SystemNote,
    ToolCall,
    ToolResult,
    UserMessage,
)

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "gemini" / "real"
SESSION = "5d6e7f80-1111-4222-8333-944455556666"


class MemoryBlobs:
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        self.data[key] = bytes(data)
        return key

    def get(self, key: str) -> bytes:
        return self.data[key]


def read(
    path: Path, blobs: MemoryBlobs | None = None, resume: ResumePoint | None = None
) -> ReadTranscript:
    real = os.path.realpath(path)
    st = os.stat(real)
    return GeminiReader().read(
        SourceFile("gemini", real, st.st_size, st.st_mtime_ns), resume, blobs or MemoryBlobs()
    )


def main(result: ReadTranscript) -> LinkedThreadContent:
    assert isinstance(result.main, LinkedThreadContent), result.problems
    return result.main


def of(items: list[Item], kind: type) -> list[Any]:
    return [i for i in items if isinstance(i, kind)]


def meta(**extra: Any) -> dict[str, Any]:
    return {
        "sessionId": SESSION,
        "projectHash": "ab" * 32,
        "startTime": "2026-09-01T10:00:00.000Z",
        "lastUpdated": "2026-09-01T10:00:00.000Z",
        "kind": "main",
    } | extra


def user(mid: str, text: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": mid,
        "timestamp": "2026-09-01T10:00:01.000Z",
        "type": "user",
        "content": [{"text": text}],
    } | extra


def gemini(mid: str, text: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": mid,
        "timestamp": "2026-09-01T10:00:02.000Z",
        "type": "gemini",
        "content": text,
        "model": "gemini-2.5-pro",
    } | extra


def chat(
    root: Path,
    records: list[Any],
    name: str = "session-2026-09-01T10-00-5d6e7f80.jsonl",
    project: str = "app",
) -> Path:
    chats = root / ".gemini" / "tmp" / project / "chats"
    chats.mkdir(parents=True, exist_ok=True)
    (chats.parent / ".project_root").write_text("/work/app")
    path = chats / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


# -- the real chat -----------------------------------------------------------------------


def test_real_chat_with_a_tool_call_and_a_resumed_run() -> None:
    path = next(
        p for p in REAL.rglob("session-*.jsonl") if b"Please run the tests" in p.read_bytes()
    )
    blobs = MemoryBlobs()
    result = read(path, blobs)
    assert not result.problems
    thread = main(result)
    items = thread.items
    assert [i.type for i in items] == [
        "user",
        "user",
        "reasoning",
        "assistant",
        "tool_call",
        "tool_result",
        "assistant",
        "user",
        "assistant",
    ]
    context, *prompts = of(items, UserMessage)
    assert context.meta and context.parts[0].startswith("<session_context>")  # type: ignore[union-attr]
    assert [p.parts for p in prompts] == [
        ["Please run the tests and tell me if they pass."],
        ["Thanks. Summarise what you did."],
    ]
    (call,) = of(items, ToolCall)
    (result_,) = of(items, ToolResult)  # written three times by the CLI: one result
    assert call.name == "run_shell_command" and call.input == {
        "command": "echo '20 passed in 1.82s'",
        "description": "Run the tests",
    }
    assert result_.call_id == call.call_id and "20 passed in 1.82s" in str(result_.output)
    # The resumed run rewrote the history without model and tokens: the first versions' are kept.
    answers = of(items, AssistantMessage)
    assert all(a.model == "gemini-2.5-pro" and a.usage is not None for a in answers)
    assert [a.usage.input_tokens for a in answers] == [810, 820, 830]
    assert thread.summary.cwd == "/tmp/threadline-fixture/weather-app"  # .project_root
    assert thread.summary.title == "Please run the tests and tell me if they pass."
    first = json.loads(path.read_bytes().splitlines()[0])
    started = thread.summary.created_at  # the first run's start, not the resumed run's
    assert started is not None and started.isoformat()[:23] == first["startTime"][:23]
    assert thread.conversation_id == first["sessionId"]
    assert b"".join(blobs.get(p.blob) for p in result.pages) == path.read_bytes()


def test_discovery_of_the_real_tree_finds_the_chats_only() -> None:
    found, problems = discover([str(REAL)])
    assert not problems and len(found) == 3  # two chats and a sub-agent's, no logs


def test_real_subagent_chat_is_a_child_of_the_chat_that_invoked_it() -> None:
    parent = next(p for p in REAL.rglob("session-*.jsonl") if b"Please delegate" in p.read_bytes())
    (child,) = REAL.rglob("chats/*/*.jsonl")
    thread = main(read(child))
    assert thread.parent_conversation_id == main(read(parent)).conversation_id == child.parent.name
    assert thread.lineage is not None and thread.lineage.conversation_id is not None
    assert parent.stem.endswith(thread.lineage.conversation_id[:8])
    assert thread.summary.title == "There are 4 test files."  # its report's summary
    (finish,) = of(thread.items, ToolCall)
    assert finish.name == "complete_task"
    parent_items = main(read(parent)).items
    assert [c.name for c in of(parent_items, ToolCall)] == ["invoke_agent"]
    (result,) = of(parent_items, ToolResult)
    assert "There are 4 test files." in str(result.output)


# -- the upsert log -------------------------------------------------------------------------


def test_a_rewritten_message_wins_in_its_place(tmp_path: Path) -> None:
    path = chat(
        tmp_path,
        [
            meta(),
            user("u1", "first"),
            gemini("g1", "draft"),
            user("u2", "second"),
            gemini("g1", "final answer"),
        ],
    )
    items = main(read(path)).items
    assert [(i.type, getattr(i, "parts", None)) for i in items] == [
        ("user", ["first"]),
        ("assistant", ["final answer"]),
        ("user", ["second"]),
    ]
    assert items[1].line == 5


def test_set_patches_metadata_and_a_summary_titles_the_chat(tmp_path: Path) -> None:
    path = chat(
        tmp_path,
        [
            meta(),
            user("u1", "fix the login bug"),
            {"$set": {"summary": "Login bug fix", "lastUpdated": "2026-09-01T11:00:00.000Z"}},
        ],
    )
    thread = main(read(path))
    assert (thread.summary.title, thread.summary.title_source) == ("Login bug fix", "ai")
    assert thread.summary.updated_at is not None and thread.summary.updated_at.hour == 11


def test_a_rewind_truncates_and_says_what_it_dropped(tmp_path: Path) -> None:
    records = [
        meta(),
        user("u1", "one"),
        gemini("g1", "a1"),
        user("u2", "two"),
        gemini("g2", "a2"),
        {"$rewindTo": "u2"},
        user("u3", "two, again"),
        gemini("g3", "a3"),
    ]
    items = main(read(chat(tmp_path, records))).items
    assert [getattr(i, "parts", None) or i.subtype for i in items] == [
        ["one"],
        ["a1"],
        "rewind",
        ["two, again"],
        ["a3"],
    ]  # type: ignore[union-attr]
    (note,) = of(items, SystemNote)
    assert note.data == {"to": "u2", "dropped": ["u2", "g2"], "found": True} and note.line == 6


def test_a_rewind_to_an_unknown_id_clears_everything(tmp_path: Path) -> None:
    items = main(
        read(
            chat(tmp_path, [meta(), user("u1", "one"), {"$rewindTo": "nope"}, user("u2", "fresh")])
        )
    ).items
    assert [i.type for i in items] == ["system", "user"] and items[1].parts == ["fresh"]  # type: ignore[union-attr]


def test_set_messages_replaces_the_list_and_notes_what_did_not_come_back(tmp_path: Path) -> None:
    records = [
        meta(),
        user("u1", "one"),
        gemini("g1", "a1"),
        {"$set": {"messages": [user("u1", "one"), gemini("g9", "summary of a1")]}},
    ]
    items = main(read(chat(tmp_path, records))).items
    assert [i.type for i in items] == ["user", "system", "assistant"]
    note = of(items, SystemNote)[0]
    assert note.subtype == "history_replaced" and note.data == {"dropped": ["g1"]}


def test_tool_calls_thoughts_images_and_notices(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\nimg"
    records = [
        meta(),
        {
            "id": "u1",
            "timestamp": "2026-09-01T10:00:01.000Z",
            "type": "user",
            "content": [
                {"text": "what is this?"},
                {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(png).decode()}},
            ],
        },
        gemini(
            "g1",
            "",
            thoughts=[
                {
                    "subject": "Looking",
                    "description": "It is a screenshot.",
                    "timestamp": "2026-09-01T10:00:01.500Z",
                }
            ],
            tokens={
                "input": 100,
                "output": 9,
                "cached": 50,
                "thoughts": 4,
                "tool": 0,
                "total": 163,
            },
            toolCalls=[
                {
                    "id": "c1",
                    "name": "read_file",
                    "args": {"path": "a.py"},
                    "status": "success",
                    "result": [
                        {
                            "functionResponse": {
                                "id": "c1",
                                "name": "read_file",
                                "response": {"output": "print(1)"},
                            }
                        }
                    ],
                },
                {
                    "id": "c2",
                    "name": "run_shell_command",
                    "args": {"command": "rm -rf /"},
                    "status": "cancelled",
                    "resultDisplay": "Cancelled by the user",
                },
            ],
        ),
        {
            "id": "i1",
            "timestamp": "2026-09-01T10:00:03.000Z",
            "type": "info",
            "content": "Switched to fallback model",
        },
        {
            "id": "e1",
            "timestamp": "2026-09-01T10:00:04.000Z",
            "type": "error",
            "content": "Quota exceeded",
        },
    ]
    blobs = MemoryBlobs()
    items = main(read(chat(tmp_path, records), blobs)).items
    (image,) = of(items, Image)
    assert blobs.get(image.image.blob) == png
    (thought,) = of(items, Reasoning)
    assert thought.text == "**Looking** It is a screenshot."
    (answer,) = of(items, AssistantMessage)
    assert (
        answer.usage.input_tokens,
        answer.usage.cache_read_input_tokens,
        answer.usage.model_extra["thoughts_tokens"],
    ) == (100, 50, 4)
    results = {r.call_id: r for r in of(items, ToolResult)}
    assert results["c1"].output == "print(1)" and not results["c1"].is_error
    assert results["c2"].output == "Cancelled by the user" and results["c2"].is_error
    assert [(n.subtype, n.text) for n in of(items, SystemNote)] == [
        ("info", "Switched to fallback model"),
        ("error", "Quota exceeded"),
    ]


# -- whole-file chats, sub-agents, projects, bad input ------------------------------------------


def test_whole_file_json_chat_pretty_printed_with_a_long_text(tmp_path: Path) -> None:
    long = "x" * 5000
    record = meta(messages=[user("u1", "hello"), gemini("g1", long)])
    chats = tmp_path / ".gemini" / "tmp" / "app" / "chats"
    chats.mkdir(parents=True)
    path = chats / "session-2026-09-01T10-00-5d6e7f80.json"
    path.write_text(json.dumps(record, indent=2))
    blobs = MemoryBlobs()
    result = read(path, blobs)
    assert not result.problems
    thread = main(result)
    answer = of(thread.items, AssistantMessage)[0]
    restored = full_item(answer.model_dump(mode="json"), SourceLines(blobs))
    assert restored["parts"] == [long]
    assert blobs.get(result.pages[0].blob) == path.read_bytes()


def test_half_written_files_are_problems_not_failures(tmp_path: Path) -> None:
    chats = tmp_path / ".gemini" / "tmp" / "app" / "chats"
    chats.mkdir(parents=True)
    whole = chats / "session-2026-09-01T10-00-aaaaaaaa.json"
    whole.write_text('{"sessionId": "x", "messages": [{"id": "u1", "ty')
    result = read(whole)
    assert result.main is None and "half-written" in result.problems[0].reason
    log = chat(tmp_path, [meta(), user("u1", "one")])
    log.write_text(log.read_text() + '{"id": "g1", "type": "gem')
    result = read(log)
    assert [(p.line, p.reason) for p in result.problems] == [(3, TORN_LINE)]
    assert [i.type for i in main(result).items] == ["user"]
    assert result.version.consumed_lines == 2


def test_a_subagent_chat_is_a_child_of_its_parent_session(tmp_path: Path) -> None:
    parent = chat(tmp_path, [meta(), user("u1", "investigate")])
    child_dir = parent.parent / SESSION
    child_dir.mkdir()
    child = child_dir / "7a8b9c0d-0000-4000-8000-000000000001.jsonl"
    child.write_text(
        json.dumps(meta(sessionId="7a8b9c0d-0000-4000-8000-000000000001", kind="subagent"))
        + "\n"
        + json.dumps(user("s1", "look at auth.py"))
        + "\n"
    )
    found, problems = discover([str(tmp_path / ".gemini")])
    assert not problems and sorted(Path(s.path).name for s in found) == sorted(
        [parent.name, child.name]
    )
    thread = main(read(child))
    assert thread.parent_conversation_id == main(read(parent)).conversation_id == SESSION
    assert thread.lineage is not None and thread.lineage.conversation_id == SESSION
    assert thread.summary.cwd == "/work/app"


def test_project_root_from_projects_json_by_hash(tmp_path: Path) -> None:
    root = "/home/me/src/app"
    digest = hashlib.sha256(root.encode()).hexdigest()
    path = chat(tmp_path, [meta(), user("u1", "hi")], project=digest)
    (path.parent.parent / ".project_root").unlink()
    (tmp_path / ".gemini" / "projects.json").write_text(json.dumps({"projects": {root: "app"}}))
    assert main(read(path)).summary.cwd == root


def test_a_grown_log_is_replayed_whole(tmp_path: Path) -> None:
    path = chat(tmp_path, [meta(), user("u1", "one")])
    first = read(path)
    with path.open("a") as f:
        f.write(json.dumps(gemini("g1", "answer")) + "\n")
    v = first.version
    second = read(path, resume=ResumePoint(v.consumed_bytes, v.consumed_sha256, v.consumed_lines))
    assert second.mode == "replace" and [i.type for i in main(second).items] == [
        "user",
        "assistant",
    ]


def test_unknown_records_and_bad_lines_are_reported_by_line(tmp_path: Path) -> None:
    result = read(chat(tmp_path, [meta(), "{nope", {"what": 1}, user("u1", "still here")]))
    assert [p.line for p in result.problems] == [2, 3]
    assert [i.type for i in main(result).items] == ["user"]


def test_public_sample_whole_file_chat() -> None:
    """ai-sessions' Gemini sample (tests/fixtures/README.md): a whole-file chat."""
    (path,) = (REAL.parent / "public").rglob("session-*.json")
    result = read(path)
    assert not result.problems
    thread = main(result)
    kinds = [i.type for i in thread.items]
    assert kinds.count("tool_call") == kinds.count("tool_result") == 3
    assert [u.parts for u in of(thread.items, UserMessage)] == [
        ["List the files in the current directory"],
        ["Great! Can you read the README?"],
    ]
    results = of(thread.items, ToolResult)
    assert results[0].output.startswith("Directory listing for /Users/test/project:\n")
    assert isinstance(results[2].output, list) and len(results[2].output) == 3
    assert thread.summary.models == ["gemini-2.5-pro", "gemini-2.0-flash"]
    assert of(thread.items, Reasoning)[0].text.startswith("**Analyzing Directory")
