"""Codex rollout records -> conversation items, one line at a time.

A rollout line is ``{"timestamp", "type", "payload"}`` (``../shared/formats/
transcripts.md`` §2, ``codex.md`` A4); the oldest builds wrote a bare session
meta first and bare response items after it, which are read too.

One stream of visible content: Codex writes a prompt both as a ``response_item``
message and as an ``event_msg/user_message`` (and an ``item_completed`` in
0.169), an answer as a message and an ``agent_message``, a reasoning summary as
``reasoning`` and ``agent_reasoning``. The response item is the item; an event
that repeats one of the same turn is dropped whichever comes first, and an
event with no response item (a build that wrote only events) is kept.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from threadline.adapters.codex.export import export_marker
from threadline.adapters.jsonl_pages import parse_line
from threadline.adapters.source_support import (
    INLINE_JSON_BYTES,
    LineAt,
    RecordShapeError,
    as_int,
    as_str,
    data_url_image,
    iso_time,
)
from threadline.application.ports import BlobStore, Problem
from threadline.domain.items import (
    AssistantMessage,
    Image,
    Item,
    OtherBlock,
    Reasoning,
    ResultBlock,
    SystemNote,
    Text,
    TextBlock,
    ToolCall,
    ToolResult,
    Unknown,
    Usage,
    UserMessage,
)

IMPORT_MARKER = "<EXTERNAL SESSION IMPORTED>"
"""The agent message Codex's importer ends an imported session with (codex.md A4)."""
IMPORT_TURN_PREFIX = "external-import-turn-"

INJECTED_PREFIXES = (
    "<environment_context>",
    "<user_instructions>",
    "# AGENTS.md instructions",
    "<permissions instructions>",
    "<skills_instructions>",
    "<collaboration_mode>",
    "<personality_spec>",
    "<turn_aborted>",
    "<user_shell_command>",
    "<subagent_notification>",
)
"""User-role messages the harness writes into the model's context, not typed by the user."""

_NO_ITEM_EVENTS = frozenset(
    {
        "task_complete",
        "turn_complete",
        "thread_settings_applied",
        "exec_command_begin",
        "exec_command_end",
        "exec_command_output_delta",
        "patch_apply_begin",
        "patch_apply_end",
        "mcp_tool_call_begin",
        "mcp_tool_call_end",
        "web_search_begin",
        "web_search_end",
        "view_image_tool_call",
        "agent_reasoning_raw_content",
        "agent_reasoning_section_break",
        "item_started",
        "session_configured",
        "background_event",
        "plan_update",
        "collab_agent_spawn_begin",
        "collab_agent_spawn_end",
        "collab_agent_interaction_begin",
        "collab_agent_interaction_end",
        "collab_waiting_begin",
        "collab_waiting_end",
    }
)
"""Events that mirror a response item (a tool's begin/end, a settings echo) or mark
nothing a reader needs: their bytes are kept in the stored page, no item."""

_NO_ITEM_RECORDS = frozenset({"world_state", "token_usage_record"})
"""Harness state and a per-response usage echo of ``token_count``: bytes kept, no item."""

_MIRRORED_ITEMS = {"UserMessage": "user", "AgentMessage": "assistant", "Reasoning": "reasoning"}


@dataclass
class Meta:
    """What ``session_meta`` says about the thread."""

    id: str | None = None
    timestamp: datetime | None = None
    cwd: str | None = None
    originator: str | None = None
    cli_version: str | None = None
    source: Any = None
    model_provider: str | None = None
    git: dict[str, Any] | None = None
    forked_from_id: str | None = None
    parent_thread_id: str | None = None
    agent_nickname: str | None = None
    agent_role: str | None = None
    spawn_call_id: str | None = None


@dataclass
class _Turn:
    id: str | None = None
    start: int = 0
    """Where the turn's items begin in the thread's list."""
    response_keys: Counter[tuple[str, str]] = field(default_factory=Counter)
    event_slots: dict[tuple[str, str], list[int]] = field(default_factory=dict)


class RolloutMapper:
    """Maps the lines of one rollout, in file order."""

    def __init__(self, path: str, blobs: BlobStore, *, continuing: bool = False) -> None:
        self.path = path
        self.blobs = blobs
        self.meta = Meta()
        self.items: list[Item | None] = []
        self.problems: list[Problem] = []
        self.continuing = continuing
        self.first_record_seen = continuing
        self.records = 0
        self.typed_records = 0
        """Records with a string 'type': a file with none is not a rollout."""
        self.model: str | None = None
        self.effort: str | None = None
        self._last_context: tuple[str | None, str | None] | None = None
        self.thread_names: list[str] = []
        self.first_prompt: str | None = None
        self.first_timestamp: datetime | None = None
        self.last_timestamp: datetime | None = None
        self.models: list[str] = []
        self.imported_marker = False
        self._turn = _Turn()
        self._last_total: dict[str, int] | None = None
        self._replaying_from: str | None = None
        self._replay_by_time = False
        self._replayed: list[int] = []
        self.replayed_parent: str | None = None
        self.exported_from: dict[str, Any] | None = None
        """The export marker of a rollout ``threadline export`` wrote: the lines it names
        are that thread's history, not new items (ADR 0013, "Out to Codex")."""

    # -- one line --------------------------------------------------------------

    def feed(self, number: int, raw: memoryview, blob: str, offset: int) -> None:
        record = parse_line(number, raw, self.path, self.problems)
        if record is None:
            return
        line = LineAt(number, blob, offset, len(raw))
        self.records += 1
        kind = record.get("type")
        payload = record.get("payload")
        self.typed_records += isinstance(kind, str)
        if not self.first_record_seen:
            self.first_record_seen = True
            if kind != "session_meta" and not _legacy_meta(record):
                what = f"a {kind!r} record" if isinstance(kind, str) else "a record with no 'type'"
                self.problem(
                    number,
                    f"first line is {what}, not 'session_meta'; thread id taken from the file name",
                )
        ts = iso_time(record.get("timestamp"))
        mark = len(self.items)
        try:
            if kind is not None and "payload" in record and isinstance(payload, dict):
                self._record(str(kind), payload, line, ts)
            elif _legacy_meta(record):
                self._session_meta(record, ts, line.number)
            elif record.get("record_type") == "state":
                pass
            elif isinstance(kind, str) and "payload" not in record:
                # The oldest layout: bare response items after a bare meta line.
                self._response_item(record, line, ts, pointer="")
            else:
                self.items.append(_unknown(line, ts, str(kind)))
        except (RecordShapeError, TypeError, ValueError, KeyError, AttributeError) as exc:
            del self.items[mark:]
            self.problem(number, f"unexpected shape for a {kind!r} record: {_reason(exc)}")
            self.items.append(_unknown(line, ts, str(kind)))
        if ts is not None and self._replaying_from is None:
            if self.first_timestamp is None or ts < self.first_timestamp:
                self.first_timestamp = ts
            if self.last_timestamp is None or ts > self.last_timestamp:
                self.last_timestamp = ts

    def problem(self, line: int, reason: str) -> None:
        self.problems.append(Problem(self.path, line, reason))

    # -- records -----------------------------------------------------------------

    def _record(
        self, kind: str, payload: dict[str, Any], line: LineAt, ts: datetime | None
    ) -> None:
        if kind == "session_meta":
            self._session_meta(payload, ts, line.number)
            return
        if self.exported_from is not None and line.number <= self.exported_from["lines"]:
            return
        if self._replaying_from is not None:
            if self._replay_ends(kind, payload, ts):
                self._end_replay(line, ts)
            else:
                self._replayed.append(line.number)
                return
        if kind == "response_item":
            self._response_item(payload, line, ts, pointer="/payload")
        elif kind == "event_msg":
            self._event(payload, line, ts)
        elif kind == "turn_context":
            self._turn_context(payload, line, ts)
        elif kind == "compacted":
            self._summary_answers(payload.get("message"))
            history = payload.get("replacement_history")
            self._add_compaction(
                line,
                ts,
                text=line.text(payload.get("message"), "/payload/message") or None,
                data={"replacement_items": len(history) if isinstance(history, list) else None},
                from_event=False,
            )
        elif kind in _NO_ITEM_RECORDS:
            pass
        else:
            self.items.append(_unknown(line, ts, kind))

    def load_meta(self, p: dict[str, Any]) -> None:
        """The meta line of a rollout whose later lines are read (an appended read)."""
        continuing, self.continuing = self.continuing, False
        self._session_meta(p, None)
        self.continuing = continuing
        self._replaying_from = None  # the replay, if any, was cut by the first read

    def _session_meta(self, p: dict[str, Any], ts: datetime | None, number: int = 0) -> None:
        meta_id = as_str(p.get("id"))
        if self.meta.id is None and not self.continuing:
            m = self.meta
            m.id = meta_id
            m.timestamp = iso_time(p.get("timestamp")) or ts
            m.cwd = as_str(p.get("cwd"))
            m.originator = as_str(p.get("originator"))
            m.cli_version = as_str(p.get("cli_version"))
            m.source = p.get("source")
            m.model_provider = as_str(p.get("model_provider"))
            m.git = p.get("git") if isinstance(p.get("git"), dict) else None
            m.forked_from_id = as_str(p.get("forked_from_id"))
            m.agent_nickname = as_str(p.get("agent_nickname"))
            m.agent_role = as_str(p.get("agent_role"))
            m.parent_thread_id = as_str(p.get("parent_thread_id")) or _spawn(
                m.source, "parent_thread_id"
            )
            m.agent_nickname = m.agent_nickname or _spawn(m.source, "agent_nickname")
            m.spawn_call_id = _spawn(m.source, "spawn_call_id")
            self.exported_from = export_marker(p)
            if m.parent_thread_id or m.forked_from_id:
                # A child may replay its parent's history first, with the parent's (earlier)
                # times: those lines are the parent's, not new items of this thread.
                self._replaying_from = m.parent_thread_id or m.forked_from_id
                self._replay_by_time = True
                self._replayed = []
            return
        if meta_id is not None and self.meta.id is not None and meta_id != self.meta.id:
            # A child or fork that copies its parent's meta and replays its history
            # (older builds): that history is the parent's, not new items of this thread.
            if not any(i is not None and not isinstance(i, SystemNote) for i in self.items):
                self._replaying_from = meta_id
                self._replay_by_time = False
                self._replayed = [*self._replayed, number]
            return
        if isinstance(p.get("git"), dict):
            self.meta.git = p["git"]  # the meta line written again with git info

    def _replay_ends(self, kind: str, payload: dict[str, Any], ts: datetime | None) -> bool:
        """The child's own history begins: its first line stamped at or after its own start
        (or, after a copied parent meta, its own first turn)."""
        start = self.meta.timestamp
        if self._replay_by_time:
            return start is None or ts is None or ts >= start
        if kind == "event_msg" and payload.get("type") in ("task_started", "turn_started"):
            return start is None or ts is None or ts >= start
        return False

    def _end_replay(self, line: LineAt, ts: datetime | None) -> None:
        if not self._replayed:  # nothing was replayed (a fork that names its parent's lines)
            self._replaying_from = None
            return
        self.replayed_parent = self._replaying_from
        self.items.append(
            SystemNote(
                line=line.number,
                timestamp=ts,
                subtype="replayed_parent_history",
                text=None,
                data={
                    "parent_thread_id": self._replaying_from,
                    "first_line": self._replayed[0],
                    "last_line": self._replayed[-1],
                    "lines": len(self._replayed),
                },
            )
        )
        self._replaying_from = None
        self._last_total = None  # the parent's cumulative usage was replayed too

    def restore_turn_context(self, p: dict[str, Any]) -> None:
        """The turn context in force before an appended read (already imported)."""
        self.model = as_str(p.get("model"))
        self.effort = _effort(p)
        self._last_context = (self.model, self.effort)
        self._turn = _Turn(id=as_str(p.get("turn_id")), start=len(self.items))

    def _summary_answers(self, message: Any) -> None:
        """The compaction turn's answer is the summariser's output, which the ``compacted``
        record then quotes: a note of the compaction, not the assistant speaking."""
        if not isinstance(message, str) or not message:
            return
        for i in range(self._turn.start, len(self.items)):
            item = self.items[i]
            if isinstance(item, AssistantMessage):
                text = "".join(p for p in item.parts if isinstance(p, str)).strip()
                if text and text in message:
                    self.items[i] = SystemNote(
                        line=item.line,
                        timestamp=item.timestamp,
                        uuid=item.uuid,
                        subtype="compaction_summary",
                        text=item.parts[0] if len(item.parts) == 1 else text,
                    )

    def _turn_context(self, p: dict[str, Any], line: LineAt, ts: datetime | None) -> None:
        turn_id = as_str(p.get("turn_id"))
        if turn_id and turn_id != self._turn.id:
            self._turn = _Turn(id=turn_id, start=len(self.items))
        model = as_str(p.get("model"))
        effort = _effort(p)
        self.model, self.effort = model or self.model, effort
        if model and model not in self.models:
            self.models.append(model)
        if (self.model, self.effort) != self._last_context:
            self._last_context = (self.model, self.effort)
            self.items.append(
                SystemNote(
                    line=line.number,
                    timestamp=ts,
                    subtype="turn_context",
                    data={
                        "turn_id": turn_id,
                        "model": self.model,
                        "effort": self.effort,
                        "summary": as_str(p.get("summary")),
                        "cwd": as_str(p.get("cwd")),
                    },
                )
            )

    # -- response items -----------------------------------------------------------

    def _response_item(
        self, p: dict[str, Any], line: LineAt, ts: datetime | None, *, pointer: str
    ) -> None:
        kind = p.get("type")
        rid = as_str(p.get("id"))
        if kind == "message":
            self._message(p, line, ts, pointer)
        elif kind == "reasoning":
            summaries: list[tuple[int, str]] = [
                (i, s["text"])
                for i, s in enumerate(p.get("summary") or [])
                if isinstance(s, dict) and isinstance(s.get("text"), str)
            ]
            contents: list[tuple[int, str]] = [
                (i, c["text"])
                for i, c in enumerate(p.get("content") or [])
                if isinstance(c, dict) and isinstance(c.get("text"), str)
            ]
            if len(summaries) == 1:
                text: Text = line.text(summaries[0][1], f"{pointer}/summary/{summaries[0][0]}/text")
            elif summaries:
                text = "\n\n".join(s for _, s in summaries)
            elif len(contents) == 1:
                text = line.text(contents[0][1], f"{pointer}/content/{contents[0][0]}/text")
            else:
                text = "\n\n".join(c for _, c in contents)
            encrypted = as_str(p.get("encrypted_content"))
            self._from_response(
                [("reasoning", s.strip()) for _, s in summaries]
                + [("reasoning", "\n\n".join(s for _, s in summaries).strip())],
                Reasoning(
                    line=line.number,
                    timestamp=ts,
                    uuid=rid,
                    message_id=rid,
                    text=text,
                    # Opaque; a large one stays in the raw line (it is never shown).
                    signature=encrypted
                    if encrypted and len(encrypted) <= INLINE_JSON_BYTES
                    else None,
                    redacted=not summaries and not contents and encrypted is not None,
                ),
            )
        elif kind == "function_call":
            raw_args = p.get("arguments")
            parsed: Any = raw_args
            if isinstance(raw_args, str):
                try:
                    parsed = orjson.loads(raw_args)
                except orjson.JSONDecodeError:
                    parsed = raw_args  # not JSON: kept as the string the model wrote
            value, ref = line.json(parsed, f"{pointer}/arguments")
            self.items.append(
                ToolCall(
                    line=line.number,
                    timestamp=ts,
                    uuid=rid,
                    call_id=as_str(p.get("call_id")) or rid or "",
                    name=_tool_name(p),
                    input=value,
                    input_ref=ref,
                )
            )
        elif kind == "custom_tool_call":
            self.items.append(
                ToolCall(
                    line=line.number,
                    timestamp=ts,
                    uuid=rid,
                    call_id=as_str(p.get("call_id")) or rid or "",
                    name=as_str(p.get("name")) or "",
                    input=None if line.length > INLINE_JSON_BYTES else p.get("input"),
                    input_ref=line.ref(f"{pointer}/input", len(p.get("input") or ""))
                    if line.length > INLINE_JSON_BYTES
                    else None,
                )
            )
        elif kind in ("function_call_output", "custom_tool_call_output"):
            output, is_error = self._output(p.get("output"), line, f"{pointer}/output")
            self.items.append(
                ToolResult(
                    line=line.number,
                    timestamp=ts,
                    uuid=rid,
                    call_id=as_str(p.get("call_id")) or "",
                    output=output,
                    is_error=is_error,
                )
            )
        elif kind == "local_shell_call":
            value, ref = line.json(p.get("action"), f"{pointer}/action")
            self.items.append(
                ToolCall(
                    line=line.number,
                    timestamp=ts,
                    uuid=rid,
                    call_id=as_str(p.get("call_id")) or rid or f"local_shell:{line.number}",
                    name="local_shell",
                    input=value,
                    input_ref=ref,
                )
            )
        elif kind == "web_search_call":
            self.items.append(
                ToolCall(
                    line=line.number,
                    timestamp=ts,
                    uuid=rid,
                    call_id=rid or f"web_search:{line.number}",
                    name="web_search",
                    input=line.small(p.get("action")),
                )
            )
        elif kind == "ghost_snapshot":
            self.items.append(
                SystemNote(
                    line=line.number,
                    timestamp=ts,
                    subtype="ghost_snapshot",
                    data=line.small({"ghost_commit": p.get("ghost_commit")}),
                )
            )
        elif kind == "compaction" or kind == "compaction_summary":
            self._add_compaction(line, ts, text=None, data={"encrypted": True}, from_event=False)
        else:
            self.items.append(_unknown(line, ts, f"response_item:{kind}"))

    def _message(self, p: dict[str, Any], line: LineAt, ts: datetime | None, pointer: str) -> None:
        role = p.get("role")
        rid = as_str(p.get("id"))
        content = p.get("content")
        if isinstance(content, str):
            content = [{"type": "input_text" if role == "user" else "output_text", "text": content}]
            texts: list[tuple[str, Text]] = [
                (content[0]["text"], line.text(content[0]["text"], f"{pointer}/content"))
            ]
        else:
            texts = []
        images: list[Item] = []
        if not texts:
            for i, block in enumerate(_list(content, "content")):
                if not isinstance(block, dict):
                    continue
                btype = block.get("type")
                if btype in ("input_text", "output_text", "text"):
                    raw = block.get("text") or ""
                    texts.append((raw, line.text(raw, f"{pointer}/content/{i}/text")))
                elif btype == "input_image":
                    image = data_url_image(block.get("image_url"), self.blobs)
                    if image is not None:
                        images.append(Image(line=line.number, timestamp=ts, uuid=rid, image=image))
                    else:
                        images.append(
                            _unknown(line, ts, "block:input_image", f"{pointer}/content/{i}")
                        )
                else:
                    images.append(_unknown(line, ts, f"block:{btype}", f"{pointer}/content/{i}"))
        joined = "".join(t for t, _ in texts)
        parts = [part for _, part in texts]
        if role == "user":
            injected = joined.lstrip().startswith(INJECTED_PREFIXES)
            if injected:
                self.items.append(
                    UserMessage(line=line.number, timestamp=ts, uuid=rid, parts=parts, meta=True)
                )
                self.items.extend(images)
                return
            self._saw_prompt(joined)
            self._from_response(
                [("user", joined.strip())],
                UserMessage(line=line.number, timestamp=ts, uuid=rid, parts=parts),
            )
            self.items.extend(images)
        elif role == "assistant":
            self._from_response(
                [("assistant", joined.strip())],
                AssistantMessage(
                    line=line.number,
                    timestamp=ts,
                    uuid=rid,
                    message_id=rid,
                    model=self.model,
                    parts=parts,
                ),
            )
            self.items.extend(images)
        else:  # developer / system instructions: model context, not conversation
            self.items.append(
                SystemNote(
                    line=line.number,
                    timestamp=ts,
                    subtype=f"{role}_message",
                    text=parts[0] if len(parts) == 1 else joined,
                )
            )

    def _output(
        self, output: Any, line: LineAt, pointer: str
    ) -> tuple[Text | list[ResultBlock], bool]:
        if isinstance(output, dict):  # {"content": ..., "success": bool} in some builds
            ok = output.get("success")
            inner, err = self._output(output.get("content"), line, f"{pointer}/content")
            return inner, err or ok is False
        if isinstance(output, list):
            blocks: list[ResultBlock] = []
            for i, block in enumerate(output):
                if not isinstance(block, dict):
                    continue
                btype = block.get("type")
                if btype in ("input_text", "output_text", "text"):
                    blocks.append(
                        TextBlock(text=line.text(block.get("text") or "", f"{pointer}/{i}/text"))
                    )
                elif btype == "input_image" and (
                    image := data_url_image(block.get("image_url"), self.blobs)
                ):
                    blocks.append(image)
                else:
                    blocks.append(
                        OtherBlock(block_type=str(btype), block=line.ref(f"{pointer}/{i}", 0))
                    )
            return blocks, False
        if output is None:
            return "", False
        if not isinstance(output, str):
            raise RecordShapeError(
                f"'output' should be a string or a list, not {type(output).__name__}"
            )
        return line.text(output, pointer), _failed(output)

    # -- events --------------------------------------------------------------------

    def _event(self, p: dict[str, Any], line: LineAt, ts: datetime | None) -> None:
        kind = p.get("type")
        if kind in ("task_started", "turn_started"):
            self._turn = _Turn(id=as_str(p.get("turn_id")), start=len(self.items))
            if (self._turn.id or "").startswith(IMPORT_TURN_PREFIX):
                self.imported_marker = True
        elif kind == "user_message":
            message = p.get("message") or ""
            text = line.text(message, "/payload/message")
            if isinstance(message, str) and message.lstrip().startswith(INJECTED_PREFIXES):
                return
            self._saw_prompt(message)
            self._from_event(
                ("user", str(message).strip()),
                UserMessage(line=line.number, timestamp=ts, parts=[text]),
            )
            for i, url in enumerate(p.get("images") or []):
                image = data_url_image(url, self.blobs)
                if image is not None:
                    self._from_event(
                        ("image", str(i)), Image(line=line.number, timestamp=ts, image=image)
                    )
        elif kind == "agent_message":
            message = p.get("message") or ""
            if message == IMPORT_MARKER:
                self.imported_marker = True
                self.items.append(
                    SystemNote(
                        line=line.number, timestamp=ts, subtype="import_marker", text=message
                    )
                )
                return
            self._from_event(
                ("assistant", str(message).strip()),
                AssistantMessage(
                    line=line.number,
                    timestamp=ts,
                    model=self.model,
                    parts=[line.text(message, "/payload/message")],
                ),
            )
        elif kind == "agent_reasoning":
            text = p.get("text") or ""
            self._from_event(
                ("reasoning", str(text).strip()),
                Reasoning(line=line.number, timestamp=ts, text=line.text(text, "/payload/text")),
            )
        elif kind == "item_completed":
            self._mirrored_item(p.get("item"), line, ts)
        elif kind == "token_count":
            self._token_count(p.get("info"), line, ts)
        elif kind == "context_compacted":
            self._add_compaction(line, ts, text=None, data=None, from_event=True)
        elif kind == "thread_name_updated":
            name = as_str(p.get("thread_name"))
            if name and name.strip():
                self.thread_names.append(name.strip())
            self.items.append(
                SystemNote(line=line.number, timestamp=ts, subtype="thread_name", text=name)
            )
        elif kind == "turn_aborted":
            self.items.append(
                SystemNote(
                    line=line.number,
                    timestamp=ts,
                    subtype="turn_aborted",
                    text=as_str(p.get("reason")),
                    data={"turn_id": as_str(p.get("turn_id")) or self._turn.id},
                )
            )
        elif kind == "collab_tool_call":  # the parent's side of a spawn: which thread it made
            self.items.append(
                SystemNote(
                    line=line.number,
                    timestamp=ts,
                    subtype="collab_tool_call",
                    data=line.small(
                        {
                            k: p.get(k)
                            for k in ("call_id", "tool", "sender_thread_id", "new_thread_id")
                            if k in p
                        }
                    ),
                )
            )
        elif kind in ("error", "warning", "stream_error"):
            self.items.append(
                SystemNote(
                    line=line.number,
                    timestamp=ts,
                    subtype=str(kind),
                    text=line.text(p.get("message"), "/payload/message") or None,
                    level="error" if kind != "warning" else "warning",
                )
            )
        elif kind in _NO_ITEM_EVENTS:
            pass
        else:
            self.items.append(_unknown(line, ts, f"event_msg:{kind}"))

    def _mirrored_item(self, item: Any, line: LineAt, ts: datetime | None) -> None:
        """0.169's ``item_completed``: a UI copy of an item; kept only if no response
        item of the turn says the same."""
        if not isinstance(item, dict) or item.get("type") not in _MIRRORED_ITEMS:
            return
        role = _MIRRORED_ITEMS[item["type"]]
        if role == "reasoning":
            texts = [t for t in item.get("summary_text") or [] if isinstance(t, str)]
            joined = "\n\n".join(texts)
            self._from_event(
                ("reasoning", joined.strip()),
                Reasoning(line=line.number, timestamp=ts, uuid=as_str(item.get("id")), text=joined),
            )
            return
        pieces: list[str] = [
            c["text"]
            for c in item.get("content") or []
            if isinstance(c, dict) and isinstance(c.get("text"), str)
        ]
        joined = "".join(pieces)
        if role == "user":
            if joined.lstrip().startswith(INJECTED_PREFIXES):
                return
            self._saw_prompt(joined)
            self._from_event(
                ("user", joined.strip()),
                UserMessage(line=line.number, timestamp=ts, parts=[joined]),
            )
        else:
            self._from_event(
                ("assistant", joined.strip()),
                AssistantMessage(line=line.number, timestamp=ts, model=self.model, parts=[joined]),
            )

    def _token_count(self, info: Any, line: LineAt, ts: datetime | None) -> None:
        """Usage of one model response: ``last_token_usage``, or the difference of the
        cumulative totals; a repeated total (a rate-limit update) counts nothing."""
        if not isinstance(info, dict):
            return
        total = info.get("total_token_usage")
        last = info.get("last_token_usage")
        total = (
            {k: v for k, v in total.items() if as_int(v) is not None}
            if isinstance(total, dict)
            else None
        )
        if total is not None and total == self._last_total:
            return
        if isinstance(last, dict):
            delta = {k: v for k, v in last.items() if as_int(v) is not None}
        elif total is not None:
            before = self._last_total or {}
            delta = {k: v - before.get(k, 0) for k, v in total.items()}
        else:
            return
        if total is not None:
            self._last_total = total
        self.items.append(
            SystemNote(
                line=line.number,
                timestamp=ts,
                subtype="token_usage",
                data={"turn_id": self._turn.id, "model": self.model, "usage": delta},
            )
        )

    def _add_compaction(
        self,
        line: LineAt,
        ts: datetime | None,
        *,
        text: Text | None,
        data: dict[str, Any] | None,
        from_event: bool,
    ) -> None:
        note = SystemNote(
            line=line.number, timestamp=ts, subtype="compaction", text=text, data=data
        )
        if from_event:
            self._from_event(("compaction", ""), note)
        else:
            self._from_response([("compaction", "")], note)

    # -- one stream ------------------------------------------------------------------

    def _from_response(self, keys: list[tuple[str, str]], item: Item) -> None:
        turn = self._turn
        for key in dict.fromkeys(keys):
            slots = turn.event_slots.get(key)
            if slots:
                self.items[slots.pop(0)] = None  # the event said it first; the response item wins
            else:
                turn.response_keys[key] += 1
        self.items.append(item)

    def _from_event(self, key: tuple[str, str], item: Item) -> None:
        turn = self._turn
        if turn.response_keys[key] > 0:
            turn.response_keys[key] -= 1
            return
        turn.event_slots.setdefault(key, []).append(len(self.items))
        self.items.append(item)

    def _saw_prompt(self, text: Any) -> None:
        if self.first_prompt is None and isinstance(text, str) and text.strip():
            self.first_prompt = text.strip()

    # -- the end ---------------------------------------------------------------------

    def built_items(self) -> list[Item]:
        return [i for i in self.items if i is not None]

    def usage_total(self) -> Usage | None:
        total: Counter[str] = Counter()
        for item in self.built_items():
            if isinstance(item, SystemNote) and item.subtype == "token_usage" and item.data:
                total.update(item.data["usage"])
        if not total:
            return None
        return Usage(
            input_tokens=total.get("input_tokens"),
            output_tokens=total.get("output_tokens"),
            cache_read_input_tokens=total.get("cached_input_tokens"),
        )


# -- helpers -------------------------------------------------------------------------


def _legacy_meta(record: dict[str, Any]) -> bool:
    """The first line of a rollout from before the ``{timestamp,type,payload}`` envelope."""
    return "type" not in record and "id" in record and "timestamp" in record


def _effort(p: dict[str, Any]) -> str | None:
    effort = as_str(p.get("effort"))
    if effort is None and isinstance(p.get("collaboration_mode"), dict):
        settings = p["collaboration_mode"].get("settings")
        if isinstance(settings, dict):
            effort = as_str(settings.get("reasoning_effort"))
    return effort


def _spawn(source: Any, key: str) -> str | None:
    """A field of ``source.subagent.thread_spawn`` (a sub-agent's meta)."""
    if isinstance(source, dict):
        sub = source.get("subagent")
        if isinstance(sub, dict):
            spawn = sub.get("thread_spawn")
            if isinstance(spawn, dict):
                return as_str(spawn.get(key))
    return None


def _tool_name(p: dict[str, Any]) -> str:
    name = as_str(p.get("name")) or ""
    namespace = as_str(p.get("namespace"))
    return f"{namespace}.{name}" if namespace else name


def _failed(output: str) -> bool:
    """A shell output that says its command failed: ``metadata.exit_code`` (JSON output of
    older builds) or the ``Process exited with code N`` line of unified exec."""
    head = output[:400]
    if head.startswith("{"):
        try:
            data = orjson.loads(output)
        except orjson.JSONDecodeError:
            return False
        code = data.get("metadata", {}).get("exit_code") if isinstance(data, dict) else None
        return isinstance(code, int) and code != 0
    marker = "Process exited with code "
    at = head.find(marker)
    if at >= 0:
        digits = head[at + len(marker) :].split("\n", 1)[0].strip()
        return digits.isdigit() and int(digits) != 0
    return False


def _unknown(line: LineAt, ts: datetime | None, kind: str, pointer: str = "") -> Unknown:
    return Unknown(
        line=line.number,
        timestamp=ts,
        record_type=kind,
        record=line.ref(pointer, line.length if not pointer else 0),
    )


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise RecordShapeError(f"'{where}' should be a list, not {type(value).__name__}")
    return value


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()
        )
    return str(exc)
