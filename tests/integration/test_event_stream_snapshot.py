"""The event stream an imported session leaves in the store, as a snapshot.

For each stored event of the session's thread and of its import ledger entry,
in ``stored_events`` order: the topic, the originator version and the shape of
the payload (keys and value types). Ids, hashes, timestamps and paths are
normalised, so the snapshot is the same on every machine and in every tmp dir;
it changes only when what is recorded changes. Update it on purpose with
``pytest --snapshot-update``.
"""

from __future__ import annotations

import base64
import re
import uuid
from pathlib import Path
from typing import Any

from conftest import (
    Conversation,
    append_transcript,
    long_text,
    query,
    run_cli,
    session_uuid,
    thinking,
)

from threadline.adapters.persistence.compression import decode_state

UUID_RE = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")
SHA256_RE = re.compile(r"[0-9a-f]{64}")
TIMESTAMP_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?")
LITERAL_KEYS = frozenset(
    {
        "type",
        "kind",
        "subtype",
        "outcome",
        "reason",
        "title_source",
        "record_type",
        "agent",
        "pointer",
        "stop_reason",
        "media_type",
        "name",
        "block_type",
        "originator_topic",
    }
)
"""Keys whose values are part of the shape: discriminators and small enumerations."""
PNG_1X1 = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
        "0000000d4944415478da63f8cfc0f01f0005000201a5f0b1e40000000049454e44ae426082"
    )
).decode()


def shape(value: Any, key: str | None = None) -> Any:
    """The value's structure and types, with anything machine- or run-specific normalised."""
    if isinstance(value, dict):
        return {
            ("<uuid>" if UUID_RE.fullmatch(k) else k): shape(v, k) for k, v in sorted(value.items())
        }
    if isinstance(value, list):
        return [shape(v, key) for v in value]
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        if key in LITERAL_KEYS:
            return value
        for name, pattern in (
            ("<uuid>", UUID_RE),
            ("<sha256>", SHA256_RE),
            ("<timestamp>", TIMESTAMP_RE),
        ):
            if pattern.fullmatch(value):
                return name
        return "<path>" if value.startswith("/") else "str"
    return type(value).__name__


def fixture_session(tmp_path: Path) -> tuple[Path, Conversation]:
    """One session with every kind of line the importer maps."""
    convo = Conversation(session_uuid("snapshot"))
    convo.summary("A summary line from an older build")
    convo.add({"type": "file-history-snapshot", "messageId": "m1", "snapshot": {}})
    convo.user("Please look at the failing test")
    convo.user(
        [
            {"type": "text", "text": "Here is a screenshot"},
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": PNG_1X1},
            },
        ]
    )
    convo.assistant(thinking("The test fails on dates."), message_id="msg_streamed")
    convo.assistant("I will run the tests.", message_id="msg_streamed")
    convo.assistant(
        {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "pytest"}},
        message_id="msg_streamed",
    )
    convo.tool_result("toolu_1", long_text("pytest output", 5000))
    convo.tool_result("toolu_1b", [{"type": "text", "text": "1→ import os"}])
    convo.envelope("system", subtype="turn_duration", durationMs=1234, content="took 1.2 s")
    convo.envelope("progress", data={"type": "hook_progress"}, toolUseID="toolu_1")
    convo.assistant("Fixed.")
    convo.add({"type": "ai-title", "aiTitle": "Fix the date test", "sessionId": convo.session_id})
    path = convo.write(tmp_path.resolve() / "projects" / "-app" / f"{convo.session_id}.jsonl")
    return path, convo


def event_stream(home: Path, source: Path, thread_id: str) -> list[dict[str, Any]]:
    events = [
        (rowid, originator, version, topic, decode_state(bytes(state)))
        for rowid, originator, version, topic, state in query(
            home,
            "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events"
            " ORDER BY rowid",
        )
    ]
    (import_id,) = {
        originator
        for _, originator, _, topic, state in events
        if topic.endswith("Import.SourceRegistered") and state.get("path") == str(source)
    }
    wanted = {uuid.UUID(thread_id).hex, import_id}
    return [
        {"topic": topic, "originator_version": version, "payload": shape(state)}
        for _, originator, version, topic, state in events
        if originator in wanted
    ]


def test_the_event_stream_of_an_imported_grown_and_rewritten_session(
    tmp_path: Path, snapshot: Any
) -> None:
    path, convo = fixture_session(tmp_path)
    home = tmp_path / "home"
    imported = run_cli("import", path, "--json", home=home)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    thread_id = imported.json()["sources"][0]["thread_id"]
    already = len(convo.records)
    convo.user("One more thing")
    convo.add({"type": "custom-title", "customTitle": "Dates", "sessionId": convo.session_id})
    append_transcript(path, convo.records[already:])
    assert run_cli("import", path, "--json", home=home).json()["counts"]["appended"] == 1
    rewritten = Conversation(convo.session_id)
    rewritten.user("Start again")
    rewritten.assistant("Sure.")
    rewritten.write(path)
    assert run_cli("import", path, "--json", home=home).json()["counts"]["replaced"] == 1

    stream = event_stream(home, path, thread_id)

    assert stream == snapshot
