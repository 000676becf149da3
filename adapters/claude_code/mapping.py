"""Claude Code records -> conversation items, one line at a time.

Follows ../shared/formats/transcripts.md: switch on ``type`` and keep unknown
types, merge streamed assistant fragments by ``message.id`` (usage from the last
fragment), keep thinking, tool calls and tool results whole, route inline
sidechain lines to child threads, and never stop on a bad line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from threadline.adapters.claude_code.titles import strip_harness_wrappers
from threadline.adapters.jsonl_pages import parse_line
from threadline.application.ports import BlobStore, Problem
from threadline.domain.items import (
    AssistantMessage,
    Image,
    ImageRef,
    Item,
    LineRef,
    OtherBlock,
    Reasoning,
    ResultBlock,
    SourceRef,
    SystemNote,
    Text,
    TextBlock,
    ToolCall,
    ToolResult,
    Unknown,
    Usage,
    UserMessage,
)
from threadline.domain.titles import choose_title, first_line, truncate

INLINE_TEXT_CHARS = 2048
"""Longer texts stay in their source line and are referenced (ADR 0001)."""
INLINE_JSON_BYTES = 4096
FIRST_MESSAGE_CHARS = 2000
SYNTHETIC_MODEL = "<synthetic>"


class RecordShapeError(ValueError):
    """A record whose fields do not have the shape the format says."""


class _Line:
    """The line being mapped: its number, raw bytes and where they are stored.

    ``prefix`` points at the record being mapped inside the line, for a record nested in
    another (a sub-agent's message inside its parent's ``agent_progress`` line)."""

    __slots__ = ("_stored", "blob", "length", "number", "offset", "prefix")

    def __init__(self, number: int, blob: str, offset: int, length: int, prefix: str = "") -> None:
        self.number = number
        self.blob = blob
        self.offset = offset
        self.length = length
        self.prefix = prefix
        self._stored: LineRef | None = None

    def ref(self, pointer: str, size: int) -> SourceRef:
        # One LineRef per line, however many of its values are referenced. Validating
        # constructors: pydantic-core builds these faster than model_construct does.
        if self._stored is None:
            self._stored = LineRef(blob=self.blob, offset=self.offset, length=self.length)
        return SourceRef(line=self._stored, pointer=self.prefix + pointer, size=size)

    def text(self, value: Any, pointer: str) -> Text:
        if not isinstance(value, str):
            raise RecordShapeError(f"'{pointer}' should be a string, not {type(value).__name__}")
        if len(value) <= INLINE_TEXT_CHARS or self.length <= INLINE_TEXT_CHARS:
            return value
        return self.ref(pointer, len(value))


@dataclass(slots=True)
class _PendingAssistant:
    """An assistant message whose streamed fragments are still being merged.

    It takes its place in the history where its first text arrives (so a
    response that thought first reads thinking, then answer), or where its
    first fragment was if it never says anything (only calls tools).
    """

    line: int
    timestamp: datetime | None
    uuid: str | None
    parent_uuid: str | None
    message_id: str | None
    model: str | None
    parts: list[Text] = field(default_factory=list)
    usage: Usage | None = None
    stop_reason: str | None = None
    fragments: int = 1
    placed: bool = False

    def build(self) -> AssistantMessage:
        return AssistantMessage(
            line=self.line,
            timestamp=self.timestamp,
            uuid=self.uuid,
            parent_uuid=self.parent_uuid,
            message_id=self.message_id,
            model=self.model,
            parts=self.parts,
            usage=self.usage,
            stop_reason=self.stop_reason,
            fragments=self.fragments,
        )


@dataclass(slots=True)
class _Anchor:
    """Where a pending assistant message goes if no text ever places it."""

    pending: _PendingAssistant


_Slot = Item | _PendingAssistant | _Anchor


@dataclass
class ThreadFacts:
    """What one thread's records say about it, gathered while mapping."""

    items: list[_Slot] = field(default_factory=list)
    staged: list[_Slot] = field(default_factory=list)
    """The items of the line being mapped: kept only if the whole line maps."""
    session_id: str | None = None
    agent_id: str | None = None
    cwd: str | None = None
    git_branch: str | None = None
    custom_title: str | None = None
    ai_title: str | None = None
    first_prompt: str | None = None
    first_command: str | None = None
    """The first slash command run (``/review src/app.py``): the prompt of a session
    in which the user typed nothing else."""
    first_timestamp: datetime | None = None
    last_timestamp: datetime | None = None
    models: list[str] = field(default_factory=list)
    records: int = 0
    pending: dict[str, _PendingAssistant] = field(default_factory=dict)

    def add(self, item: _Slot) -> None:
        self.staged.append(item)

    def commit_line(self) -> None:
        self.items.extend(self.staged)
        self.staged.clear()

    def drop_line(self) -> None:
        self.staged.clear()

    def saw_time(self, ts: datetime | None) -> None:
        if ts is None:
            return
        if self.first_timestamp is None or ts < self.first_timestamp:
            self.first_timestamp = ts
        if self.last_timestamp is None or ts > self.last_timestamp:
            self.last_timestamp = ts

    def built_items(self) -> list[Item]:
        built: list[Item] = []
        for slot in self.items:
            if isinstance(slot, _PendingAssistant):
                built.append(slot.build())
            elif isinstance(slot, _Anchor):
                if not slot.pending.placed:
                    built.append(slot.pending.build())
            else:
                built.append(slot)
        return built

    def title(self) -> tuple[str, str]:
        return choose_title(self.custom_title, self.ai_title, self.prompt)

    @property
    def prompt(self) -> str:
        """What the user asked first: a typed prompt, else the first slash command."""
        return self.first_prompt or self.first_command or ""


class TranscriptMapper:
    """Maps the lines of one Claude Code transcript file, in file order.

    Lines of an inline sidechain (``isSidechain`` in a main session file) go
    to a child thread per chain, keyed by the uuid of the chain's first line.
    """

    def __init__(self, path: str, blobs: BlobStore, *, is_subagent_file: bool) -> None:
        self.path = path
        self.blobs = blobs
        self.is_subagent_file = is_subagent_file
        self.main = ThreadFacts()
        self.sidechains: dict[str, ThreadFacts] = {}
        self._chain_root: dict[str, str] = {}
        self.problems: list[Problem] = []
        self.mirrored: dict[str, ThreadFacts] = {}
        """Sub-agents seen only as ``agent_progress`` lines here, by agent id."""
        self.mirrored_calls: dict[str, str] = {}
        """Agent id -> the Task/Agent tool call that spawned it (``parentToolUseID``)."""
        self.mirrored_lines: dict[str, list[str]] = {}
        """Agent id -> the uuids of the progress lines it was read from."""

    def continue_chains(self, sidechain_lines: dict[str, str]) -> None:
        """Carry on from an earlier import: which inline sidechain each known line was in."""
        self._chain_root.update(sidechain_lines)

    def sidechain_lines(self) -> dict[str, str]:
        """Inline sidechain lines seen so far (uuid -> uuid of their chain's first line)."""
        return dict(self._chain_root)

    # -- one line ------------------------------------------------------------

    def feed(self, number: int, raw: bytes | memoryview, blob: str, offset: int) -> None:
        """Map one line; ``raw`` may be a view into its page (orjson reads it in place)."""
        line = _Line(number, blob, offset, len(raw))
        record = self._parse(line, raw)
        if record is None:
            return
        thread = self._thread_for(record)
        thread.records += 1
        try:
            self._map(record, line, thread)
        except (RecordShapeError, TypeError, ValueError, KeyError, AttributeError) as exc:
            thread.drop_line()
            kind = record.get("type")
            self.problem(number, f"unexpected shape for a {kind!r} record: {_reason(exc)}")
            thread.add(_unknown(record, line, str(kind)))
        thread.commit_line()
        if record.get("type") == "progress":
            self._agent_progress(record, line)

    def _agent_progress(self, record: dict[str, Any], line: _Line) -> None:
        """A sub-agent's message copied into its parent: also an item of the sub-agent's
        own thread (the progress line stays an item of the parent, as every line does)."""
        data = record.get("data")
        if not isinstance(data, dict) or data.get("type") != "agent_progress":
            return
        agent, inner = data.get("agentId"), data.get("message")
        if not isinstance(agent, str) or not agent or not isinstance(inner, dict):
            return
        facts = self.mirrored.setdefault(agent, ThreadFacts(agent_id=agent))
        call = record.get("parentToolUseID")
        if isinstance(call, str) and call:
            self.mirrored_calls.setdefault(agent, call)
        if isinstance(record.get("uuid"), str):
            self.mirrored_lines.setdefault(agent, []).append(record["uuid"])
        message = {
            **{k: record[k] for k in ("timestamp", "sessionId", "cwd", "gitBranch") if k in record},
            **inner,
        }
        facts.records += 1
        try:
            self._map(
                message,
                _Line(line.number, line.blob, line.offset, line.length, "/data/message"),
                facts,
            )
        except (RecordShapeError, TypeError, ValueError, KeyError, AttributeError) as exc:
            facts.drop_line()
            self.problem(
                line.number, f"unexpected shape for an agent_progress message: {_reason(exc)}"
            )
        facts.commit_line()

    def problem(self, line: int, reason: str) -> None:
        self.problems.append(Problem(self.path, line, reason))

    def _parse(self, line: _Line, view: bytes | memoryview) -> dict[str, Any] | None:
        return parse_line(line.number, view, self.path, self.problems, blank_is_problem=True)

    def _thread_for(self, record: dict[str, Any]) -> ThreadFacts:
        if self.is_subagent_file or record.get("isSidechain") is not True:
            return self.main
        uuid, parent = record.get("uuid"), record.get("parentUuid")
        root = self._chain_root.get(parent) if isinstance(parent, str) else None
        if root is None:
            root = uuid if isinstance(uuid, str) else f"line-{len(self.sidechains) + 1}"
        if isinstance(uuid, str):
            self._chain_root[uuid] = root
        return self.sidechains.setdefault(root, ThreadFacts())

    # -- records -------------------------------------------------------------

    def _map(self, record: dict[str, Any], line: _Line, thread: ThreadFacts) -> None:
        kind = record.get("type")
        ts = self._envelope(record, line, thread)
        if kind == "user":
            self._user(record, line, thread, ts)
        elif kind == "assistant":
            self._assistant(record, line, thread, ts)
        elif kind == "system":
            content = record.get("content")
            data: dict[str, Any] = {
                k: record[k]
                for k in (
                    "compactMetadata",
                    "logicalParentUuid",
                    "toolUseID",
                    "hookCount",
                    "hookErrors",
                    "preventedContinuation",
                    "durationMs",
                )
                if k in record
            }
            thread.add(
                SystemNote(
                    **_provenance(record, line, ts),
                    subtype=_str(record.get("subtype")) or "notice",
                    text=line.text(content, "/content") if isinstance(content, str) else None,
                    level=_str(record.get("level")),
                    # Larger metadata stays in the raw line, which is always kept.
                    data=data if data and len(orjson.dumps(data)) <= INLINE_JSON_BYTES else None,
                )
            )
        elif kind == "summary":
            thread.add(
                SystemNote(
                    line=line.number,
                    subtype="summary",
                    text=line.text(record.get("summary", ""), "/summary"),
                )
            )
        elif kind == "custom-title":
            title = record.get("customTitle")
            if isinstance(title, str) and title.strip():
                thread.custom_title = title.strip()
            thread.add(SystemNote(line=line.number, subtype="custom_title", text=_str(title)))
        elif kind == "ai-title":
            title = record.get("aiTitle")
            if isinstance(title, str) and title.strip():
                thread.ai_title = title.strip()
            thread.add(SystemNote(line=line.number, subtype="ai_title", text=_str(title)))
        else:
            thread.add(_unknown(record, line, str(kind) if kind is not None else "(no type)"))

    def _envelope(
        self, record: dict[str, Any], line: _Line, thread: ThreadFacts
    ) -> datetime | None:
        """Session-level facts every line may carry; returns the line's timestamp."""
        if thread.session_id is None and isinstance(record.get("sessionId"), str):
            thread.session_id = record["sessionId"]
        if thread.agent_id is None and isinstance(record.get("agentId"), str):
            thread.agent_id = record["agentId"]
        cwd = record.get("cwd")
        if cwd is not None and cwd != "":
            if isinstance(cwd, str):
                if thread.cwd is None:
                    thread.cwd = cwd
            else:
                self.problem(line.number, f"'cwd' should be a string, not {type(cwd).__name__}")
        branch = record.get("gitBranch")
        if isinstance(branch, str) and branch:
            thread.git_branch = branch
        raw_ts = record.get("timestamp")
        if raw_ts is None:
            return None
        ts = _timestamp(raw_ts)
        if ts is None:
            # Never its value: a report must not carry a transcript's content.
            self.problem(line.number, "unreadable timestamp (not an ISO time with a zone)")
        thread.saw_time(ts)
        return ts

    def _user(
        self, record: dict[str, Any], line: _Line, thread: ThreadFacts, ts: datetime | None
    ) -> None:
        message = _dict(record.get("message"), "message")
        content = message.get("content")
        prov = _provenance(record, line, ts)
        meta = record.get("isMeta") is True
        if record.get("isCompactSummary") is True:
            thread.add(
                SystemNote(**prov, subtype="compact_summary", text=_summary_text(content, line))
            )
            return
        if isinstance(content, str):
            thread.add(
                UserMessage(**prov, parts=[line.text(content, "/message/content")], meta=meta)
            )
            if not meta:
                self._saw_prompt(thread, content)
            return
        # Blocks in order; the text blocks make one message, placed at the first of them.
        agent_id = _agent_id(record.get("toolUseResult"))
        parts: list[Text] = []
        mapped: list[Item | None] = []  # None marks where the message goes
        blocks = _list(content, "message.content")
        for i, block in enumerate(blocks):
            pointer = f"/message/content/{i}"
            block = _dict(block, f"message.content[{i}]")
            btype = block.get("type")
            if btype == "text":
                parts.append(line.text(block.get("text", ""), pointer + "/text"))
                if not parts[1:]:
                    mapped.append(None)
            elif btype == "tool_result":
                output = self._result_output(block.get("content"), line, pointer + "/content")
                mapped.append(
                    ToolResult(
                        **prov,
                        call_id=_str(block.get("tool_use_id")) or "",
                        output=output,
                        is_error=block.get("is_error") is True,
                        agent_id=agent_id,
                    )
                )
            elif btype == "image" and isinstance(
                image := self._image(block, line, pointer), ImageRef
            ):
                mapped.append(Image(**prov, image=image))
            else:
                mapped.append(_unknown_block(block, line, pointer, prov))
        if not mapped:
            mapped.append(None)  # an empty message still keeps its place in the chain
        for entry in mapped:
            thread.add(entry or UserMessage(**prov, parts=parts, meta=meta))
        if not meta:
            for block in blocks:
                if block.get("type") == "text":
                    self._saw_prompt(thread, block.get("text"))

    def _saw_prompt(self, thread: ThreadFacts, text: Any) -> None:
        if thread.first_prompt is None and isinstance(text, str):
            real = strip_harness_wrappers(text)
            if real:
                thread.first_prompt = real
            elif thread.first_command is None:
                thread.first_command = slash_command(text)

    def _result_output(self, content: Any, line: _Line, pointer: str) -> Text | list[ResultBlock]:
        if content is None:
            return ""
        if isinstance(content, str):
            return line.text(content, pointer)
        blocks: list[ResultBlock] = []
        for i, block in enumerate(_list(content, pointer)):
            bp = f"{pointer}/{i}"
            block = _dict(block, bp)
            btype = block.get("type")
            if btype == "text":
                blocks.append(TextBlock(text=line.text(block.get("text", ""), bp + "/text")))
            elif btype == "image" and isinstance(image := self._image(block, line, bp), ImageRef):
                blocks.append(image)
            else:
                blocks.append(OtherBlock(block_type=str(btype), block=line.ref(bp, 0)))
        return blocks

    def _image(self, block: dict[str, Any], line: _Line, pointer: str) -> ImageRef | None:
        source = block.get("source")
        if not isinstance(source, dict) or source.get("type") != "base64":
            return None
        try:
            data = base64.b64decode(source.get("data", ""), validate=True)
        except (binascii.Error, ValueError, TypeError):
            self.problem(
                line.number, f"image at {pointer} is not valid base64; kept in the raw line"
            )
            return None
        key = self.blobs.put(data)
        return ImageRef(
            media_type=_str(source.get("media_type")) or "application/octet-stream",
            blob=key,
            size=len(data),
        )

    def _assistant(
        self, record: dict[str, Any], line: _Line, thread: ThreadFacts, ts: datetime | None
    ) -> None:
        message = _dict(record.get("message"), "message")
        blocks = (
            _list(message.get("content"), "message.content")
            if not isinstance(message.get("content"), str)
            else [message["content"]]
        )
        msg_id = _str(message.get("id"))
        model = _str(message.get("model"))
        if model and model != SYNTHETIC_MODEL and model not in thread.models:
            thread.models.append(model)
        prov = _provenance(record, line, ts)
        raw_usage = message.get("usage")
        usage = Usage.model_validate(raw_usage) if isinstance(raw_usage, dict) else None
        # Map every block first; the thread changes only once the whole line has mapped.
        mapped: list[Item | Text] = []  # a Text is a part of the message itself
        for i, block in enumerate(blocks):
            pointer = f"/message/content/{i}"
            if isinstance(block, str):
                mapped.append(line.text(block, "/message/content"))
                continue
            block = _dict(block, f"message.content[{i}]")
            btype = block.get("type")
            if btype == "text":
                mapped.append(line.text(block.get("text", ""), pointer + "/text"))
            elif btype == "thinking":
                mapped.append(
                    Reasoning(
                        **prov,
                        message_id=msg_id,
                        text=line.text(block.get("thinking", ""), pointer + "/thinking"),
                        signature=_str(block.get("signature")),
                    )
                )
            elif btype == "redacted_thinking":
                mapped.append(
                    Reasoning(
                        **prov,
                        message_id=msg_id,
                        text="",
                        redacted=True,
                        signature=_str(block.get("data")),
                    )
                )
            elif btype == "tool_use":
                mapped.append(self._tool_call(block, line, pointer, prov, msg_id))
            else:
                mapped.append(_unknown_block(block, line, pointer, prov))

        pending = thread.pending.get(msg_id) if msg_id else None
        if pending is None:
            pending = _PendingAssistant(
                line=line.number,
                timestamp=ts,
                uuid=prov["uuid"],
                parent_uuid=prov["parent_uuid"],
                message_id=msg_id,
                model=model,
            )
            thread.add(_Anchor(pending))
            if msg_id:
                thread.pending[msg_id] = pending
        else:
            pending.fragments += 1
        if usage is not None:
            pending.usage = usage
        if isinstance(message.get("stop_reason"), str):
            pending.stop_reason = message["stop_reason"]
        for entry in mapped:
            if isinstance(entry, (str, SourceRef)):
                if not pending.placed:
                    pending.placed = True
                    thread.add(pending)
                pending.parts.append(entry)
            else:
                thread.add(entry)

    def _tool_call(
        self,
        block: dict[str, Any],
        line: _Line,
        pointer: str,
        prov: dict[str, Any],
        msg_id: str | None,
    ) -> ToolCall:
        tool_input = block.get("input")
        size = len(orjson.dumps(tool_input)) if line.length > INLINE_JSON_BYTES else 0
        large = size > INLINE_JSON_BYTES
        return ToolCall(
            **prov,
            message_id=msg_id,
            call_id=_str(block.get("id")) or "",
            name=_str(block.get("name")) or "",
            input=None if large else tool_input,
            input_ref=line.ref(pointer + "/input", size) if large else None,
        )

    # -- the end -------------------------------------------------------------

    def first_user_message(self, thread: ThreadFacts) -> str:
        return truncate(thread.prompt, FIRST_MESSAGE_CHARS)

    def preview(self, thread: ThreadFacts) -> str:
        return first_line(thread.prompt)


# -- helpers ---------------------------------------------------------------

_COMMAND_NAME = re.compile(r"<command-name>\s*(.*?)\s*</command-name>", re.DOTALL)
_COMMAND_ARGS = re.compile(r"<command-args>\s*(.*?)\s*</command-args>", re.DOTALL)
NOT_A_TITLE_COMMANDS = frozenset({"/clear"})
"""Commands a session may start with that say nothing about it (``/clear`` starts it)."""


def slash_command(text: str) -> str | None:
    """The slash command a user line runs, with its arguments (``/review src/app.py``):
    the prompt of a session that starts with one, once its wrappers are stripped."""
    name = _COMMAND_NAME.search(text)
    if name is None or not name.group(1):
        return None
    command = name.group(1) if name.group(1).startswith("/") else "/" + name.group(1)
    if command in NOT_A_TITLE_COMMANDS:
        return None
    args = _COMMAND_ARGS.search(text)
    return f"{command} {args.group(1)}" if args and args.group(1) else command


def _provenance(record: dict[str, Any], line: _Line, ts: datetime | None) -> dict[str, Any]:
    uuid, parent = record.get("uuid"), record.get("parentUuid")
    return {
        "line": line.number,
        "timestamp": ts,
        "uuid": uuid if isinstance(uuid, str) else None,
        "parent_uuid": parent if isinstance(parent, str) else None,
    }


def _unknown(record: dict[str, Any], line: _Line, kind: str) -> Unknown:
    ts = _timestamp(record.get("timestamp"))
    return Unknown(
        **_provenance(record, line, ts), record_type=kind, record=line.ref("", line.length)
    )


def _unknown_block(
    block: dict[str, Any], line: _Line, pointer: str, prov: dict[str, Any]
) -> Unknown:
    return Unknown(**prov, record_type=f"block:{block.get('type')}", record=line.ref(pointer, 0))


def _summary_text(content: Any, line: _Line) -> Text:
    """A compaction summary: a string, or the text of its text blocks."""
    if isinstance(content, str):
        return line.text(content, "/message/content")
    texts = [
        (i, b["text"])
        for i, b in enumerate(_list(content, "message.content"))
        if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
    ]
    if len(texts) == 1:
        i, text = texts[0]
        return line.text(text, f"/message/content/{i}/text")
    return "\n\n".join(text for _, text in texts)


def _reason(exc: Exception) -> str:
    """One line saying what was wrong, also for pydantic's multi-line errors."""
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()
        )
    return str(exc)


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value)
        except ValueError:
            return None
        return ts if ts.tzinfo is not None else None
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecordShapeError(f"'{where}' should be an object, not {type(value).__name__}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise RecordShapeError(
            f"'{where}' should be a string or a list, not {type(value).__name__}"
        )
    return value


def _agent_id(tool_use_result: Any) -> str | None:
    if isinstance(tool_use_result, dict):
        return _str(tool_use_result.get("agentId"))
    return None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
