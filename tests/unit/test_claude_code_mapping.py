"""Claude Code transcript lines -> items, problems and thread facts.

Every test writes a small transcript to a real file and reads it with the real
reader and an in-memory content-addressed blob store.
"""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from threadline.adapters import jsonl_pages
from threadline.adapters.claude_code.mapping import INLINE_JSON_BYTES, INLINE_TEXT_CHARS
from threadline.adapters.claude_code.reader import ClaudeCodeReader
from threadline.application.history import SourceLines, full_item
from threadline.application.ports import ReadTranscript, ResumePoint, SourceFile
from threadline.domain.items import (
    AssistantMessage,
    Image,
    ImageRef,
    Reasoning,
    SourceRef,
    SystemNote,
    TextBlock,
    ToolCall,
    ToolResult,
    Unknown,
    UserMessage,
)
from threadline.domain.session import GitInfo

SESSION_ID = "5b1c7f0e-8d2a-4c3b-9e4f-0a1b2c3d4e5f"
CWD = "/nonexistent/threadline-tests/project"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
BIG_TEXT = ('héllo "quoted" \\ back\tslash\n🎉 ' * 200).strip()
assert len(BIG_TEXT) > INLINE_TEXT_CHARS


# -- a tiny content-addressed blob store -------------------------------------


class InMemoryBlobs:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.puts: list[str] = []

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        self.blobs.setdefault(key, bytes(data))
        self.puts.append(key)
        return key

    def get(self, key: str) -> bytes:
        return self.blobs[key]


# -- writing and reading transcripts -----------------------------------------


def write_jsonl(path: Path, lines: Iterable[dict[str, Any] | bytes]) -> Path:
    """Dicts become one JSON line each; bytes are written exactly as given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out = bytearray()
    for line in lines:
        out += line if isinstance(line, bytes) else orjson.dumps(line) + b"\n"
    path.write_bytes(bytes(out))
    return path


def read(path: Path, blobs: InMemoryBlobs | None = None) -> ReadTranscript:
    st = path.stat()
    source = SourceFile("claude-code", str(path), st.st_size, st.st_mtime_ns)
    return ClaudeCodeReader().read(source, None, blobs if blobs is not None else InMemoryBlobs())


def read_lines(
    tmp_path: Path, lines: Iterable[dict[str, Any] | bytes], blobs: InMemoryBlobs | None = None
) -> ReadTranscript:
    return read(write_jsonl(tmp_path / "project" / f"{SESSION_ID}.jsonl", lines), blobs)


def items_of(result: ReadTranscript) -> list[Any]:
    assert result.main is not None
    return result.main.items


def problems_of(result: ReadTranscript) -> list[tuple[int, str]]:
    return [(p.line, p.reason) for p in result.problems]


def ts(second: int) -> str:
    return f"2025-03-01T10:00:{second:02d}.000Z"


def at(second: int) -> datetime:
    return datetime(2025, 3, 1, 10, 0, second, tzinfo=UTC)


# -- record builders -----------------------------------------------------------


def envelope(kind: str, uuid: str, parent: str | None, second: int, **extra: Any) -> dict:
    return {
        "type": kind,
        "uuid": uuid,
        "parentUuid": parent,
        "sessionId": SESSION_ID,
        "timestamp": ts(second),
        "cwd": CWD,
        "gitBranch": "",
        "version": "2.1.39",
        "isSidechain": False,
        "userType": "external",
        **extra,
    }


def user(uuid: str, content: Any, parent: str | None = None, second: int = 0, **extra: Any):
    return envelope(
        "user", uuid, parent, second, message={"role": "user", "content": content}, **extra
    )


def assistant(
    uuid: str,
    blocks: list[Any],
    parent: str | None = None,
    second: int = 1,
    msg_id: str = "msg_01",
    model: str = "claude-opus-4-1",
    usage: dict[str, Any] | None = None,
    stop_reason: str | None = None,
    request_id: str | None = "req_01",
    **extra: Any,
) -> dict:
    message = {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": stop_reason,
        "usage": usage or {"input_tokens": 10, "output_tokens": 5},
    }
    record = envelope("assistant", uuid, parent, second, message=message, **extra)
    if request_id is not None:
        record["requestId"] = request_id
    return record


def system(uuid: str, parent: str | None = None, second: int = 2, **fields: Any) -> dict:
    return envelope("system", uuid, parent, second, **fields)


def text(value: str) -> dict:
    return {"type": "text", "text": value}


def image_block(data: bytes, media_type: str = "image/png") -> dict:
    encoded = base64.b64encode(data).decode()
    source = {"type": "base64", "media_type": media_type, "data": encoded}
    return {"type": "image", "source": source}


def tool_use(call_id: str, name: str = "Bash", tool_input: Any = None) -> dict:
    return {"type": "tool_use", "id": call_id, "name": name, "input": tool_input or {"cmd": "ls"}}


def tool_result(call_id: str, content: Any, is_error: bool | None = None) -> dict:
    block = {"type": "tool_result", "tool_use_id": call_id, "content": content}
    if is_error is not None:
        block["is_error"] = is_error
    return block


def resolve(blobs: InMemoryBlobs, ref: SourceRef) -> Any:
    return SourceLines(blobs).value(ref.model_dump())


# == user lines ================================================================


def test_user_string_content_becomes_a_user_message_with_its_provenance(tmp_path):
    result = read_lines(tmp_path, [user("u1", "fix the flaky test", parent="p0", second=7)])

    [item] = items_of(result)
    assert item == UserMessage(
        line=1, timestamp=at(7), uuid="u1", parent_uuid="p0", parts=["fix the flaky test"]
    )
    assert result.problems == []


def test_user_text_blocks_become_one_user_message_with_every_part(tmp_path):
    result = read_lines(tmp_path, [user("u1", [text("first"), text("second")])])

    [item] = items_of(result)
    assert isinstance(item, UserMessage)
    assert item.parts == ["first", "second"]
    assert item.meta is False


def test_pasted_image_is_stored_by_the_hash_of_its_bytes_not_kept_as_base64(tmp_path):
    blobs = InMemoryBlobs()

    result = read_lines(tmp_path, [user("u1", [text("look"), image_block(PNG)])], blobs)

    images = [i for i in items_of(result) if isinstance(i, Image)]
    assert [i.image for i in images] == [
        ImageRef(media_type="image/png", blob=hashlib.sha256(PNG).hexdigest(), size=len(PNG))
    ]
    assert images[0].uuid == "u1"
    assert blobs.get(images[0].image.blob) == PNG
    encoded = base64.b64encode(PNG).decode()
    assert all(encoded not in i.model_dump_json() for i in items_of(result))


def test_identical_images_are_stored_as_one_blob(tmp_path):
    blobs = InMemoryBlobs()

    result = read_lines(
        tmp_path,
        [
            user("u1", [image_block(PNG)]),
            user("u2", [image_block(PNG)], parent="u1"),
            user("u3", [tool_result("toolu_1", [image_block(PNG)])], parent="u2"),
        ],
        blobs,
    )

    refs = [i.image for i in items_of(result) if isinstance(i, Image)]
    refs += [b for i in items_of(result) if isinstance(i, ToolResult) for b in i.output]
    assert len(refs) == 3
    assert {r.blob for r in refs} == {hashlib.sha256(PNG).hexdigest()}
    assert [k for k, data in blobs.blobs.items() if data == PNG] == [refs[0].blob]


def test_image_with_invalid_base64_is_a_problem_and_kept_as_an_unknown_block(tmp_path):
    bad = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "@@"}}

    result = read_lines(tmp_path, [user("u1", [text("see"), bad])])

    assert problems_of(result) == [
        (1, "image at /message/content/1 is not valid base64; kept in the raw line")
    ]
    kinds = sorted(type(i).__name__ for i in items_of(result))
    assert kinds == ["Unknown", "UserMessage"]


def test_tool_result_with_string_content_names_its_call_and_error_flag(tmp_path):
    result = read_lines(
        tmp_path,
        [
            user("u1", [tool_result("toolu_ok", "total 0")], parent="a1", second=3),
            user("u2", [tool_result("toolu_bad", "exit 1", is_error=True)], parent="u1"),
        ],
    )

    ok, bad = items_of(result)
    assert ok == ToolResult(
        line=1,
        timestamp=at(3),
        uuid="u1",
        parent_uuid="a1",
        call_id="toolu_ok",
        output="total 0",
        is_error=False,
    )
    assert (bad.call_id, bad.output, bad.is_error) == ("toolu_bad", "exit 1", True)


def test_tool_result_with_block_content_keeps_text_and_image_blocks_in_order(tmp_path):
    blobs = InMemoryBlobs()
    content = [text("1→import os"), image_block(PNG, "image/jpeg"), {"type": "document"}]

    result = read_lines(tmp_path, [user("u1", [tool_result("toolu_1", content)])], blobs)

    [item] = items_of(result)
    assert isinstance(item, ToolResult)
    first, second, third = item.output
    assert first == TextBlock(text="1→import os")
    assert second == ImageRef(
        media_type="image/jpeg", blob=hashlib.sha256(PNG).hexdigest(), size=len(PNG)
    )
    assert third.kind == "other"
    assert third.block_type == "document"
    assert resolve(blobs, third.block) == {"type": "document"}


def test_tool_result_names_the_sub_agent_it_came_from(tmp_path):
    line = user(
        "u1",
        [tool_result("toolu_task", "done\nagentId: a1b2c3d")],
        toolUseResult={"status": "completed", "agentId": "a1b2c3d"},
    )

    [item] = items_of(read_lines(tmp_path, [line]))

    assert item.agent_id == "a1b2c3d"


def test_meta_user_lines_are_marked_meta_and_never_give_the_title(tmp_path):
    result = read_lines(
        tmp_path,
        [
            user("u1", "<command-name>/review</command-name>"),
            user("u2", "Review this pull request carefully", parent="u1", isMeta=True),
            user("u3", [text("Skill body")], parent="u2", isMeta=True),
            user("u4", "please also check the docs", parent="u3"),
        ],
    )

    metas = [(i.uuid, i.meta) for i in items_of(result)]
    assert metas == [("u1", False), ("u2", True), ("u3", True), ("u4", False)]
    assert result.main.summary.title == "please also check the docs"


def test_compact_summary_user_line_becomes_a_compact_summary_note(tmp_path):
    summary = "This session is being continued from a previous conversation."

    result = read_lines(
        tmp_path,
        [
            user("u1", "real prompt"),
            user(
                "u2",
                summary,
                parent="b1",
                second=9,
                isCompactSummary=True,
                isVisibleInTranscriptOnly=True,
            ),
        ],
    )

    note = items_of(result)[1]
    assert note == SystemNote(
        line=2,
        timestamp=at(9),
        uuid="u2",
        parent_uuid="b1",
        subtype="compact_summary",
        text=summary,
    )
    assert result.main.summary.title == "real prompt"


def test_compact_summary_in_text_blocks_is_joined(tmp_path):
    line = user("u1", [text("part one"), text("part two")], isCompactSummary=True)

    [note] = items_of(read_lines(tmp_path, [line]))

    assert (note.subtype, note.text) == ("compact_summary", "part one\n\npart two")


def test_long_compact_summary_in_text_blocks_resolves_to_its_text(tmp_path):
    blobs = InMemoryBlobs()
    line = user("u1", [text(BIG_TEXT)], isCompactSummary=True)

    [note] = items_of(read_lines(tmp_path, [line], blobs))

    assert isinstance(note.text, SourceRef)
    assert resolve(blobs, note.text) == BIG_TEXT


def test_user_line_with_empty_content_still_keeps_its_place_in_the_chain(tmp_path):
    result = read_lines(tmp_path, [user("u1", "hi"), user("u2", [], parent="u1")])

    assert [i.uuid for i in items_of(result)] == ["u1", "u2"]


# == assistant lines ===========================================================


def test_assistant_text_becomes_an_assistant_message_with_model_usage_and_stop(tmp_path):
    usage = {
        "input_tokens": 12,
        "output_tokens": 34,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 56,
        "service_tier": "standard",
    }
    line = assistant(
        "a1", [text("Done.")], parent="u1", second=4, usage=usage, stop_reason="end_turn"
    )

    [item] = items_of(read_lines(tmp_path, [line]))

    assert isinstance(item, AssistantMessage)
    assert (item.line, item.timestamp, item.uuid, item.parent_uuid) == (1, at(4), "a1", "u1")
    assert (item.message_id, item.model, item.parts) == ("msg_01", "claude-opus-4-1", ["Done."])
    assert item.stop_reason == "end_turn"
    assert item.fragments == 1
    assert item.usage.model_dump() == usage


def test_thinking_is_kept_with_its_signature(tmp_path):
    line = assistant("a1", [{"type": "thinking", "thinking": "Let me see.", "signature": "EqQB"}])

    reasoning = [i for i in items_of(read_lines(tmp_path, [line])) if isinstance(i, Reasoning)]

    assert reasoning == [
        Reasoning(
            line=1,
            timestamp=at(1),
            uuid="a1",
            message_id="msg_01",
            text="Let me see.",
            signature="EqQB",
        )
    ]


def test_empty_thinking_with_a_signature_is_still_kept(tmp_path):
    line = assistant("a1", [{"type": "thinking", "thinking": "", "signature": "sig-only"}])

    reasoning = [i for i in items_of(read_lines(tmp_path, [line])) if isinstance(i, Reasoning)]

    assert [(r.text, r.signature, r.redacted) for r in reasoning] == [("", "sig-only", False)]


def test_redacted_thinking_is_kept_as_redacted_reasoning_with_its_data(tmp_path):
    line = assistant("a1", [{"type": "redacted_thinking", "data": "opaque-blob"}])

    reasoning = [i for i in items_of(read_lines(tmp_path, [line])) if isinstance(i, Reasoning)]

    assert [(r.text, r.signature, r.redacted) for r in reasoning] == [("", "opaque-blob", True)]


def test_tool_use_becomes_a_tool_call_with_its_input_inline(tmp_path):
    line = assistant("a1", [tool_use("toolu_1", "Bash", {"command": "pytest -q"})], parent="u1")

    calls = [i for i in items_of(read_lines(tmp_path, [line])) if isinstance(i, ToolCall)]

    assert calls == [
        ToolCall(
            line=1,
            timestamp=at(1),
            uuid="a1",
            parent_uuid="u1",
            message_id="msg_01",
            call_id="toolu_1",
            name="Bash",
            input={"command": "pytest -q"},
        )
    ]


def test_streamed_fragments_merge_into_one_assistant_message_with_final_usage(tmp_path):
    early = {"input_tokens": 3, "output_tokens": 9}
    final = {"input_tokens": 3, "output_tokens": 209}

    result = read_lines(
        tmp_path,
        [
            user("u1", "go"),
            assistant("a1", [text("Looking.")], parent="u1", second=1, usage=early),
            assistant("a2", [{"type": "thinking", "thinking": "hm", "signature": "s"}], "a1"),
            assistant(
                "a3", [tool_use("toolu_1")], "a2", second=3, usage=final, stop_reason="tool_use"
            ),
        ],
    )

    messages = [i for i in items_of(result) if isinstance(i, AssistantMessage)]
    assert len(messages) == 1
    [message] = messages
    assert (message.uuid, message.line, message.timestamp) == ("a1", 2, at(1))
    assert message.fragments == 3
    assert message.parts == ["Looking."]
    assert message.usage.output_tokens == 209
    assert message.stop_reason == "tool_use"
    reasoning = next(i for i in items_of(result) if isinstance(i, Reasoning))
    call = next(i for i in items_of(result) if isinstance(i, ToolCall))
    assert (reasoning.uuid, reasoning.line, reasoning.message_id) == ("a2", 3, "msg_01")
    assert (call.uuid, call.line, call.message_id) == ("a3", 4, "msg_01")


def test_fragments_interleaved_with_tool_results_still_merge_into_one_message(tmp_path):
    result = read_lines(
        tmp_path,
        [
            assistant("a1", [text("Running both.")], usage={"output_tokens": 9}),
            assistant("a2", [tool_use("toolu_A")], "a1", usage={"output_tokens": 20}),
            user("u1", [tool_result("toolu_A", "A done")], parent="a2"),
            assistant("a3", [tool_use("toolu_B")], "u1", usage={"output_tokens": 30}),
            user("u2", [tool_result("toolu_B", "B done")], parent="a3"),
            assistant("a4", [text("Both ran.")], "u2", msg_id="msg_02"),
        ],
    )

    messages = [i for i in items_of(result) if isinstance(i, AssistantMessage)]
    assert [(m.message_id, m.fragments, m.parts) for m in messages] == [
        ("msg_01", 3, ["Running both."]),
        ("msg_02", 1, ["Both ran."]),
    ]
    assert messages[0].usage.output_tokens == 30
    flow = [
        (type(i).__name__, i.call_id)
        for i in items_of(result)
        if isinstance(i, ToolCall | ToolResult)
    ]
    assert flow == [
        ("ToolCall", "toolu_A"),
        ("ToolResult", "toolu_A"),
        ("ToolCall", "toolu_B"),
        ("ToolResult", "toolu_B"),
    ]


def test_a_response_that_thinks_first_reads_thinking_then_answer_then_tool_call(tmp_path):
    result = read_lines(
        tmp_path,
        [
            user("u1", "go"),
            assistant("a1", [{"type": "thinking", "thinking": "plan", "signature": "s"}], "u1"),
            assistant("a2", [text("Here is the plan.")], "a1"),
            assistant("a3", [tool_use("toolu_1")], "a2"),
        ],
    )

    kinds = [type(i).__name__ for i in items_of(result)]

    assert kinds == ["UserMessage", "Reasoning", "AssistantMessage", "ToolCall"]


def test_a_response_that_only_calls_a_tool_keeps_its_message_at_its_first_fragment(tmp_path):
    result = read_lines(
        tmp_path,
        [
            user("u1", "go"),
            assistant("a1", [tool_use("toolu_1")], "u1", usage={"output_tokens": 7}),
            user("u2", [tool_result("toolu_1", "ok")], parent="a1"),
        ],
    )

    kinds = [type(i).__name__ for i in items_of(result)]

    assert kinds == ["UserMessage", "AssistantMessage", "ToolCall", "ToolResult"]
    assert items_of(result)[1].usage.output_tokens == 7


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        (["text", "image"], ["UserMessage", "Image"]),
        (["image", "text"], ["Image", "UserMessage"]),
        (["text", "image", "text"], ["UserMessage", "Image"]),
    ],
)
def test_a_user_line_keeps_its_blocks_in_order(tmp_path, blocks, expected):
    content = [text(f"t{i}") if b == "text" else image_block(PNG) for i, b in enumerate(blocks)]

    result = read_lines(tmp_path, [user("u1", content)])

    assert [type(i).__name__ for i in items_of(result)] == expected


def test_fragments_without_request_id_merge_on_message_id_alone(tmp_path):
    result = read_lines(
        tmp_path,
        [
            assistant("a1", [text("one")], request_id=None),
            assistant("a2", [text("two")], "a1", request_id=None),
            assistant("a3", [text("other")], "a2", msg_id="msg_02", request_id=None),
        ],
    )

    messages = [i for i in items_of(result) if isinstance(i, AssistantMessage)]
    assert [(m.message_id, m.parts, m.fragments) for m in messages] == [
        ("msg_01", ["one", "two"], 2),
        ("msg_02", ["other"], 1),
    ]


def test_models_are_listed_once_in_order_seen_without_synthetic(tmp_path):
    result = read_lines(
        tmp_path,
        [
            assistant("a1", [text("x")], msg_id="m1", model="claude-sonnet-4-5"),
            assistant("a2", [text("API Error")], msg_id="m2", model="<synthetic>"),
            assistant("a3", [text("y")], msg_id="m3", model="claude-opus-4-1"),
            assistant("a4", [text("z")], msg_id="m4", model="claude-sonnet-4-5"),
        ],
    )

    assert result.main.summary.models == ["claude-sonnet-4-5", "claude-opus-4-1"]


# == system, summary and title lines ===========================================


def test_compact_boundary_keeps_its_logical_parent_and_metadata(tmp_path):
    metadata = {"trigger": "manual", "preTokens": 142431}
    line = system(
        "b1",
        parent=None,
        second=5,
        subtype="compact_boundary",
        content="Conversation compacted",
        level="info",
        logicalParentUuid="a9",
        compactMetadata=metadata,
    )

    [note] = items_of(read_lines(tmp_path, [line]))

    assert note == SystemNote(
        line=1,
        timestamp=at(5),
        uuid="b1",
        parent_uuid=None,
        subtype="compact_boundary",
        text="Conversation compacted",
        level="info",
        data={"compactMetadata": metadata, "logicalParentUuid": "a9"},
    )


@pytest.mark.parametrize(
    ("fields", "subtype", "text_", "data"),
    [
        pytest.param(
            {
                "subtype": "local_command",
                "content": "<local-command-stdout>ok</local-command-stdout>",
            },
            "local_command",
            "<local-command-stdout>ok</local-command-stdout>",
            None,
            id="local_command",
        ),
        pytest.param(
            {
                "subtype": "stop_hook_summary",
                "hookCount": 2,
                "hookInfos": [{"command": "lint"}],
                "hookErrors": [],
                "preventedContinuation": False,
            },
            "stop_hook_summary",
            None,
            {"hookCount": 2, "hookErrors": [], "preventedContinuation": False},
            id="stop_hook_summary",
        ),
        pytest.param(
            {"subtype": "turn_duration", "durationMs": 5123},
            "turn_duration",
            None,
            {"durationMs": 5123},
            id="turn_duration",
        ),
        pytest.param(
            {"subtype": "api_error", "level": "error", "content": "Overloaded"},
            "api_error",
            "Overloaded",
            None,
            id="api_error",
        ),
        pytest.param(
            {
                "content": "Running PostToolUse:Bash...",
                "level": "info",
                "toolUseID": "toolu_9",
            },
            "notice",
            "Running PostToolUse:Bash...",
            {"toolUseID": "toolu_9"},
            id="hook_notice_without_subtype",
        ),
    ],
)
def test_system_lines_become_system_notes_by_subtype(tmp_path, fields, subtype, text_, data):
    line = system("s1", parent="a1", second=6, **fields)

    [note] = items_of(read_lines(tmp_path, [line]))

    assert isinstance(note, SystemNote)
    assert (note.line, note.timestamp, note.uuid, note.parent_uuid) == (1, at(6), "s1", "a1")
    assert (note.subtype, note.text, note.data) == (subtype, text_, data)
    assert note.level == fields.get("level")


def test_summary_line_becomes_a_summary_note(tmp_path):
    result = read_lines(
        tmp_path,
        [
            {"type": "summary", "summary": "Fixing the login bug", "leafUuid": "u9"},
            user("u1", "hi"),
        ],
    )

    note = items_of(result)[0]
    assert note == SystemNote(line=1, subtype="summary", text="Fixing the login bug")


def test_last_custom_title_wins_over_ai_titles_and_the_prompt(tmp_path):
    result = read_lines(
        tmp_path,
        [
            user("u1", "first prompt"),
            {"type": "custom-title", "customTitle": "Old name", "sessionId": SESSION_ID},
            {"type": "ai-title", "aiTitle": "AI name", "sessionId": SESSION_ID},
            {"type": "custom-title", "customTitle": "  New name  ", "sessionId": SESSION_ID},
            {"type": "ai-title", "aiTitle": "Later AI name", "sessionId": SESSION_ID},
        ],
    )

    summary = result.main.summary
    assert (summary.title, summary.title_source) == ("New name", "custom")
    notes = [(i.subtype, i.text) for i in items_of(result) if isinstance(i, SystemNote)]
    assert notes == [
        ("custom_title", "Old name"),
        ("ai_title", "AI name"),
        ("custom_title", "  New name  "),
        ("ai_title", "Later AI name"),
    ]


def test_last_ai_title_wins_over_the_prompt(tmp_path):
    result = read_lines(
        tmp_path,
        [
            user("u1", "first prompt"),
            {"type": "ai-title", "aiTitle": "Early", "sessionId": SESSION_ID},
            {"type": "ai-title", "aiTitle": "Rewritten", "sessionId": SESSION_ID},
            {"type": "custom-title", "customTitle": "   ", "sessionId": SESSION_ID},
        ],
    )

    summary = result.main.summary
    assert (summary.title, summary.title_source) == ("Rewritten", "ai")


UNMODELLED_RECORDS = [
    pytest.param(
        {
            "type": "file-history-snapshot",
            "messageId": "u1",
            "snapshot": {"messageId": "u1", "trackedFileBackups": {}, "timestamp": ts(1)},
            "isSnapshotUpdate": False,
        },
        id="file-history-snapshot",
    ),
    pytest.param(
        {"type": "queue-operation", "operation": "enqueue", "timestamp": ts(2), "content": "hi"},
        id="queue-operation",
    ),
    pytest.param(
        envelope(
            "progress",
            "p1",
            "u1",
            3,
            data={"type": "hook_progress", "hookName": "SessionStart"},
            toolUseID="toolu_1",
            parentToolUseID="toolu_1",
        ),
        id="progress",
    ),
    pytest.param(
        envelope("attachment", "at1", "p1", 4, attachment={"type": "hook_success"}),
        id="attachment",
    ),
    pytest.param(
        {"type": "agent-name", "agentName": "reviewer", "sessionId": SESSION_ID}, id="agent-name"
    ),
    pytest.param(
        {"type": "last-prompt", "lastPrompt": "hi", "leafUuid": "u1", "sessionId": SESSION_ID},
        id="last-prompt",
    ),
    pytest.param(
        {"type": "hologram-state", "beams": [1, 2, {"x": None}], "sessionId": SESSION_ID},
        id="made-up-new-type",
    ),
]


@pytest.mark.parametrize("record", UNMODELLED_RECORDS)
def test_unmodelled_record_types_are_kept_whole_as_unknown_items(tmp_path, record):
    blobs = InMemoryBlobs()

    result = read_lines(tmp_path, [user("u1", "hi"), record], blobs)

    item = items_of(result)[1]
    assert isinstance(item, Unknown)
    assert (item.line, item.record_type) == (2, record["type"])
    assert (item.uuid, item.parent_uuid) == (record.get("uuid"), record.get("parentUuid"))
    assert item.record.pointer == ""
    assert resolve(blobs, item.record) == record
    assert result.problems == []


# == large values ==============================================================


def _thinking(value: str) -> dict:
    return {"type": "thinking", "thinking": value, "signature": "s"}


LARGE_TEXT_PLACES = [
    pytest.param(
        lambda big: user("u1", big),
        lambda items: items[0].parts[0],
        "/message/content",
        id="user-string",
    ),
    pytest.param(
        lambda big: user("u1", [text("short"), text(big)]),
        lambda items: items[0].parts[1],
        "/message/content/1/text",
        id="user-text-block",
    ),
    pytest.param(
        lambda big: user("u1", [tool_result("toolu_1", big)]),
        lambda items: items[0].output,
        "/message/content/0/content",
        id="tool-result-string",
    ),
    pytest.param(
        lambda big: user("u1", [tool_result("toolu_1", [text(big)])]),
        lambda items: items[0].output[0].text,
        "/message/content/0/content/0/text",
        id="tool-result-text-block",
    ),
    pytest.param(
        lambda big: assistant("a1", [text(big)]),
        lambda items: items[0].parts[0],
        "/message/content/0/text",
        id="assistant-text",
    ),
    pytest.param(
        lambda big: assistant("a1", [_thinking(big)]),
        lambda items: items[1].text,
        "/message/content/0/thinking",
        id="thinking",
    ),
    pytest.param(
        lambda big: system("s1", subtype="local_command", content=big),
        lambda items: items[0].text,
        "/content",
        id="system-content",
    ),
    pytest.param(
        lambda big: {"type": "summary", "summary": big, "leafUuid": "u1"},
        lambda items: items[0].text,
        "/summary",
        id="summary",
    ),
]


@pytest.mark.parametrize(("make", "pick", "pointer"), LARGE_TEXT_PLACES)
def test_large_texts_stay_in_their_line_and_resolve_back_exactly(tmp_path, make, pick, pointer):
    blobs = InMemoryBlobs()

    result = read_lines(tmp_path, [make(BIG_TEXT), user("u9", "tail", second=9)], blobs)

    ref = pick(items_of(result))
    assert isinstance(ref, SourceRef)
    assert (ref.pointer, ref.size) == (pointer, len(BIG_TEXT))
    assert resolve(blobs, ref) == BIG_TEXT


def test_text_at_the_inline_limit_stays_inline_and_one_more_char_is_referenced(tmp_path):
    at_limit, over_limit = "a" * INLINE_TEXT_CHARS, "b" * (INLINE_TEXT_CHARS + 1)

    result = read_lines(tmp_path, [user("u1", at_limit), user("u2", over_limit, "u1")])

    first, second = items_of(result)
    assert first.parts == [at_limit]
    assert isinstance(second.parts[0], SourceRef)


def test_full_item_restores_referenced_texts_of_a_stored_item(tmp_path):
    blobs = InMemoryBlobs()

    [item] = items_of(read_lines(tmp_path, [user("u1", [text("short"), text(BIG_TEXT)])], blobs))

    restored = full_item(item.model_dump(mode="json"), SourceLines(blobs))
    assert restored["parts"] == ["short", BIG_TEXT]
    assert restored["uuid"] == "u1"


def test_large_tool_input_becomes_an_input_ref_that_full_item_restores(tmp_path):
    blobs = InMemoryBlobs()
    big_input = {"file_path": "/x.py", "content": "print('é')\n" * 600}
    assert len(orjson.dumps(big_input)) > INLINE_JSON_BYTES

    line = assistant("a1", [tool_use("toolu_1", "Write", big_input)])

    result = read_lines(tmp_path, [line], blobs)

    [call] = [i for i in items_of(result) if isinstance(i, ToolCall)]
    assert call.input is None
    assert call.input_ref.pointer == "/message/content/0/input"
    assert call.input_ref.size == len(orjson.dumps(big_input))
    restored = full_item(call.model_dump(mode="json"), SourceLines(blobs))
    assert restored["input"] == big_input
    assert "input_ref" not in restored


# == provenance ================================================================


def test_every_item_carries_its_line_timestamp_uuid_and_parent(tmp_path):
    result = read_lines(
        tmp_path,
        [
            user("u1", [text("hi"), image_block(PNG)], second=1),
            assistant("a1", [_thinking("t"), text("x"), tool_use("toolu_1")], "u1", second=2),
            user("u2", [tool_result("toolu_1", "ok")], parent="a1", second=3),
            system("s1", "u2", second=4, subtype="turn_duration", durationMs=1),
            envelope("progress", "p1", "s1", 5, data={"type": "hook_progress"}),
        ],
    )

    provenance = {
        (type(i).__name__, i.line, i.timestamp, i.uuid, i.parent_uuid) for i in items_of(result)
    }
    assert provenance == {
        ("Image", 1, at(1), "u1", None),
        ("UserMessage", 1, at(1), "u1", None),
        ("AssistantMessage", 2, at(2), "a1", "u1"),
        ("Reasoning", 2, at(2), "a1", "u1"),
        ("ToolCall", 2, at(2), "a1", "u1"),
        ("ToolResult", 3, at(3), "u2", "a1"),
        ("SystemNote", 4, at(4), "s1", "u2"),
        ("Unknown", 5, at(5), "p1", "s1"),
    }


# == sidechains and sub-agents =================================================


def sidechain(record: dict, **extra: Any) -> dict:
    return {**record, "isSidechain": True, **extra}


def test_inline_sidechains_go_to_their_own_threads_grouped_by_chain_root(tmp_path):
    result = read_lines(
        tmp_path,
        [
            user("u1", "main prompt", second=1),
            assistant("a1", [tool_use("toolu_task", "Task")], "u1", second=2),
            sidechain(user("s1", "sub task one", second=3)),
            sidechain(user("t1", "sub task two", second=4)),
            sidechain(assistant("s2", [text("one done")], "s1", second=5, msg_id="m_s")),
            sidechain(assistant("t2", [text("two done")], "t1", second=6, msg_id="m_t")),
            sidechain(user("s3", [tool_result("toolu_x", "r")], parent="s2", second=7)),
            user("u2", [tool_result("toolu_task", "all done")], parent="a1", second=8),
        ],
    )

    assert [i.uuid for i in items_of(result)] == ["u1", "a1", "a1", "u2"]
    assert set(result.sidechains) == {"s1", "t1"}
    assert [i.uuid for i in result.sidechains["s1"].items] == ["s1", "s2", "s3"]
    assert [i.uuid for i in result.sidechains["t1"].items] == ["t1", "t2"]
    side = result.sidechains["t1"].summary
    assert (side.title, side.created_at, side.updated_at) == ("sub task two", at(4), at(6))
    main = result.main.summary
    assert (main.title, main.created_at, main.updated_at) == ("main prompt", at(1), at(8))


def test_inline_sidechain_without_cwd_takes_the_main_threads_cwd(tmp_path):
    side_line = sidechain(user("s1", "sub"))
    del side_line["cwd"]

    result = read_lines(tmp_path, [user("u1", "main"), side_line])

    assert result.sidechains["s1"].summary.cwd == CWD
    assert result.sidechains["s1"].source.session_id == SESSION_ID
    assert result.problems == []


def test_subagent_file_keeps_its_sidechain_lines_and_links_to_its_parent_thread(tmp_path):
    project = tmp_path / "project"
    path = write_jsonl(
        project / SESSION_ID / "subagents" / "agent-a1b2c3d.jsonl",
        [
            sidechain(user("s1", "Investigate the failure"), agentId="a1b2c3d"),
            sidechain(assistant("s2", [text("Found it")], "s1"), agentId="a1b2c3d"),
        ],
    )

    result = read(path)

    assert result.sidechains == {}
    assert [i.uuid for i in items_of(result)] == ["s1", "s2"]
    main = result.main
    # The parent is named by its conversation; the application names its thread (ADR 0011).
    assert main.parent_conversation_id == SESSION_ID
    assert result.conversation_id == f"{SESSION_ID}/agent-a1b2c3d"
    assert (main.source.agent_id, main.source.session_id) == ("a1b2c3d", SESSION_ID)
    assert main.summary.title == "Investigate the failure"
    assert main.spawned_by_call_id is None


def test_subagent_meta_file_names_the_tool_call_that_spawned_it(tmp_path):
    agents = tmp_path / "project" / SESSION_ID / "subagents"
    path = write_jsonl(agents / "agent-a1.jsonl", [sidechain(user("s1", "go"), agentId="a1")])
    meta = orjson.dumps({"agentType": "general-purpose", "toolUseId": "toolu_spawn"})
    (agents / "agent-a1.meta.json").write_bytes(meta)
    blobs = InMemoryBlobs()

    result = read(path, blobs)

    assert result.main.spawned_by_call_id == "toolu_spawn"
    # Its bytes are stored, for restore to write back beside the transcript.
    assert result.meta is not None and blobs.get(result.meta.blob) == meta
    assert result.problems == []


def test_a_subagent_meta_file_that_is_not_json_is_stored_as_it_is_and_reported(tmp_path):
    agents = tmp_path / "project" / SESSION_ID / "subagents"
    path = write_jsonl(agents / "agent-a1.jsonl", [sidechain(user("s1", "go"), agentId="a1")])
    torn = b'{"agentType": "general-purpose",\n "toolUseId": "toolu_sp'
    (agents / "agent-a1.meta.json").write_bytes(torn)
    blobs = InMemoryBlobs()

    result = read(path, blobs)

    assert [i.uuid for i in items_of(result)] == ["s1"]
    assert result.main.spawned_by_call_id is None
    assert result.meta is not None and blobs.get(result.meta.blob) == torn
    assert [str(p) for p in result.problems] == [
        f"{agents / 'agent-a1.meta.json'}:2: not JSON (unexpected end of data); "
        "its bytes are kept, the spawning tool call is unknown"
    ]


def test_old_style_agent_file_beside_the_session_links_to_the_session_file(tmp_path):
    project = tmp_path / "project"
    path = write_jsonl(
        project / "agent-1234abcd.jsonl", [sidechain(user("s1", "go"), agentId="1234abcd")]
    )

    result = read(path)

    assert result.main.parent_conversation_id == SESSION_ID
    assert result.conversation_id == f"{SESSION_ID}/agent-1234abcd"
    assert result.sidechains == {}


# == thread summary ============================================================


def test_title_comes_from_the_first_real_prompt_without_harness_wrappers(tmp_path):
    result = read_lines(
        tmp_path,
        [
            user(
                "u1",
                "<command-name>/clear</command-name>\n<command-message>clear</command-message>\n"
                "<command-args></command-args>",
            ),
            user("u2", "<local-command-stdout></local-command-stdout>", "u1"),
            user(
                "u3",
                [text("<system-reminder>\nbe nice\n</system-reminder>"), text("Add  dark mode")],
                "u2",
            ),
            user("u4", "second prompt", "u3"),
        ],
    )

    summary = result.main.summary
    assert (summary.title, summary.title_source) == ("Add dark mode", "prompt")
    assert summary.preview == "Add dark mode"
    assert summary.first_user_message == "Add  dark mode"


def test_title_from_a_long_prompt_is_cut_to_120_chars(tmp_path):
    prompt = "word " * 100 + "\nsecond line"

    summary = read_lines(tmp_path, [user("u1", prompt)]).main.summary

    assert len(summary.title) == 120
    assert summary.title.endswith("…")
    assert summary.title.startswith("word word")
    assert summary.preview == summary.title
    assert summary.first_user_message == prompt.strip()


def test_first_user_message_keeps_2000_chars_of_the_prompt(tmp_path):
    summary = read_lines(tmp_path, [user("u1", "x" * 5000)]).main.summary

    assert summary.first_user_message == "x" * 1999 + "…"


def test_session_without_prompts_or_titles_gets_the_fallback_title(tmp_path):
    summary = read_lines(tmp_path, [assistant("a1", [text("hello")])]).main.summary

    assert (summary.title, summary.title_source) == ("Imported session", "fallback")
    assert (summary.preview, summary.first_user_message) == ("", "")


def test_created_and_updated_times_are_the_earliest_and_latest_timestamps(tmp_path):
    result = read_lines(
        tmp_path,
        [
            user("u1", "hi", second=20),
            assistant("a1", [text("x")], "u1", second=5),
            {"type": "queue-operation", "operation": "enqueue", "timestamp": ts(40)},
            user("u2", "later", "a1", second=30),
        ],
    )

    summary = result.main.summary
    assert (summary.created_at, summary.updated_at) == (at(5), at(40))


def test_cwd_is_taken_from_the_first_record_that_has_one(tmp_path):
    first = user("u1", "hi")
    del first["cwd"]

    result = read_lines(
        tmp_path,
        [first, user("u2", "a", "u1", cwd="/first/cwd"), user("u3", "b", "u2", cwd="/later")],
    )

    assert result.main.summary.cwd == "/first/cwd"
    assert result.main.source.session_id == SESSION_ID


def test_a_transcript_without_any_cwd_is_imported_with_a_problem(tmp_path):
    line = user("u1", "hi")
    del line["cwd"]

    result = read_lines(tmp_path, [line])

    assert result.main.summary.cwd is None
    assert problems_of(result) == [
        (0, "no 'cwd' in any record; imported without a working directory")
    ]


def test_git_info_is_read_from_the_repository_at_the_cwd(tmp_path):
    repo = tmp_path / "repo"
    (repo / ".git" / "refs" / "heads" / "feature").mkdir(parents=True)
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/feature/login\n")
    (repo / ".git" / "refs" / "heads" / "feature" / "login").write_text("ab" * 20 + "\n")
    (repo / ".git" / "config").write_text(
        '[remote "origin"]\n\turl = git@example.com:team/app.git\n'
    )
    (repo / "src").mkdir()

    result = read_lines(tmp_path, [user("u1", "hi", cwd=str(repo / "src"), gitBranch="other")])

    assert result.main.summary.git == GitInfo(
        branch="feature/login", sha="ab" * 20, origin="git@example.com:team/app.git"
    )


def test_git_info_matches_a_real_git_repository(tmp_path):
    repo = tmp_path / "real"
    repo.mkdir()

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=repo,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    git("init", "-q", "-b", "trunk")
    git("commit", "-q", "--allow-empty", "-m", "first")

    result = read_lines(tmp_path, [user("u1", "hi", cwd=str(repo))])

    assert result.main.summary.git == GitInfo(
        branch="trunk", sha=git("rev-parse", "HEAD"), origin=None
    )


def test_git_branch_field_is_used_when_the_cwd_is_not_a_repository(tmp_path):
    result = read_lines(
        tmp_path, [user("u1", "hi", gitBranch="main"), user("u2", "x", "u1", gitBranch="fix/x")]
    )

    assert result.main.summary.git == GitInfo(branch="fix/x")


def test_detached_or_empty_git_branch_gives_no_git_info(tmp_path):
    result = read_lines(
        tmp_path, [user("u1", "hi", gitBranch="HEAD"), user("u2", "x", "u1", gitBranch="")]
    )

    assert result.main.summary.git is None


# == bad input =================================================================


def test_blank_line_is_a_problem_and_the_lines_around_it_are_kept(tmp_path):
    result = read_lines(
        tmp_path, [user("u1", "a"), b"\n", b"   \t \n", user("u2", "b", "u1", second=2)]
    )

    assert problems_of(result) == [(2, "blank line"), (3, "blank line")]
    assert [(i.line, i.uuid) for i in items_of(result)] == [(1, "u1"), (4, "u2")]
    path = str(tmp_path / "project" / f"{SESSION_ID}.jsonl")
    assert [str(p) for p in result.problems] == [f"{path}:2: blank line", f"{path}:3: blank line"]


def test_torn_last_line_is_reported_and_left_unconsumed(tmp_path):
    good = orjson.dumps(user("u1", "hi")) + b"\n"
    torn = orjson.dumps(user("u2", "still being wri"))[:40]

    result = read_lines(tmp_path, [good, torn])

    assert problems_of(result) == [
        (2, "incomplete last line (no newline, not valid JSON); left unread until it is complete")
    ]
    assert [i.uuid for i in items_of(result)] == ["u1"]
    version = result.version
    assert (version.size, version.consumed_bytes, version.consumed_lines) == (
        len(good) + len(torn),
        len(good),
        1,
    )
    assert version.consumed_sha256 == hashlib.sha256(good).hexdigest()
    assert version.sha256 == hashlib.sha256(good + torn).hexdigest()


def test_torn_line_completed_later_is_read_from_the_resume_point(tmp_path):
    good = orjson.dumps(user("u1", "hi")) + b"\n"
    finished = orjson.dumps(user("u2", "now complete", "u1")) + b"\n"
    path = write_jsonl(tmp_path / "project" / f"{SESSION_ID}.jsonl", [good, finished[:30]])
    first = read(path)
    path.write_bytes(good + finished)
    st = path.stat()
    resume = ResumePoint(
        first.version.consumed_bytes,
        first.version.consumed_sha256,
        first.version.consumed_lines,
    )

    second = ClaudeCodeReader().read(
        SourceFile("claude-code", str(path), st.st_size, st.st_mtime_ns), resume, InMemoryBlobs()
    )

    assert second.mode == "append"
    assert second.problems == []
    assert [(i.line, i.uuid) for i in items_of(second)] == [(2, "u2")]
    assert (second.version.consumed_bytes, second.version.consumed_lines) == (
        len(good + finished),
        2,
    )


def test_large_texts_resolve_when_the_file_spans_many_pages(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonl_pages, "PAGE_BYTES", 500)
    blobs = InMemoryBlobs()
    lines = [user(f"u{i}", BIG_TEXT if i % 2 else f"short {i}", second=i) for i in range(6)]

    result = read_lines(tmp_path, lines, blobs)

    assert result.problems == []
    assert len(result.pages) > 1
    assert [p.first_line for p in result.pages] == sorted({p.first_line for p in result.pages})
    values = [
        resolve(blobs, i.parts[0]) if isinstance(i.parts[0], SourceRef) else i.parts[0]
        for i in items_of(result)
    ]
    assert values == [BIG_TEXT if n % 2 else f"short {n}" for n in range(6)]
    assert [i.line for i in items_of(result)] == [1, 2, 3, 4, 5, 6]


def test_complete_last_line_without_newline_is_consumed(tmp_path):
    data = orjson.dumps(user("u1", "hi")) + b"\n" + orjson.dumps(user("u2", "end", "u1"))

    result = read_lines(tmp_path, [data])

    assert result.problems == []
    assert [i.uuid for i in items_of(result)] == ["u1", "u2"]
    assert (result.version.consumed_bytes, result.version.consumed_lines) == (len(data), 2)
    assert result.version.consumed_sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"type": "user", oops}\n', r"invalid JSON: .+ at column 18"),
        (b'{"type": "user", "message": {"content": "x"\n', r"truncated JSON \(torn line\)"),
    ],
    ids=["garbage", "truncated"],
)
def test_invalid_json_mid_file_is_a_problem_and_later_lines_are_kept(tmp_path, raw, reason):
    result = read_lines(tmp_path, [user("u1", "a"), raw, user("u3", "c", "u1")])

    [(line, message)] = problems_of(result)
    assert line == 2
    assert re.fullmatch(reason, message)
    assert [i.uuid for i in items_of(result)] == ["u1", "u3"]
    assert result.version.consumed_lines == 3


def test_invalid_utf8_line_is_mapped_with_replacement_chars_and_reported(tmp_path):
    raw = orjson.dumps(user("u2", "caf\u00e9")).replace("é".encode(), b"\xff") + b"\n"

    result = read_lines(tmp_path, [user("u1", "a"), raw, user("u3", "c")])

    assert problems_of(result) == [(2, "invalid UTF-8 (bad bytes read as U+FFFD; raw line kept)")]
    assert [i.parts for i in items_of(result)] == [["a"], ["caf\ufffd"], ["c"]]


def test_invalid_utf8_that_is_not_json_is_a_problem(tmp_path):
    result = read_lines(tmp_path, [user("u1", "a"), b"\xff\xfe garbage\n", user("u3", "c")])

    assert problems_of(result) == [(2, "invalid UTF-8 and not JSON")]
    assert [i.uuid for i in items_of(result)] == ["u1", "u3"]


def test_line_with_nul_bytes_is_a_problem(tmp_path):
    result = read_lines(tmp_path, [user("u1", "a"), b"\x00" * 64 + b"\n", user("u3", "c")])

    assert problems_of(result) == [(2, "contains NUL bytes; not JSON")]
    assert [i.uuid for i in items_of(result)] == ["u1", "u3"]


@pytest.mark.parametrize(
    ("raw", "kind"),
    [(b"[1, 2]\n", "list"), (b"42\n", "int"), (b'"text"\n', "str"), (b"null\n", "NoneType")],
)
def test_json_values_that_are_not_objects_are_problems(tmp_path, raw, kind):
    result = read_lines(tmp_path, [user("u1", "a"), raw, user("u3", "c")])

    assert problems_of(result) == [(2, f"a JSON {kind}, not a record object")]
    assert [i.uuid for i in items_of(result)] == ["u1", "u3"]


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        pytest.param(
            {**user("u2", "x"), "message": "not an object"},
            "unexpected shape for a 'user' record: 'message' should be an object, not str",
            id="user-message-string",
        ),
        pytest.param(
            user("u2", 42),
            "unexpected shape for a 'user' record: "
            "'message.content' should be a string or a list, not int",
            id="user-content-number",
        ),
        pytest.param(
            assistant("u2", 42),
            "unexpected shape for a 'assistant' record: "
            "'message.content' should be a string or a list, not int",
            id="assistant-content-number",
        ),
        pytest.param(
            {**assistant("u2", []), "message": "oops"},
            "unexpected shape for a 'assistant' record: 'message' should be an object, not str",
            id="assistant-message-string",
        ),
    ],
)
def test_records_of_the_wrong_shape_are_problems_kept_as_unknown_items(tmp_path, record, reason):
    blobs = InMemoryBlobs()

    result = read_lines(tmp_path, [user("u1", "a"), record, user("u3", "c")], blobs)

    assert problems_of(result) == [(2, reason)]
    first, kept, last = items_of(result)
    assert isinstance(kept, Unknown)
    assert (kept.line, kept.uuid, kept.record_type) == (2, "u2", record["type"])
    assert resolve(blobs, kept.record) == record
    assert (first.uuid, last.uuid) == ("u1", "u3")


def test_record_that_fails_mid_way_is_kept_only_as_an_unknown_item(tmp_path):
    bad_usage = {"input_tokens": 3, "output_tokens": "lots"}

    result = read_lines(
        tmp_path,
        [
            assistant("a0", [text("good")], msg_id="msg_09"),
            user("u1", [tool_result("toolu_A", "ok"), 42], parent="a0"),
            assistant("a1", [text("partial"), 7], "u1", msg_id="msg_01"),
            assistant("a2", [tool_use("toolu_B")], "a1", msg_id="msg_09", usage=bad_usage),
        ],
    )

    items = items_of(result)
    assert [(type(i).__name__, i.line) for i in items] == [
        ("AssistantMessage", 1),
        ("Unknown", 2),
        ("Unknown", 3),
        ("Unknown", 4),
    ]
    assert items[0].fragments == 1


def test_malformed_usage_is_reported_in_one_line_naming_the_field(tmp_path):
    line = assistant("a1", [text("x")], usage={"input_tokens": 3, "output_tokens": "lots"})

    [(number, reason)] = problems_of(read_lines(tmp_path, [line]))

    assert number == 1
    assert "output_tokens" in reason
    assert "\n" not in reason


def test_cwd_that_is_not_a_string_is_a_problem_and_the_line_is_still_mapped(tmp_path):
    result = read_lines(
        tmp_path, [user("u1", "a", cwd=["/a", "/b"]), user("u2", "b", "u1", cwd="/good")]
    )

    assert problems_of(result) == [(1, "'cwd' should be a string, not list")]
    assert [i.parts for i in items_of(result)] == [["a"], ["b"]]
    assert result.main.summary.cwd == "/good"


def test_empty_cwd_is_not_reported_as_a_value_of_the_wrong_type(tmp_path):
    result = read_lines(tmp_path, [user("u1", "a", cwd=""), user("u2", "b", "u1")])

    assert all("should be a string" not in reason for _, reason in problems_of(result))


@pytest.mark.parametrize(
    "bad", [1740823200, "yesterday", "2025-03-01T10:00:00"], ids=["number", "garbage", "no-tz"]
)
def test_unreadable_timestamp_is_a_problem_and_the_item_has_no_time(tmp_path, bad):
    bad_line = {**user("u2", "b"), "timestamp": bad}

    result = read_lines(tmp_path, [user("u1", "a", second=3), bad_line])

    # Never the value in the report: it is transcript content.
    assert problems_of(result) == [(2, "unreadable timestamp (not an ISO time with a zone)")]
    assert [i.timestamp for i in items_of(result)] == [at(3), None]
    assert (result.main.summary.created_at, result.main.summary.updated_at) == (at(3), at(3))


def test_utf8_bom_at_file_start_is_ignored(tmp_path):
    blobs = InMemoryBlobs()
    first = b"\xef\xbb\xbf" + orjson.dumps(user("u1", BIG_TEXT)) + b"\n"

    result = read_lines(tmp_path, [first, user("u2", "b", "u1")], blobs)

    assert result.problems == []
    ref = items_of(result)[0].parts[0]
    assert resolve(blobs, ref) == BIG_TEXT
    assert [i.uuid for i in items_of(result)] == ["u1", "u2"]


def test_single_line_file_with_bom_and_no_newline_is_consumed(tmp_path):
    data = b"\xef\xbb\xbf" + orjson.dumps(user("u1", "hi"))

    result = read_lines(tmp_path, [data])

    assert result.problems == []
    assert result.version.consumed_bytes == len(data)


def test_crlf_line_endings_are_mapped_like_lf(tmp_path):
    blobs = InMemoryBlobs()
    lines = [user("u1", "a"), user("u2", BIG_TEXT, "u1"), assistant("a1", [text("c")], "u2")]
    data = b"".join(orjson.dumps(r) + b"\r\n" for r in lines) + b"\r\n"

    result = read_lines(tmp_path, [data], blobs)

    assert problems_of(result) == [(4, "blank line")]
    first, second, third = items_of(result)
    assert (first.parts, third.parts) == (["a"], ["c"])
    assert resolve(blobs, second.parts[0]) == BIG_TEXT


def test_deeply_nested_json_line_is_a_problem_and_later_lines_are_kept(tmp_path):
    nested = b'{"type": "user", "toolUseResult": ' + b"[" * 5000 + b"]" * 5000 + b"}\n"

    result = read_lines(tmp_path, [user("u1", "a"), nested, user("u3", "c")])

    [(line, reason)] = problems_of(result)
    assert line == 2
    assert reason.startswith("invalid JSON: depth limit exceeded")
    assert [i.uuid for i in items_of(result)] == ["u1", "u3"]


def test_file_without_transcript_records_is_not_a_transcript(tmp_path):
    result = read_lines(
        tmp_path,
        [
            {"name": "settings", "value": 1},
            {"type": "file-history-snapshot", "messageId": "x", "snapshot": {}},
        ],
    )

    assert result.main is None
    assert result.sidechains == {}
    assert problems_of(result) == [(0, "no Claude Code conversation records; not a transcript")]


def test_empty_file_is_not_a_transcript(tmp_path):
    result = read_lines(tmp_path, [])

    assert result.main is None
    assert problems_of(result) == [(0, "empty file; nothing to import")]
    assert (result.version.size, result.version.consumed_bytes) == (0, 0)
