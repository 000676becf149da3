"""Reading a thread's history back, with every referenced value restored in full."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import orjson

if TYPE_CHECKING:  # kept light: ``search`` reads item texts without the domain's imports
    from threadline.application.ports import BlobStore, Page


class SourceLines:
    """Reads values that items left in their source lines (``SourceRef``s).

    Keeps the few most recent pages in memory: a history is read in order, and
    consecutive items come from the same page. A store that reads blobs by ranges
    (``page(key)``, compressed pages) decompresses only the part of a page a line needs.
    """

    def __init__(self, blobs: BlobStore, cached_pages: int = 4) -> None:
        self.blobs = blobs
        self._pages: OrderedDict[str, Page | bytes] = OrderedDict()
        self._cached_pages = cached_pages
        self._open: Callable[[str], Page | bytes] = getattr(blobs, "page", blobs.get)

    def page(self, key: str) -> Page | bytes:
        if key in self._pages:
            self._pages.move_to_end(key)
            return self._pages[key]
        data = self._open(key)
        self._pages[key] = data
        if len(self._pages) > self._cached_pages:
            self._pages.popitem(last=False)
        return data

    def line(self, key: str, offset: int, length: int) -> bytes:
        """The bytes of one source line; an adapter may read them without the whole page."""
        return self.page(key)[offset : offset + length]

    def value(self, ref: dict[str, Any]) -> Any:
        line = ref["line"]
        raw = self.line(line["blob"], line["offset"], line["length"])
        if raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError:
            record = orjson.loads(raw.decode("utf-8", "replace"))
        return follow_pointer(record, ref["pointer"])

    def resolve(self, value: Any) -> Any:
        """``value`` with every SourceRef in it replaced by what it points at."""
        if isinstance(value, dict):
            if value.get("kind") == "source-ref" and "pointer" in value:
                return self.value(value)
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value


def follow_pointer(document: Any, pointer: str) -> Any:
    """RFC 6901."""
    if pointer == "":
        return document
    for token in pointer.lstrip("/").split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        document = document[int(token)] if isinstance(document, list) else document[token]
    return document


class HistoryRows(Protocol):
    def history(
        self, thread_id: str, start: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]: ...

    def event_states(self, notification_ids: Sequence[int]) -> dict[int, bytes]: ...


def thread_items(
    rows: HistoryRows,
    decode: Callable[[bytes], dict[str, Any]],
    lines: SourceLines,
    thread_id: str,
    start: int = 0,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """A thread's items in order from position ``start`` (at most ``limit``), each in full
    and with its position."""
    history = rows.history(thread_id, start, limit)
    states = rows.event_states(sorted({r["notification_id"] for r in history}))
    events: dict[int, list[dict[str, Any]]] = {}
    items = []
    for r in history:
        n = r["notification_id"]
        if n not in events:
            events[n] = decode(states[n])["items"]
        item = events[n][r["item_index"]]
        items.append(full_item(item, lines) | {"position": r["position"]})
    return items


def full_item(item: dict[str, Any], lines: SourceLines) -> dict[str, Any]:
    """An item as stored in history, with referenced values read back in full."""
    resolved: dict[str, Any] = lines.resolve(item)
    if resolved.get("input_ref") is not None:
        resolved["input"] = resolved["input_ref"]
    resolved.pop("input_ref", None)
    return resolved


def searchable_text(item: dict[str, Any]) -> list[Any]:
    """The pieces of an item worth finding it by: texts, or ``SourceRef``s to texts."""
    kind = item["type"]
    if kind in ("user", "assistant"):
        return list(item["parts"])
    if kind == "reasoning":
        return [] if item.get("redacted") else [item["text"]]
    if kind == "tool_call":
        call_input = item.get("input_ref") or orjson.dumps(item.get("input")).decode()
        return [item["name"], call_input]
    if kind == "tool_result":
        output = item["output"]
        if isinstance(output, list):
            return [b["text"] for b in output if b.get("kind") == "text"]
        return [output]
    if kind == "system":
        return [item["text"]] if item.get("text") else []
    return []


def item_text(pieces: Sequence[Any], lines: SourceLines) -> str:
    """The text an item is indexed by (and its search snippet is cut from): all of it, as
    the end of a long log is where its error is."""
    texts = []
    for piece in pieces:
        if isinstance(piece, dict):
            piece = lines.value(piece)
        texts.append(piece if isinstance(piece, str) else orjson.dumps(piece).decode())
    return "\n".join(texts)
