"""Codex rollouts -> items, problems, thread facts and lineage.

Real rollouts written by the Codex 0.169.0 binary (``tests/fixtures/codex/real``,
made by ``make_real_rollouts.py``) and hand-written ones, one per rule, read with
the real reader and an in-memory content-addressed blob store.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from threadline.adapters.codex.discovery import discover
from threadline.adapters.codex.reader import CodexReader, claude_thread_id
from threadline.adapters.source_support import LinkedThreadContent
from threadline.application.history import SourceLines, full_item
from threadline.application.ports import ReadTranscript, ResumePoint, SourceFile
from threadline.domain.identity import imported_thread_id
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

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "codex"
REAL = FIXTURES / "real"
THREAD = "01a2b3c4-0000-7000-8000-00000000aaaa"
PARENT = "01a2b3c4-0000-7000-8000-00000000bbbb"


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
    path: Path, resume: ResumePoint | None = None, blobs: MemoryBlobs | None = None
) -> ReadTranscript:
    real = os.path.realpath(path)
    st = os.stat(real)
    return CodexReader().read(
        SourceFile("codex", real, st.st_size, st.st_mtime_ns), resume, blobs or MemoryBlobs()
    )


def main(read_: ReadTranscript) -> LinkedThreadContent:
    assert isinstance(read_.main, LinkedThreadContent)
    return read_.main


def of(items: list[Item], kind: type) -> list[Any]:
    return [i for i in items if isinstance(i, kind)]


def notes(items: list[Item], subtype: str) -> list[SystemNote]:
    return [i for i in items if isinstance(i, SystemNote) and i.subtype == subtype]


def real_rollout(kind: str, contains: str) -> Path:
    for path in sorted((REAL / kind).rglob("rollout-*.jsonl")):
        if contains in path.read_text():
            return path
    raise AssertionError(f"no {kind} fixture with {contains!r}")


# -- hand-written rollouts ----------------------------------------------------------


def line(ts: str, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"timestamp": f"2026-01-02T03:{ts}Z", "type": kind, "payload": payload}


def meta(thread: str = THREAD, **extra: Any) -> dict[str, Any]:
    return line(
        "00:00.000",
        "session_meta",
        {
            "id": thread,
            "timestamp": "2026-01-02T03:00:00.000Z",
            "cwd": "/work/app",
            "originator": "codex_cli_rs",
            "cli_version": "0.104.0",
            "source": "cli",
            "model_provider": "openai",
            "git": {"commit_hash": "abc123", "branch": "main", "repository_url": "git@x:y.git"},
        }
        | extra,
    )


def user_item(ts: str, text: str) -> dict[str, Any]:
    return line(
        ts,
        "response_item",
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]},
    )


def user_event(ts: str, text: str) -> dict[str, Any]:
    return line(ts, "event_msg", {"type": "user_message", "message": text, "images": []})


def agent_item(ts: str, text: str) -> dict[str, Any]:
    return line(
        ts,
        "response_item",
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": text}],
        },
    )


def agent_event(ts: str, text: str) -> dict[str, Any]:
    return line(ts, "event_msg", {"type": "agent_message", "message": text})


def task_started(ts: str, turn: str) -> dict[str, Any]:
    return line(ts, "event_msg", {"type": "task_started", "turn_id": turn})


def write(
    root: Path, records: list[Any], thread: str = THREAD, sub: str = "sessions/2026/01/02"
) -> Path:
    path = root / sub / f"rollout-2026-01-02T03-00-00-{thread}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"".join((r if isinstance(r, bytes) else orjson.dumps(r)) + b"\n" for r in records)
    )
    return path


# -- real rollouts from the Codex 0.169 binary ---------------------------------------


def test_real_exec_rollout_maps_one_stream_with_tool_calls_reasoning_and_usage() -> None:
    path = real_rollout("exec/sessions", "Please run the tests")
    thread = main(read(path))
    items = thread.items
    first = orjson.loads(path.read_bytes().splitlines()[0])["payload"]
    assert thread.conversation_id == first["id"] == path.stem[-36:]
    assert thread.source.session_id == first["id"]
    assert thread.summary.cwd == "/tmp/threadline-fixture/weather-app"
    assert thread.summary.models == ["scripted-model"]
    assert thread.summary.title == "Please run the tests and tell me if they pass."
    # The prompt is in a response item and an item_completed event: one item.
    prompts = [u for u in of(items, UserMessage) if not u.meta]
    assert [u.parts for u in prompts] == [
        ["Please run the tests and tell me if they pass."],
        ["Thanks. Summarise what you did."],
    ]
    assert all(
        u.parts[0].startswith("<environment_context>") for u in of(items, UserMessage) if u.meta
    )
    assert notes(items, "developer_message")
    answers = of(items, AssistantMessage)
    assert [a.parts for a in answers] == [
        ["The tests pass: `20 passed`. The endpoint works."],
        ["Done: Thanks. Summarise what you did."],
    ]
    assert {a.model for a in answers} == {"scripted-model"}
    reasoning = of(items, Reasoning)
    assert reasoning[0].text == "**Running the test suite**\n\nI should run pytest."
    assert len(reasoning) == 2 and reasoning[0].signature  # encrypted_content kept, opaque
    (call,) = of(items, ToolCall)
    (result,) = of(items, ToolResult)
    assert call.name == "exec_command" and call.input == {"cmd": "echo '20 passed in 1.82s'"}
    assert result.call_id == call.call_id and "20 passed in 1.82s" in str(result.output)
    assert not result.is_error
    assert items.index(call) < items.index(result)
    # Usage per model response, never the cumulative figure again.
    usage = [n.data["usage"] for n in notes(items, "token_usage") if n.data]
    lines = [orjson.loads(raw) for raw in path.read_bytes().splitlines()]
    totals = [
        r["payload"]["info"]["total_token_usage"]
        for r in lines
        if r["payload"].get("type") == "token_count"
    ]
    assert sum(u["total_tokens"] for u in usage) == totals[-1]["total_tokens"]
    assert len(usage) == 4  # two answers in turn 1, the compaction's summary, turn 2
    # thread/compact/start: the summariser's answer and the boundary are notes, and the
    # history before them is kept.
    (summary,) = notes(items, "compaction_summary")
    (boundary,) = notes(items, "compaction")
    assert summary.text == "Summary: the user asked to run the tests; 20 passed."
    assert isinstance(boundary.text, str) and summary.text in boundary.text
    assert (
        items.index(call) < items.index(summary) < items.index(boundary) < items.index(prompts[1])
    )
    assert not of(items, Unknown)


def test_real_fork_links_to_its_parent_and_counts_only_its_own_usage() -> None:
    parent = real_rollout("exec/sessions", "Please run the tests")
    fork = real_rollout("exec/sessions", "again in the fork")
    thread = main(read(fork))
    assert thread.lineage is not None and thread.lineage.kind == "fork"
    assert thread.lineage.conversation_id == parent.stem[-36:]
    assert thread.parent_conversation_id == main(read(parent)).conversation_id  # its thread
    assert [u.parts for u in of(thread.items, UserMessage) if not u.meta] == [
        ["Now run the tests again in the fork."]
    ]
    usage = sum(
        n.data["usage"]["total_tokens"] for n in notes(thread.items, "token_usage") if n.data
    )
    lines = [orjson.loads(raw) for raw in fork.read_bytes().splitlines()]
    cumulative = [
        r["payload"]["info"]["total_token_usage"]["total_tokens"]
        for r in lines
        if r["payload"].get("type") == "token_count"
    ]
    assert usage < cumulative[-1]  # the fork's totals carry its parent's


def test_real_subagent_is_a_child_of_the_thread_that_spawned_it() -> None:
    parent = real_rollout("exec/sessions", "Please delegate")
    child = real_rollout("exec/sessions", '"thread_spawn"')
    thread = main(read(child))
    assert thread.lineage is not None and thread.lineage.kind == "subagent"
    assert thread.lineage.conversation_id == parent.stem[-36:]
    assert thread.parent_conversation_id == main(read(parent)).conversation_id
    assert thread.source.agent_id  # the nickname Codex gave it
    spawn = [c for c in of(main(read(parent)).items, ToolCall) if c.name.endswith("spawn_agent")]
    assert spawn and spawn[0].input == {"message": "Count the test files and report the number."}


def test_real_claude_import_rollout_names_the_claude_session_it_came_from() -> None:
    path = real_rollout("claude-import/sessions", "external-import-turn-1")
    thread = main(read(path))
    assert thread.lineage is not None and thread.lineage.kind == "imported"
    assert thread.lineage.agent == "claude-code"
    assert thread.lineage.conversation_id == "9a4e7d21-63b0-4f5c-8e12-7c3f0b9d5e84"
    assert thread.lineage.source_path and thread.lineage.source_path.endswith(
        "9a4e7d21-63b0-4f5c-8e12-7c3f0b9d5e84.jsonl"
    )
    assert claude_thread_id(thread.lineage) == imported_thread_id(
        "claude-code", os.path.realpath(thread.lineage.source_path)
    )
    # The importer writes every message twice (event and response item): once here.
    prompts = [u.parts[0] for u in of(thread.items, UserMessage)]
    assert prompts[0] == "Add an /hourly endpoint that returns the next 24 hours."
    assert prompts[-1] == "Now run the tests."
    assert len(prompts) == 3
    assert len(of(thread.items, AssistantMessage)) == 5
    assert notes(thread.items, "import_marker")
    assert all(
        "<EXTERNAL SESSION IMPORTED>" not in a.parts[0] for a in of(thread.items, AssistantMessage)
    )


def test_every_line_of_a_real_rollout_is_kept_byte_for_byte() -> None:
    path = real_rollout("exec/sessions", "Please run the tests")
    blobs = MemoryBlobs()
    result = read(path, blobs=blobs)
    assert b"".join(blobs.get(p.blob) for p in result.pages) == path.read_bytes()
    assert result.version.consumed_bytes == path.stat().st_size
    assert result.version.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


# -- one stream ------------------------------------------------------------------------


@pytest.mark.parametrize("event_first", [True, False])
def test_a_prompt_and_an_answer_written_twice_are_one_item_each(
    tmp_path: Path, event_first: bool
) -> None:
    pairs = [
        (user_event("01:00.000", "fix the bug"), user_item("01:00.001", "fix the bug")),
        (agent_event("01:02.000", "Fixed."), agent_item("01:02.001", "Fixed.")),
    ]
    body = [task_started("00:59.000", "t1")]
    for event, item in pairs:
        body += [event, item] if event_first else [item, event]
    thread = main(read(write(tmp_path, [meta(), *body])))
    assert [i.type for i in thread.items] == ["user", "assistant"]


def test_the_same_words_in_two_turns_are_two_items(tmp_path: Path) -> None:
    body = []
    for n in (1, 2):
        body += [
            task_started(f"0{n}:00.000", f"t{n}"),
            user_event(f"0{n}:00.001", "yes"),
            user_item(f"0{n}:00.002", "yes"),
        ]
    thread = main(read(write(tmp_path, [meta(), *body])))
    assert [u.parts for u in of(thread.items, UserMessage)] == [["yes"], ["yes"]]


def test_events_without_response_items_are_kept(tmp_path: Path) -> None:
    thread = main(
        read(
            write(
                tmp_path,
                [
                    meta(),
                    task_started("01:00.000", "t1"),
                    user_event("01:00.001", "hello"),
                    agent_event("01:01.000", "hi"),
                ],
            )
        )
    )
    assert [i.type for i in thread.items] == ["user", "assistant"]


def test_reasoning_keeps_its_summary_and_opaque_encrypted_content_once(tmp_path: Path) -> None:
    reasoning = line(
        "01:01.000",
        "response_item",
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [{"type": "summary_text", "text": "**Plan**"}],
            "encrypted_content": "gAAAA-secret",
        },
    )
    echo = line("01:01.001", "event_msg", {"type": "agent_reasoning", "text": "**Plan**"})
    thread = main(read(write(tmp_path, [meta(), task_started("01:00.000", "t"), echo, reasoning])))
    (item,) = thread.items
    assert (
        isinstance(item, Reasoning) and item.text == "**Plan**" and item.signature == "gAAAA-secret"
    )


# -- record types ---------------------------------------------------------------------


def test_function_call_arguments_are_parsed_and_kept_verbatim(tmp_path: Path) -> None:
    args = '{"command":["bash","-lc","ls"],  "workdir":"/work/app"}'
    records = [
        meta(),
        line(
            "01:00.000",
            "response_item",
            {"type": "function_call", "name": "shell", "arguments": args, "call_id": "c1"},
        ),
        line(
            "01:00.500",
            "response_item",
            {"type": "function_call", "name": "shell", "arguments": "not json {", "call_id": "c2"},
        ),
        line(
            "01:01.000",
            "response_item",
            {
                "type": "function_call_output",
                "call_id": "c1",
                "output": '{"output":"a\\nb","metadata":{"exit_code":2}}',
            },
        ),
    ]
    blobs = MemoryBlobs()
    result = read(write(tmp_path, records), blobs=blobs)
    first, second = of(main(result).items, ToolCall)
    assert first.input == {"command": ["bash", "-lc", "ls"], "workdir": "/work/app"}
    assert second.input == "not json {"
    (output,) = of(main(result).items, ToolResult)
    assert output.call_id == "c1" and output.is_error  # exit code 2
    page = b"".join(blobs.get(p.blob) for p in result.pages)
    assert args.encode() in page.replace(b'\\"', b'"')


def test_a_large_argument_stays_in_its_line_and_reads_back_whole(tmp_path: Path) -> None:
    big = {"patch": "x" * 10_000}
    records = [
        meta(),
        line(
            "01:00.000",
            "response_item",
            {
                "type": "function_call",
                "name": "apply",
                "arguments": orjson.dumps(big).decode(),
                "call_id": "c1",
            },
        ),
    ]
    blobs = MemoryBlobs()
    (call,) = of(main(read(write(tmp_path, records), blobs=blobs)).items, ToolCall)
    assert call.input is None and call.input_ref is not None
    restored = full_item(call.model_dump(mode="json"), SourceLines(blobs))
    assert orjson.loads(restored["input"]) == big


def test_custom_local_shell_web_search_ghost_snapshot_and_images(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\nfake"
    import base64

    url = "data:image/png;base64," + base64.b64encode(png).decode()
    records = [
        meta(),
        line(
            "01:00.000",
            "response_item",
            {
                "type": "custom_tool_call",
                "name": "apply_patch",
                "input": "*** Begin Patch\n*** End Patch",
                "call_id": "p1",
                "status": "completed",
            },
        ),
        line(
            "01:00.100",
            "response_item",
            {"type": "custom_tool_call_output", "call_id": "p1", "output": "Success."},
        ),
        line(
            "01:00.200",
            "response_item",
            {
                "type": "local_shell_call",
                "call_id": "l1",
                "status": "completed",
                "action": {"type": "exec", "command": ["ls"]},
            },
        ),
        line(
            "01:00.300",
            "response_item",
            {
                "type": "web_search_call",
                "id": "ws_1",
                "status": "completed",
                "action": {"type": "search", "query": "python uuid7"},
            },
        ),
        line(
            "01:00.400",
            "response_item",
            {"type": "ghost_snapshot", "ghost_commit": {"id": "deadbeef", "parent": "abc123"}},
        ),
        line(
            "01:00.500",
            "response_item",
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "look"},
                    {"type": "input_image", "image_url": url},
                ],
            },
        ),
        line("01:00.600", "response_item", {"type": "brand_new_item", "x": 1}),
        line("01:00.700", "brand_new_record", {"x": 1}),
    ]
    blobs = MemoryBlobs()
    items = main(read(write(tmp_path, records), blobs=blobs)).items
    calls = {c.name: c for c in of(items, ToolCall)}
    assert calls["apply_patch"].input == "*** Begin Patch\n*** End Patch"
    assert calls["local_shell"].input == {"type": "exec", "command": ["ls"]}
    assert calls["web_search"].input == {"type": "search", "query": "python uuid7"}
    assert [r.output for r in of(items, ToolResult)] == ["Success."]
    assert notes(items, "ghost_snapshot")[0].data == {
        "ghost_commit": {"id": "deadbeef", "parent": "abc123"}
    }
    (image,) = of(items, Image)
    assert blobs.get(image.image.blob) == png and image.image.media_type == "image/png"
    assert sorted(u.record_type for u in of(items, Unknown)) == [
        "brand_new_record",
        "response_item:brand_new_item",
    ]


def test_turn_context_gives_model_and_effort_to_what_follows(tmp_path: Path) -> None:
    records = [
        meta(),
        line(
            "01:00.000",
            "turn_context",
            {"turn_id": "t1", "model": "gpt-5-codex", "effort": "high", "cwd": "/work/app"},
        ),
        agent_item("01:00.100", "one"),
        line(
            "02:00.000",
            "turn_context",
            {"turn_id": "t2", "model": "gpt-5", "effort": "low", "cwd": "/work/app"},
        ),
        agent_item("02:00.100", "two"),
    ]
    thread = main(read(write(tmp_path, records)))
    assert [a.model for a in of(thread.items, AssistantMessage)] == ["gpt-5-codex", "gpt-5"]
    assert [(n.data or {}).get("effort") for n in notes(thread.items, "turn_context")] == [
        "high",
        "low",
    ]
    assert thread.summary.models == ["gpt-5-codex", "gpt-5"]


def test_token_usage_from_last_usage_or_differences_never_cumulative(tmp_path: Path) -> None:
    def count(ts: str, total: int, last: int | None) -> dict[str, Any]:
        info: dict[str, Any] = {
            "total_token_usage": {
                "input_tokens": total,
                "output_tokens": 1,
                "total_tokens": total + 1,
            }
        }
        if last is not None:
            info["last_token_usage"] = {
                "input_tokens": last,
                "output_tokens": 1,
                "total_tokens": last + 1,
            }
        return line(ts, "event_msg", {"type": "token_count", "info": info})

    records = [
        meta(),
        count("01:00.000", 100, 100),
        count("01:00.100", 100, 100),
        count("02:00.000", 250, 150),
        count("03:00.000", 400, None),
        line("03:00.100", "event_msg", {"type": "token_count", "info": None}),
    ]
    usage = [
        n.data["usage"]
        for n in notes(main(read(write(tmp_path, records))).items, "token_usage")
        if n.data
    ]
    assert [u["input_tokens"] for u in usage] == [100, 150, 150]  # the repeat counts nothing
    assert usage[-1]["output_tokens"] == 0  # a difference of the totals


def test_compaction_is_one_boundary_and_the_history_before_it_is_kept(tmp_path: Path) -> None:
    records = [
        meta(),
        task_started("01:00.000", "t1"),
        user_item("01:00.001", "first question"),
        agent_item("01:00.002", "first answer"),
        task_started("02:00.000", "t2"),
        line(
            "02:00.001",
            "compacted",
            {
                "message": "Summary of the work so far.",
                "replacement_history": [{"type": "message"}],
            },
        ),
        line("02:00.002", "event_msg", {"type": "context_compacted"}),
        user_item("02:00.003", "after"),
    ]
    items = main(read(write(tmp_path, records))).items
    (boundary,) = notes(items, "compaction")
    assert boundary.text == "Summary of the work so far." and boundary.data == {
        "replacement_items": 1
    }
    assert [i.type for i in items] == ["user", "assistant", "system", "user"]


def test_title_session_index_newest_wins_then_thread_name_then_prompt(tmp_path: Path) -> None:
    body = [
        meta(),
        user_item(
            "01:00.000", "<environment_context>\n<cwd>/work/app</cwd>\n</environment_context>"
        ),
        user_item("01:00.001", "Make the build faster\nplease"),
    ]
    path = write(tmp_path, body)
    assert main(read(path)).summary.title == "Make the build faster"
    path.write_bytes(
        path.read_bytes()
        + orjson.dumps(
            line(
                "02:00.000",
                "event_msg",
                {"type": "thread_name_updated", "thread_id": THREAD, "thread_name": "Build speed"},
            )
        )
        + b"\n"
    )
    assert (main(read(path)).summary.title, main(read(path)).summary.title_source) == (
        "Build speed",
        "custom",
    )
    (tmp_path / "session_index.jsonl").write_text(
        "\n".join(
            orjson.dumps(e).decode()
            for e in [
                {"id": THREAD, "thread_name": "Newer name", "updated_at": "2026-01-03T00:00:00Z"},
                {"id": THREAD, "thread_name": "Older name", "updated_at": "2026-01-02T00:00:00Z"},
                {"id": PARENT, "thread_name": "Someone else", "updated_at": "2026-01-04T00:00:00Z"},
            ]
        )
        + "\n"
    )
    assert main(read(path)).summary.title == "Newer name"


def test_git_and_meta_facts(tmp_path: Path) -> None:
    thread = main(read(write(tmp_path, [meta(), user_item("01:00.000", "hi")])))
    git = thread.summary.git
    assert git is not None and (git.branch, git.sha, git.origin) == (
        "main",
        "abc123",
        "git@x:y.git",
    )
    assert (
        thread.summary.created_at is not None
        and thread.summary.created_at.isoformat() == "2026-01-02T03:00:00+00:00"
    )


# -- lineage -----------------------------------------------------------------------------


def test_old_fork_replaying_its_parent_stores_only_its_own_items(tmp_path: Path) -> None:
    write(tmp_path, [meta(PARENT), user_item("00:00.100", "parent prompt")], thread=PARENT)
    child_meta = meta(THREAD, forked_from_id=PARENT)
    child_meta["timestamp"] = "2026-01-02T03:30:00.000Z"
    child_meta["payload"]["timestamp"] = "2026-01-02T03:30:00.000Z"
    records = [
        child_meta,
        meta(PARENT),  # the copied parent meta
        task_started("00:00.050", "parent-turn"),
        user_item("00:00.100", "parent prompt"),
        agent_item("00:00.200", "parent answer"),
        line(
            "00:00.300",
            "event_msg",
            {
                "type": "token_count",
                "info": {
                    "total_token_usage": {"total_tokens": 500},
                    "last_token_usage": {"total_tokens": 500},
                },
            },
        ),
        task_started("30:00.100", "child-turn"),
        user_item("30:00.200", "child prompt"),
    ]
    thread = main(read(write(tmp_path, records)))
    assert [u.parts for u in of(thread.items, UserMessage)] == [["child prompt"]]
    assert not of(thread.items, AssistantMessage) and not notes(thread.items, "token_usage")
    (replay,) = notes(thread.items, "replayed_parent_history")
    assert (
        replay.data is not None
        and replay.data["parent_thread_id"] == PARENT
        and replay.data["lines"] == 5
    )
    assert thread.parent_conversation_id == PARENT
    assert thread.summary.title == "child prompt"


def test_subagent_source_names_its_parent_even_when_the_parent_is_not_on_disk(
    tmp_path: Path,
) -> None:
    source = {
        "subagent": {
            "thread_spawn": {"parent_thread_id": PARENT, "depth": 1, "agent_nickname": "Ada"}
        }
    }
    thread = main(read(write(tmp_path, [meta(source=source), user_item("01:00.000", "sub task")])))
    assert thread.lineage is not None and (thread.lineage.kind, thread.lineage.conversation_id) == (
        "subagent",
        PARENT,
    )
    assert thread.parent_thread_id is None and thread.source.agent_id == "Ada"


# -- bad input and growth ------------------------------------------------------------------


def test_first_line_not_session_meta_is_a_problem_not_fatal(tmp_path: Path) -> None:
    result = read(write(tmp_path, [user_item("01:00.000", "hello")]))
    assert [(p.line, "session_meta" in p.reason) for p in result.problems] == [(1, True)]
    thread = main(result)
    assert thread.conversation_id == THREAD  # from the file name
    assert [i.type for i in thread.items] == ["user"]


def test_a_line_of_nul_bytes_says_so_as_in_every_agent(tmp_path: Path) -> None:
    result = read(write(tmp_path, [meta(), b"\x00" * 64, user_item("01:00.000", "hello")]))
    assert [(p.line, p.reason) for p in result.problems] == [(2, "contains NUL bytes; not JSON")]
    assert [i.type for i in main(result).items] == ["user"]


def test_bad_lines_are_reported_by_line_and_a_torn_tail_is_left_unread(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [
            meta(),
            b"{not json",
            line("01:00.000", "response_item", {"type": "message", "role": "user", "content": 7}),
            user_item("01:00.001", "ok"),
        ],
    )
    path.write_bytes(path.read_bytes() + b'{"timestamp":"2026-01-02T03:02:00Z","type":"resp')
    result = read(path)
    assert [p.line for p in result.problems] == [2, 3, 5]
    assert "torn" in result.problems[0].reason or "invalid JSON" in result.problems[0].reason
    assert "incomplete last line" in result.problems[2].reason
    assert result.version.consumed_lines == 4
    assert [i.type for i in main(result).items] == ["unknown", "user"]


def test_an_empty_or_foreign_file_is_a_problem(tmp_path: Path) -> None:
    empty = write(tmp_path, [])
    result = read(empty)
    assert result.main is None and "empty" in result.problems[0].reason


def test_an_open_turn_is_imported_as_is_and_appended_to_when_the_rollout_grows(
    tmp_path: Path,
) -> None:
    start = [
        meta(),
        line("00:30.000", "turn_context", {"turn_id": "t1", "model": "gpt-5", "cwd": "/work/app"}),
        task_started("01:00.000", "t1"),
        user_item("01:00.001", "run it"),
        line(
            "01:00.002",
            "response_item",
            {"type": "function_call", "name": "shell", "arguments": "{}", "call_id": "c1"},
        ),
    ]
    path = write(tmp_path, start)
    first = read(path)
    assert [i.type for i in main(first).items] == ["system", "user", "tool_call"]
    grown = [
        line(
            "01:05.000",
            "response_item",
            {"type": "function_call_output", "call_id": "c1", "output": "done"},
        ),
        agent_item("01:06.000", "It ran."),
    ]
    with path.open("ab") as f:
        f.write(b"".join(orjson.dumps(r) + b"\n" for r in grown))
    v = first.version
    second = read(path, ResumePoint(v.consumed_bytes, v.consumed_sha256, v.consumed_lines))
    assert second.mode == "append"
    thread = main(second)
    assert [i.type for i in thread.items] == ["tool_result", "assistant"]
    assert [i.line for i in thread.items] == [6, 7]
    assert thread.conversation_id == THREAD and thread.summary.cwd == "/work/app"
    # The turn context before the resume point still names the model of what follows.
    assert of(thread.items, AssistantMessage)[0].model == "gpt-5"
    # A rewritten prefix is read again in full.
    path.write_bytes(path.read_bytes().replace(b"run it", b"run IT"))
    assert (
        read(path, ResumePoint(v.consumed_bytes, v.consumed_sha256, v.consumed_lines)).mode
        == "replace"
    )


def test_the_oldest_layout_bare_meta_and_bare_items(tmp_path: Path) -> None:
    records = [
        {
            "id": THREAD,
            "timestamp": "2025-08-01T10:00:00.000Z",
            "instructions": None,
            "git": {"branch": "dev"},
        },
        {"record_type": "state"},
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "old prompt"}],
        },
        {
            "type": "function_call",
            "name": "shell",
            "arguments": '{"command":["ls"]}',
            "call_id": "c",
        },
    ]
    result = read(write(tmp_path, records))
    assert not result.problems
    thread = main(result)
    assert [i.type for i in thread.items] == ["user", "tool_call"]
    assert thread.summary.git is not None and thread.summary.git.branch == "dev"


# -- discovery ------------------------------------------------------------------------------


def test_discovery_finds_dated_flat_and_archived_rollouts_once(tmp_path: Path) -> None:
    home = tmp_path / "codex"
    dated = write(home, [meta()], thread=THREAD)
    flat = write(home, [meta(PARENT)], thread=PARENT, sub="sessions")
    archived_copy = write(home, [meta()], thread=THREAD, sub="archived_sessions")
    only_archived = write(
        home,
        [meta("01a2b3c4-0000-7000-8000-00000000cccc")],
        thread="01a2b3c4-0000-7000-8000-00000000cccc",
        sub="archived_sessions",
    )
    (home / "sessions" / "notes.jsonl").write_text("{}\n")
    found, problems = discover([str(home), str(tmp_path / "missing")])
    assert sorted(s.path for s in found) == sorted(
        os.path.realpath(p) for p in (dated, flat, only_archived)
    )
    assert os.path.realpath(archived_copy) not in {s.path for s in found}
    assert [p.reason for p in problems] == ["no such file or directory"]
    assert all(s.agent == "codex" for s in found)


def test_discovery_of_the_real_fixture_tree() -> None:
    found, problems = discover([str(REAL / "exec")])
    assert len(found) == 4 and not problems


# -- public samples (claude-code-log's test data; tests/fixtures/README.md) -----------------

PUBLIC = FIXTURES / "public" / "claude-code-log"


def test_public_sample_session_with_every_tool_kind() -> None:
    (path,) = (PUBLIC / "sessions" / "2026" / "01" / "02").glob("*.jsonl")
    result = read(path)
    assert not result.problems
    items = main(result).items
    assert [i.type for i in items] == [
        "system",  # turn_context: synthetic-model
        "user",
        "reasoning",
        "tool_call",
        "tool_result",
        "tool_call",
        "tool_result",
        "tool_call",
        "tool_result",
        "assistant",
        "unknown",
    ]
    (reasoning,) = of(items, Reasoning)
    assert reasoning.signature == "SYNTHETIC_ENCRYPTED_CONTENT_MUST_NOT_RENDER"
    calls = of(items, ToolCall)
    assert [c.name for c in calls] == ["exec_command", "apply_patch", "mcp__synthetic__lookup"]
    assert calls[0].input == {"cmd": "find . -maxdepth 1 -type f"}
    (answer,) = of(items, AssistantMessage)
    assert answer.model == "synthetic-model"
    assert of(items, Unknown)[0].record_type == "future_synthetic_record"


def test_public_sample_subagent_replaying_its_parent_prefix() -> None:
    parent, child = sorted((PUBLIC / "sessions" / "2026" / "01" / "03").glob("*.jsonl"))
    thread = main(read(child))
    assert [u.parts for u in of(thread.items, UserMessage)] == [["Inspect fixtures."]]
    assert not of(thread.items, ToolCall)  # the replayed spawn call is the parent's
    assert [a.parts for a in of(thread.items, AssistantMessage)] == [
        ["The fixtures are fully synthetic."]
    ]
    assert thread.spawned_by_call_id == "call-spawn-001"
    assert thread.parent_conversation_id == main(read(parent)).conversation_id
    (replay,) = notes(thread.items, "replayed_parent_history")
    assert replay.data is not None and replay.data["lines"] == 2


def test_public_samples_flat_archived_and_malformed() -> None:
    found, problems = discover([str(PUBLIC)])  # a Codex home: sessions/ and archived_sessions/
    assert len(found) == 5 and not problems
    flat = main(read(PUBLIC / "sessions" / "rollout-44444444-4444-4444-8444-444444444444.jsonl"))
    assert [i.type for i in flat.items] == ["user", "assistant"]
    malformed = read(PUBLIC / "malformed" / "rollout-66666666-6666-4666-8666-666666666666.jsonl")
    assert [p.line for p in malformed.problems] == [3]
    assert [u.parts for u in of(main(malformed).items, UserMessage)] == [
        ["Safe line before malformed input."]
    ]


def test_public_sample_parent_names_the_thread_it_spawned() -> None:
    parent, child = sorted((PUBLIC / "sessions" / "2026" / "01" / "03").glob("*.jsonl"))
    items = main(read(parent)).items
    (spawn,) = notes(items, "collab_tool_call")
    assert spawn.data == {
        "call_id": "call-spawn-001",
        "tool": "spawn_agent",
        "sender_thread_id": "22222222-2222-4222-8222-222222222222",
        "new_thread_id": child.stem[-36:],
    }
    assert not of(items, Unknown)
