"""Conversation items: the typed values a thread's history is made of.

Small values sit in the item itself. Bulk content stays where the import put
it: the raw source line lives in a content-addressed blob (see ADR 0001), and an
item field too large to inline holds a ``SourceRef`` that names the line and a
JSON pointer into it. Images are stored once by the hash of their bytes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from threadline.domain.base import Immutable


class LineRef(Immutable):
    """Where the raw bytes of one source line are kept: a slice of a blob."""

    blob: str
    offset: int
    length: int


class SourceRef(Immutable):
    """A value too large to inline, read back from its source line.

    ``pointer`` is an RFC 6901 JSON pointer into the line's record;
    ``size`` is the value's length in characters (text) or bytes (JSON).
    """

    kind: Literal["source-ref"] = "source-ref"
    line: LineRef
    pointer: str
    size: int


Text = str | SourceRef
"""A text that is either inline or left in its source line."""


class ItemBase(Immutable):
    """What every item carries: when it happened and where it came from."""

    line: int
    timestamp: datetime | None = None
    uuid: str | None = None
    parent_uuid: str | None = None


class UserMessage(ItemBase):
    type: Literal["user"] = "user"
    parts: list[Text]
    meta: bool = False
    """Harness-injected content (slash-command expansions, caveats), not typed by the user."""


class Usage(Immutable):
    model_config = Immutable.model_config | {"extra": "allow"}

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


class AssistantMessage(ItemBase):
    type: Literal["assistant"] = "assistant"
    message_id: str | None = None
    model: str | None = None
    parts: list[Text]
    usage: Usage | None = None
    stop_reason: str | None = None
    fragments: int = 1
    """How many source lines (streamed fragments sharing ``message_id``) were merged."""


class Reasoning(ItemBase):
    type: Literal["reasoning"] = "reasoning"
    message_id: str | None = None
    text: Text
    signature: str | None = None
    """Opaque; kept, never interpreted."""
    redacted: bool = False


class ToolCall(ItemBase):
    type: Literal["tool_call"] = "tool_call"
    message_id: str | None = None
    call_id: str
    name: str
    input: Any = None
    input_ref: SourceRef | None = None
    """Set instead of ``input`` when the input JSON is too large to inline."""


class ImageRef(Immutable):
    """An image stored once, by the sha256 of its decoded bytes."""

    kind: Literal["image"] = "image"
    media_type: str
    blob: str
    size: int


class TextBlock(Immutable):
    kind: Literal["text"] = "text"
    text: Text


class OtherBlock(Immutable):
    kind: Literal["other"] = "other"
    block_type: str
    block: SourceRef


ResultBlock = Annotated[TextBlock | ImageRef | OtherBlock, Field(discriminator="kind")]


class ToolResult(ItemBase):
    type: Literal["tool_result"] = "tool_result"
    call_id: str
    output: Text | list[ResultBlock]
    is_error: bool = False
    agent_id: str | None = None
    """The sub-agent this result came from, when the tool spawned one."""


class Image(ItemBase):
    type: Literal["image"] = "image"
    image: ImageRef


class SystemNote(ItemBase):
    """Harness notes: compaction boundary and summary, local command output, hooks, titles."""

    type: Literal["system"] = "system"
    subtype: str
    text: Text | None = None
    level: str | None = None
    data: dict[str, Any] | None = None


class Unknown(ItemBase):
    """A record of a type the importer does not model, kept whole."""

    type: Literal["unknown"] = "unknown"
    record_type: str
    record: SourceRef


Item = Annotated[
    UserMessage
    | AssistantMessage
    | Reasoning
    | ToolCall
    | ToolResult
    | Image
    | SystemNote
    | Unknown,
    Field(discriminator="type"),
]
