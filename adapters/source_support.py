"""What the agent adapters share: referencing values in their stored source lines,
timestamps, images, and the lineage of a conversation.

A reader says the conversation's own id in its agent and how it is related to
another conversation (a sub-agent, a fork, a copy another agent imported) in the
port's ``ThreadContent`` (``conversation_id``, ``parent_conversation_id``,
``lineage``); ``Lineage`` and ``LinkedThreadContent`` are kept here under their
first names.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

import orjson

from threadline.application.ports import BlobStore, Lineage, LineageKind, ThreadContent
from threadline.domain.items import ImageRef, LineRef, SourceRef, Text

INLINE_TEXT_CHARS = 2048
"""Longer texts stay in their source line and are referenced (ADR 0001)."""
INLINE_JSON_BYTES = 4096


class RecordShapeError(ValueError):
    """A record whose fields do not have the shape the format says."""


class LineAt:
    """One stored source line: its number and where its bytes are (a blob slice)."""

    __slots__ = ("_ref", "blob", "length", "number", "offset")

    def __init__(self, number: int, blob: str, offset: int, length: int) -> None:
        self.number = number
        self.blob = blob
        self.offset = offset
        self.length = length
        self._ref: LineRef | None = None

    def ref(self, pointer: str, size: int) -> SourceRef:
        if self._ref is None:
            self._ref = LineRef(blob=self.blob, offset=self.offset, length=self.length)
        return SourceRef(line=self._ref, pointer=pointer, size=size)

    def text(self, value: Any, pointer: str) -> Text:
        """A text inline, or a reference to it when it is long."""
        if value is None:
            return ""
        if not isinstance(value, str):
            raise RecordShapeError(f"'{pointer}' should be a string, not {type(value).__name__}")
        if len(value) <= INLINE_TEXT_CHARS or self.length <= INLINE_TEXT_CHARS:
            return value
        return self.ref(pointer, len(value))

    def json(self, value: Any, pointer: str) -> tuple[Any, SourceRef | None]:
        """(value, None) when small, else (None, a reference to it)."""
        if self.length <= INLINE_JSON_BYTES:
            return value, None
        size = len(orjson.dumps(value))
        if size <= INLINE_JSON_BYTES:
            return value, None
        return None, self.ref(pointer, size)

    def small(self, value: Any) -> Any:
        """``value`` if it is small enough to copy into an item, else None (it stays in
        the raw line, which is always kept)."""
        if value is None:
            return None
        return value if len(orjson.dumps(value)) <= INLINE_JSON_BYTES else None


def pointer_token(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def iso_time(value: Any) -> datetime | None:
    """An RFC 3339 time with a zone (``Z`` accepted), else None."""
    if not isinstance(value, str):
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        return None
    return ts if ts.tzinfo is not None else None


def epoch_time(value: Any, unit: float = 1.0) -> datetime | None:
    """Seconds (``unit=1``) or milliseconds (``unit=1000``) since the epoch, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value / unit, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def data_url_image(url: Any, blobs: BlobStore) -> ImageRef | None:
    """A ``data:<type>;base64,<data>`` URL decoded and stored once, else None."""
    if not isinstance(url, str) or not url.startswith("data:") or ";base64," not in url:
        return None
    head, _, data = url.partition(";base64,")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None
    return ImageRef(
        media_type=head[5:] or "application/octet-stream", blob=blobs.put(raw), size=len(raw)
    )


def base64_image(data: Any, media_type: Any, blobs: BlobStore) -> ImageRef | None:
    if not isinstance(data, str):
        return None
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None
    kind = media_type if isinstance(media_type, str) and media_type else "application/octet-stream"
    return ImageRef(media_type=kind, blob=blobs.put(raw), size=len(raw))


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


LinkedThreadContent = ThreadContent
"""A thread's share of a source with its own id in its agent and its lineage: the port's
``ThreadContent`` carries both (``conversation_id``, ``lineage``)."""

__all__ = ["Lineage", "LineageKind", "LinkedThreadContent"]
