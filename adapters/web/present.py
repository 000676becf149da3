"""A thread's items as the page shows them: tool calls paired with their results,
long texts cut to what a page holds, sizes and one-line previews.

Plain data for the templates: every string here is transcript content and is
escaped by the templates (Jinja2 autoescape), never marked safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

INLINE_CHARS = 16_384
"""A text longer than this shows its start in the page; the rest is fetched on demand."""
PREVIEW_CHARS = 160

Row = dict[str, Any]


@dataclass
class Body:
    """A text as the page holds it: whole, or its first ``INLINE_CHARS`` characters."""

    text: str
    chars: int
    size: int
    """UTF-8 bytes of the whole text."""
    lines: int

    @property
    def cut(self) -> bool:
        return len(self.text) < self.chars

    @classmethod
    def of(cls, text: str, limit: int | None) -> Body:
        shown = text if limit is None or len(text) <= limit else text[:limit]
        size = len(text) if text.isascii() else len(text.encode("utf-8", "replace"))
        return cls(shown, len(text), size, text.count("\n") + 1 if text else 0)


@dataclass
class Entry:
    position: int
    kind: str
    """user, assistant, reasoning, tool (a call and its result), result (a result whose
    call is not on the page), image, system, compaction, unknown."""
    timestamp: str | None
    parts: list[Body] = field(default_factory=list)
    model: str | None = None
    usage: dict[str, Any] | None = None
    label: str = ""
    meta: bool = False
    redacted: bool = False
    name: str = ""
    call_id: str = ""
    preview: str = ""
    input: Body | None = None
    result: Entry | None = None
    is_error: bool = False
    images: list[dict[str, Any]] = field(default_factory=list)
    subagent: Row | None = None
    """The sub-agent thread this tool call spawned."""
    subagent_entries: list[Entry] | None = None
    """Its items, when rendered in place (the export)."""

    @property
    def size(self) -> int:
        body = self.parts[0] if self.parts else None
        return body.size if body else 0


def entries(
    items: list[Row], subagents: dict[str, Row] | None = None, limit: int | None = INLINE_CHARS
) -> list[Entry]:
    """The page's entries for these items, in order; each result goes with its call when
    both are here (a result whose call is elsewhere stands alone)."""
    subagents = subagents or {}
    calls = {i["call_id"] for i in items if i["type"] == "tool_call"}
    results = {
        i["call_id"]: i for i in items if i["type"] == "tool_result" and i["call_id"] in calls
    }
    out = []
    for item in items:
        kind = item["type"]
        if kind == "tool_result" and item["call_id"] in calls:
            continue  # shown with its call
        entry = entry_for(item, limit)
        if kind == "tool_call":
            found = results.get(item["call_id"])
            entry.result = entry_for(found, limit) if found is not None else None
            entry.subagent = subagents.get(item["call_id"])
        out.append(entry)
    return out


def entry_for(item: Row, limit: int | None) -> Entry:
    kind = item["type"]
    entry = Entry(item["position"], kind, item.get("timestamp"))
    if kind in ("user", "assistant"):
        entry.parts = [Body.of(_text(p), limit) for p in item["parts"]]
        entry.meta = bool(item.get("meta"))
        entry.model = item.get("model")
        entry.usage = _usage(item.get("usage"))
    elif kind == "reasoning":
        entry.redacted = bool(item.get("redacted"))
        entry.parts = [Body.of("" if entry.redacted else _text(item["text"]), limit)]
    elif kind == "tool_call":
        entry.kind = "tool"
        entry.name = str(item["name"])
        entry.call_id = str(item["call_id"])
        value = item.get("input")
        entry.input = Body.of(_json(value), limit)
        entry.preview = _preview(value)
    elif kind == "tool_result":
        entry.kind = "result"
        entry.call_id = str(item["call_id"])
        entry.is_error = bool(item.get("is_error"))
        entry.parts = [Body.of(result_text(item), limit)]
        output = item["output"]
        if isinstance(output, list):
            entry.images = [b for b in output if b.get("kind") == "image"]
        entry.preview = _one_line(entry.parts[0].text)
    elif kind == "image":
        entry.images = [item["image"]]
    elif kind == "system":
        subtype = str(item.get("subtype") or "")
        entry.label = subtype
        if subtype in ("compact_boundary", "compact_summary"):
            entry.kind = "compaction"
        entry.parts = [Body.of(_text(item.get("text") or ""), limit)]
    else:
        entry.kind = "unknown"
        entry.label = str(item.get("record_type") or kind)
    return entry


def full_text(item: Row) -> str:
    """The whole text of an item, as the page's "load the rest" continues it."""
    kind = item["type"]
    if kind == "tool_call":
        return _json(item.get("input"))
    if kind == "tool_result":
        return result_text(item)
    if kind in ("user", "assistant"):
        return "\n\n".join(_text(p) for p in item["parts"])
    if kind == "reasoning":
        return "" if item.get("redacted") else _text(item["text"])
    if kind == "system":
        return _text(item.get("text") or "")
    return ""


def part_text(item: Row, part: int) -> str:
    """The whole text of one of an item's parts (a message's parts are shown apart)."""
    if item["type"] in ("user", "assistant"):
        return _text(item["parts"][part])
    return full_text(item)


def result_text(item: Row) -> str:
    output = item["output"]
    if isinstance(output, str):
        return output
    return "\n".join(
        _text(b["text"]) if b.get("kind") == "text" else f"[{b.get('kind')}]"
        for b in output
        if b.get("kind") != "image"
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def _preview(value: Any) -> str:
    """A tool call's input on one line: its one telling field, else compact JSON."""
    if isinstance(value, dict):
        for key in ("command", "file_path", "path", "pattern", "url", "description", "query"):
            if isinstance(value.get(key), str):
                return _one_line(value[key])
    return _one_line(orjson.dumps(value).decode())


def _one_line(text: str) -> str:
    line = " ".join(text[: PREVIEW_CHARS * 4].split())
    return line if len(line) <= PREVIEW_CHARS else line[: PREVIEW_CHARS - 1] + "…"


def _usage(usage: Any) -> dict[str, Any] | None:
    if not isinstance(usage, dict):
        return None
    shown = {
        "in": usage.get("input_tokens"),
        "out": usage.get("output_tokens"),
        "cache read": usage.get("cache_read_input_tokens"),
        "cache write": usage.get("cache_creation_input_tokens"),
    }
    return {k: v for k, v in shown.items() if isinstance(v, int)} or None


def human_size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 1024 / 1024:.1f} MiB"


def when(value: str | None) -> str:
    return value[:19].replace("T", " ") if value else ""


class ListRow(NamedTuple):
    """One row of the thread list, every cell a plain string (rendering 1,000 rows stays
    cheap: attribute access on a tuple, no filters per cell)."""

    thread_id: str
    short_id: str
    title: str
    under: str
    cwd: str
    branch: str
    updated: str
    created: str
    items: int
    depth: int


def list_rows(rows: list[tuple[Row, int]]) -> list[ListRow]:
    out = []
    for row, depth in rows:
        models = row["models"]
        under = row["source_agent"] + (" · " + ", ".join(models) if models else "")
        out.append(
            ListRow(
                row["thread_id"],
                row["thread_id"][:8],
                row["title"],
                under,
                row["cwd"] or "",
                row["git_branch"] or "",
                when(row["updated_at"]),
                when(row["created_at"]),
                row["item_count"],
                min(depth, 3),
            )
        )
    return out
