"""Reading one Gemini CLI chat: replaying its upsert log, then its messages as items.

A ``.jsonl`` chat is an upsert log (gemini-cli ``chatRecordingService.ts``): a
metadata line (``sessionId``, ``projectHash``, ``startTime``, ``kind``), message
records keyed by ``id`` (a later record with the same id replaces the earlier
one in its place), ``{"$set": {...}}`` patches of the metadata (``$set.messages``
replaces the whole list) and ``{"$rewindTo": id}``, which drops that message and
every later one. The conversation is the state at the end of the log, so a chat
is always replayed whole; a rewind or a replaced list becomes a ``rewind`` /
``history_replaced`` note naming what was dropped, whose records stay in the
stored pages. A ``.json`` chat is the same record written whole.

Messages: ``user`` (content parts: text, ``inlineData`` images,
``functionResponse``), ``gemini`` (text, ``thoughts[{subject, description}]``,
``toolCalls[{id, name, args, result, status}]``, ``tokens``, ``model``) and
``info`` / ``error`` / ``warning``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from threadline.adapters.gemini import AGENT
from threadline.adapters.gemini.discovery import (
    conversation_of,
    discover,
    is_subagent_file,
    parent_chat,
    project_root,
)
from threadline.adapters.git import git_info
from threadline.adapters.jsonl_pages import parse_line, read_pages
from threadline.adapters.source_support import (
    Lineage,
    LineAt,
    LinkedThreadContent,
    RecordShapeError,
    as_str,
    base64_image,
    iso_time,
    pointer_token,
)
from threadline.application.ports import (
    BlobStore,
    Problem,
    ReadTranscript,
    ResumePoint,
    SourceFile,
    name_conversations,
)
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
from threadline.domain.ledger import SourcePage, SourceVersion
from threadline.domain.session import ThreadSummary, TranscriptSource
from threadline.domain.titles import choose_title, first_line, truncate

FIRST_MESSAGE_CHARS = 2000
INJECTED_PREFIXES = ("<session_context>", "<hook_context>")
"""User messages the CLI writes to set up the model's context."""

name_conversations(AGENT, conversation_of)


@dataclass
class _Held:
    record: dict[str, Any]
    line: LineAt
    pointer: str
    """Where the message is in its line's record ("" for a message line of its own)."""
    carried: dict[str, Any] = field(default_factory=dict)
    """``model`` and ``tokens`` of an earlier version that a rewrite dropped (a resumed
    chat writes its history again without them)."""


@dataclass
class ChatLog:
    """The state of a chat after replaying its records in order."""

    path: str
    metadata: dict[str, Any] = field(default_factory=dict)
    messages: dict[str, _Held] = field(default_factory=dict)
    notes: list[tuple[int, SystemNote]] = field(default_factory=list)
    """Rewinds and replaced lists, by the position (message count) they happened at."""
    problems: list[Problem] = field(default_factory=list)
    records: int = 0
    known: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The last ``model`` and ``tokens`` seen for each message id."""
    started: datetime | None = None
    """The first ``startTime``: a resumed chat writes its metadata line again."""

    def feed(self, number: int, raw: memoryview, blob: str, offset: int) -> None:
        record = parse_line(number, raw, self.path, self.problems)
        if record is None:
            return
        self.apply(record, LineAt(number, blob, offset, len(raw)))

    def apply(self, record: dict[str, Any], line: LineAt, *, whole_file: bool = False) -> None:
        self.records += 1
        rewind = record.get("$rewindTo")
        if isinstance(rewind, str):
            ids = list(self.messages)
            cut = ids.index(rewind) if rewind in ids else 0
            dropped = ids[cut:]
            for mid in dropped:
                del self.messages[mid]
            self._note(line, "rewind", {"to": rewind, "dropped": dropped, "found": rewind in ids})
        elif isinstance(record.get("id"), str) and not whole_file:
            self._put(record["id"], _Held(record, line, ""))
        elif isinstance(record.get("$set"), dict):
            patch = record["$set"]
            if isinstance(patch.get("messages"), list):
                self._replace(patch["messages"], line, "/$set/messages")
            self.metadata.update({k: v for k, v in patch.items() if k != "messages"})
        elif isinstance(record.get("sessionId"), str):
            if self.started is None:
                self.started = iso_time(record.get("startTime"))
            self.metadata.update({k: v for k, v in record.items() if k != "messages"})
            if isinstance(record.get("messages"), list):
                self._replace(record["messages"], line, "/messages", note=not whole_file)
        elif "id" in record and not whole_file:
            shown = orjson.dumps(record["id"]).decode()[:40]
            reason = f"a message record whose id is {shown}, not a string"
            self.problems.append(Problem(self.path, line.number, reason))
        else:
            self.problems.append(
                Problem(
                    self.path,
                    line.number,
                    "not a Gemini CLI chat record (no id, $set, $rewindTo or sessionId)",
                )
            )

    def _put(self, mid: str, held: _Held) -> None:
        known = self.known.setdefault(mid, {})
        for key in ("model", "tokens"):
            if held.record.get(key) is not None:
                known[key] = held.record[key]
            elif key in known:
                held.carried[key] = known[key]
        self.messages[mid] = held

    def _replace(self, messages: list[Any], line: LineAt, base: str, *, note: bool = True) -> None:
        old = list(self.messages)
        self.messages.clear()
        for i, message in enumerate(messages):
            if isinstance(message, dict) and isinstance(message.get("id"), str):
                mid = message["id"]
                self._put(mid, _Held(message, line, f"{base}/{i}"))
        dropped = [mid for mid in old if mid not in self.messages]
        if note and dropped:
            # The note goes where the kept prefix ends and the new list begins.
            new = list(self.messages)
            at = next((i for i, mid in enumerate(new) if mid not in old), len(new))
            self._note(line, "history_replaced", {"dropped": dropped}, at)

    def _note(
        self, line: LineAt, subtype: str, data: dict[str, Any], at: int | None = None
    ) -> None:
        position = len(self.messages) if at is None else at
        self.notes.append((position, SystemNote(line=line.number, subtype=subtype, data=data)))


class GeminiReader:
    agent = AGENT

    def discover(self, paths: Iterable[str]) -> tuple[list[SourceFile], list[Problem]]:
        return discover(paths)

    def conversation_of(self, path: str) -> str | None:
        return conversation_of(path)

    def read(
        self, source: SourceFile, resume: ResumePoint | None, blobs: BlobStore
    ) -> ReadTranscript:
        path = source.path
        log = ChatLog(path)
        if path.endswith(".jsonl"):
            paged = read_pages(path, resume, blobs, log.feed, allow_append=False)
            version, pages = paged.version, paged.pages
            if paged.torn is not None:
                log.problems.append(paged.torn)
        else:
            version, pages = self._whole_file(path, log, blobs)
        main = None
        if log.metadata.get("sessionId") or log.messages:
            main = _thread(source, log, blobs)
        elif not log.problems:
            log.problems.append(Problem(path, 0, "empty chat; nothing to import"))
        return ReadTranscript(
            version=version,
            mode="full" if resume is None else "replace",
            pages=pages,
            main=main,
            problems=log.problems,
            conversation_id=main.conversation_id if main is not None else None,
        )

    def _whole_file(
        self, path: str, log: ChatLog, blobs: BlobStore
    ) -> tuple[SourceVersion, list[SourcePage]]:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            data = f.read()
        digest = hashlib.sha256(data).hexdigest()
        key = blobs.put(data) if data else ""
        pages = [SourcePage(blob=key, first_line=1, size=len(data))] if data else []
        complete = False
        try:
            record = orjson.loads(data)
            complete = isinstance(record, dict)
        except orjson.JSONDecodeError:
            record = None
        if complete and isinstance(record, dict):
            log.apply(record, LineAt(1, key, 0, len(data)), whole_file=True)
        elif data.strip():
            log.problems.append(
                Problem(path, 0, "not a complete JSON document (half-written?); left unread")
            )
        consumed = len(data) if complete else 0
        version = SourceVersion(
            size=st.st_size,
            mtime_ns=st.st_mtime_ns,
            sha256=digest,
            consumed_bytes=consumed,
            consumed_sha256=digest if complete else hashlib.sha256(b"").hexdigest(),
            consumed_lines=1 if complete else 0,
        )
        return version, pages if complete else []


# -- messages -> items -------------------------------------------------------------


@dataclass
class _Facts:
    first_prompt: str | None = None
    models: list[str] = field(default_factory=list)
    last: datetime | None = None


def _thread(source: SourceFile, log: ChatLog, blobs: BlobStore) -> LinkedThreadContent:
    facts = _Facts()
    items: list[Item] = []
    results_seen: set[str] = set()
    # A rewind or replaced list drops messages; those that came back later are not lost.
    notes = []
    for position, note in sorted(log.notes, key=lambda n: n[0]):
        data = dict(note.data or {})
        dropped = [m for m in data.get("dropped", []) if m not in log.messages]
        if dropped or note.subtype == "rewind":
            data["dropped"] = dropped
            notes.append((position, note.model_copy(update={"data": data})))
    for position, held in enumerate(log.messages.values()):
        while notes and notes[0][0] <= position:
            items.append(notes.pop(0)[1])
        try:
            items.extend(_message(held, blobs, facts, results_seen))
        except (RecordShapeError, TypeError, ValueError, KeyError, AttributeError) as exc:
            log.problems.append(
                Problem(
                    log.path,
                    held.line.number,
                    f"message {held.record.get('id')}: unexpected shape: {exc}",
                )
            )
            items.append(
                Unknown(
                    line=held.line.number,
                    record_type=f"message:{held.record.get('type')}",
                    record=held.line.ref(held.pointer, 0),
                )
            )
    items.extend(n for _, n in notes)
    meta = log.metadata
    path = source.path
    parent_path = parent_chat(path) if is_subagent_file(path) else None
    parent_id = os.path.basename(os.path.dirname(path)) if is_subagent_file(path) else None
    summary_title = _summary_text(meta.get("summary"))
    title, title_source = choose_title(None, summary_title, facts.first_prompt or "")
    directories = meta.get("directories")
    cwd = project_root(path) or (
        directories[0]
        if isinstance(directories, list) and directories and isinstance(directories[0], str)
        else None
    )
    started = log.started or iso_time(meta.get("startTime"))
    updated = max((t for t in (iso_time(meta.get("lastUpdated")), facts.last) if t), default=None)
    return LinkedThreadContent(
        source=TranscriptSource(agent=AGENT, path=path, session_id=as_str(meta.get("sessionId"))),
        summary=ThreadSummary(
            title=title,
            title_source=title_source,
            preview=first_line(facts.first_prompt or ""),
            first_user_message=truncate(facts.first_prompt or "", FIRST_MESSAGE_CHARS),
            cwd=cwd,
            git=git_info(cwd) if cwd else None,
            models=facts.models,
            created_at=started,
            updated_at=updated,
        ),
        items=items,
        parent_conversation_id=parent_id,  # its thread: the application's (ADR 0011)
        conversation_id=as_str(meta.get("sessionId")),
        lineage=Lineage(
            kind="subagent", agent=AGENT, conversation_id=parent_id, source_path=parent_path
        )
        if parent_id
        else None,
    )


def _message(held: _Held, blobs: BlobStore, facts: _Facts, results_seen: set[str]) -> list[Item]:
    m, line, base = held.record, held.line, held.pointer
    kind = m.get("type")
    mid = as_str(m.get("id"))
    ts = iso_time(m.get("timestamp"))
    if ts is not None and (facts.last is None or ts > facts.last):
        facts.last = ts
    prov: dict[str, Any] = {"line": line.number, "timestamp": ts, "uuid": mid}
    content = m.get("content")
    parts = (
        [{"text": content}]
        if isinstance(content, str)
        else content
        if isinstance(content, list)
        else []
    )
    if content is not None and not isinstance(content, str | list):
        parts = [content]
    cpointer = f"{base}/content"
    if kind == "user":
        out: list[Item] = []
        texts: list[Text] = []
        raw_texts: list[str] = []
        for i, part in enumerate(parts):
            pp = cpointer if isinstance(content, str) else f"{cpointer}/{i}"
            if not isinstance(part, dict):
                continue
            if isinstance(part.get("text"), str):
                texts.append(
                    line.text(part["text"], pp if isinstance(content, str) else f"{pp}/text")
                )
                raw_texts.append(part["text"])
            elif isinstance(part.get("inlineData"), dict):
                image = base64_image(
                    part["inlineData"].get("data"), part["inlineData"].get("mimeType"), blobs
                )
                if image is not None:
                    out.append(Image(**prov, image=image))
            elif isinstance(part.get("functionResponse"), dict):
                response = part["functionResponse"]
                call = as_str(response.get("id")) or ""
                if call and call in results_seen:
                    continue  # the tool call's own record (or an earlier copy) holds it
                results_seen.add(call)
                out.append(
                    ToolResult(
                        **prov,
                        call_id=call,
                        output=_response_output(response, line, f"{pp}/functionResponse/response"),
                    )
                )
            else:
                out.append(Unknown(**prov, record_type="part", record=line.ref(pp, 0)))
        joined = "".join(raw_texts)
        if texts:
            injected = joined.lstrip().startswith(INJECTED_PREFIXES)
            # The CLI's context message has the same id in every chat (a hash of its
            # text): not a line id another conversation could repeat (ADR 0011).
            own = {**prov, "uuid": None} if injected else prov
            out.insert(0, UserMessage(**own, parts=texts, meta=injected))
            if (
                not injected
                and facts.first_prompt is None
                and joined.strip()
                and not joined.lstrip().startswith(("/", "?"))
            ):
                facts.first_prompt = joined.strip()
        return out
    if kind == "gemini":
        out = []
        for i, thought in enumerate(m.get("thoughts") or []):
            if not isinstance(thought, dict):
                continue
            subject, description = (
                as_str(thought.get("subject")),
                as_str(thought.get("description")) or "",
            )
            text = f"**{subject}** {description}" if subject else description
            out.append(
                Reasoning(
                    line=line.number,
                    timestamp=iso_time(thought.get("timestamp")) or ts,
                    uuid=mid,
                    message_id=mid,
                    text=line.text(text, f"{base}/thoughts/{i}/description")
                    if not subject
                    else text,
                )
            )
        texts = []
        calls: list[Item] = []
        for i, part in enumerate(parts):
            pp = cpointer if isinstance(content, str) else f"{cpointer}/{i}"
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                ref = line.text(part["text"], pp if isinstance(content, str) else f"{pp}/text")
                if part.get("thought"):
                    out.append(Reasoning(**prov, message_id=mid, text=ref))
                elif part["text"]:
                    texts.append(ref)
            elif isinstance(part, dict) and isinstance(part.get("functionCall"), dict):
                # A resumed chat rewrites its history in the model's own shape.
                fc = part["functionCall"]
                value, ref_ = line.json(fc.get("args"), f"{pp}/functionCall/args")
                calls.append(
                    ToolCall(
                        **prov,
                        message_id=mid,
                        call_id=as_str(fc.get("id")) or f"{mid}:{i}",
                        name=as_str(fc.get("name")) or "",
                        input=value,
                        input_ref=ref_,
                    )
                )
            elif isinstance(part, dict):
                calls.append(Unknown(**prov, record_type="part", record=line.ref(pp, 0)))
        model = as_str(m.get("model")) or as_str(held.carried.get("model"))
        if model and model not in facts.models:
            facts.models.append(model)
        usage = _usage(m.get("tokens", held.carried.get("tokens")))
        out.append(AssistantMessage(**prov, message_id=mid, model=model, parts=texts, usage=usage))
        out.extend(calls)
        for i, call in enumerate(m.get("toolCalls") or []):
            if not isinstance(call, dict):
                continue
            cp = f"{base}/toolCalls/{i}"
            call_id = as_str(call.get("id")) or f"{mid}:{i}"
            value, args_ref = line.json(call.get("args"), f"{cp}/args")
            cts = iso_time(call.get("timestamp")) or ts
            out.append(
                ToolCall(
                    line=line.number,
                    timestamp=cts,
                    uuid=mid,
                    message_id=mid,
                    call_id=call_id,
                    name=as_str(call.get("name")) or "",
                    input=value,
                    input_ref=args_ref,
                )
            )
            status = as_str(call.get("status"))
            if call_id in results_seen:
                continue
            if "result" in call and call.get("result") is not None:
                results_seen.add(call_id)
                out.append(
                    ToolResult(
                        line=line.number,
                        timestamp=cts,
                        call_id=call_id,
                        output=_call_output(call.get("result"), line, f"{cp}/result"),
                        is_error=status in ("error", "cancelled"),
                    )
                )
            elif status in ("error", "cancelled"):
                results_seen.add(call_id)
                out.append(
                    ToolResult(
                        line=line.number,
                        timestamp=cts,
                        call_id=call_id,
                        output=line.text(
                            as_str(call.get("resultDisplay")) or status, f"{cp}/resultDisplay"
                        )
                        if isinstance(call.get("resultDisplay"), str)
                        else status,
                        is_error=True,
                    )
                )
        return out
    if kind in ("info", "error", "warning"):
        text = "".join(
            p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
        return [SystemNote(**prov, subtype=kind, text=text or None, level=kind)]
    return [Unknown(**prov, record_type=f"message:{kind}", record=line.ref(base, 0))]


def _summary_text(summary: Any) -> str | None:
    """The chat's summary as a title: a sub-agent's is its JSON report, whose summary
    field (or first text) says it best."""
    text = as_str(summary)
    if not text or not text.lstrip().startswith("{"):
        return text
    try:
        report = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
    if not isinstance(report, dict):
        return text
    texts = [
        (("summary" not in k.lower()), v)
        for k, v in report.items()
        if isinstance(v, str) and v.strip()
    ]
    return min(texts, key=lambda t: t[0])[1] if texts else None


def _response_output(response: dict[str, Any], line: LineAt, pointer: str) -> Text:
    body = response.get("response")
    if isinstance(body, dict):
        for key in ("output", "error", "content"):
            if isinstance(body.get(key), str):
                return line.text(body[key], f"{pointer}/{pointer_token(key)}")
        return orjson.dumps(body).decode()
    return str(body) if body is not None else ""


def _call_output(result: Any, line: LineAt, pointer: str) -> Text | list[ResultBlock]:
    if isinstance(result, str):
        return line.text(result, pointer)
    if not isinstance(result, list):
        return orjson.dumps(result).decode()
    blocks: list[ResultBlock] = []
    for i, part in enumerate(result):
        pp = f"{pointer}/{i}"
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("functionResponse"), dict):
            blocks.append(
                TextBlock(
                    text=_response_output(
                        part["functionResponse"], line, f"{pp}/functionResponse/response"
                    )
                )
            )
        elif isinstance(part.get("text"), str):
            blocks.append(TextBlock(text=line.text(part["text"], f"{pp}/text")))
        else:
            blocks.append(OtherBlock(block_type=next(iter(part), "part"), block=line.ref(pp, 0)))
    if len(blocks) == 1 and isinstance(blocks[0], TextBlock):
        return blocks[0].text
    return blocks


def _usage(tokens: Any) -> Usage | None:
    if not isinstance(tokens, dict):
        return None
    return Usage.model_validate(
        {
            "input_tokens": tokens.get("input"),
            "output_tokens": tokens.get("output"),
            "cache_read_input_tokens": tokens.get("cached"),
            "thoughts_tokens": tokens.get("thoughts"),
            "tool_tokens": tokens.get("tool"),
            "total_tokens": tokens.get("total"),
        }
    )
