"""What the application needs from the world, as protocols the adapters implement."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol
from uuid import UUID

from threadline.application.sources import (
    ConversationOf,
    Problem,
    SourceFile,
    conversation_of,
    name_conversations,
    names_conversations,
)
from threadline.domain.items import Item
from threadline.domain.ledger import MetaFile, SourcePage, SourceVersion
from threadline.domain.session import ThreadSummary, TranscriptSource

__all__ = [
    "ConversationOf",
    "Problem",
    "SourceFile",
    "conversation_of",
    "name_conversations",
    "names_conversations",
]


class BlobStore(Protocol):
    """Immutable, content-addressed bytes (keyed by sha256 hex)."""

    def put(self, data: bytes) -> str: ...

    def get(self, key: str) -> bytes: ...


class Page(Protocol):
    """A blob read by ranges: ``page[a:b]`` reads (decompresses) only what it needs."""

    def __getitem__(self, span: slice, /) -> bytes: ...

    def __len__(self) -> int: ...

    def __bytes__(self) -> bytes: ...


class PagedBlobStore(BlobStore, Protocol):
    def page(self, key: str) -> Page: ...


@dataclass(frozen=True)
class ResumePoint:
    """Where the previous import of a source stopped."""

    consumed_bytes: int
    consumed_sha256: str
    consumed_lines: int
    sidechain_lines: dict[str, str] = field(default_factory=dict)
    """Inline sidechain lines already imported: uuid -> the uuid of their chain's first line."""
    pages: list[SourcePage] = field(default_factory=list)
    """The bytes this point stands for, from the first line: a source whose bytes do not
    continue them is compared with them (is it an older prefix?)."""


LineageKind = Literal["subagent", "fork", "imported"]


@dataclass(frozen=True)
class Lineage:
    """How a conversation is related to another one, as its agent says (ADR 0013)."""

    kind: LineageKind
    agent: str
    """The agent of the other conversation."""
    conversation_id: str | None = None
    """The other conversation's id in its agent (a Codex thread id, a Claude session id…)."""
    source_path: str | None = None
    """Where the other conversation was read from, when known."""


@dataclass
class ThreadContent:
    """One thread's share of a transcript: who it is and its items."""

    source: TranscriptSource
    summary: ThreadSummary
    items: list[Item]
    parent_thread_id: UUID | None = None
    spawned_by_call_id: str | None = None
    parent_conversation_id: str | None = None
    """A sub-agent transcript's parent conversation, by the agent's own id: the
    application names its thread (ADR 0011)."""
    conversation_id: str | None = None
    """The agent's own id of this conversation, when it has its own thread."""
    read_from: list[str] = field(default_factory=list)
    """For a conversation copied into another's lines (a sub-agent's ``agent_progress``):
    the uuids of the lines it was read from."""
    lineage: Lineage | None = None
    """How this conversation is related to another (a sub-agent, a fork, a copy another
    agent imported); its parent's thread comes from ``parent_conversation_id``."""


ReadMode = Literal["full", "append", "replace"]
""""full": a first read, from the start; "append": read after the resume point;
"replace": read from the start again because the source no longer continues the
version imported before (rewritten), so its history is replaced."""


@dataclass
class ReadTranscript:
    """What one pass over a source produced."""

    version: SourceVersion
    mode: ReadMode
    pages: list[SourcePage]
    main: ThreadContent | None
    """None when nothing in the file is a transcript record."""
    sidechains: dict[str, ThreadContent] = field(default_factory=dict)
    """Sub-agent conversations written inline, by the uuid of their first line."""
    problems: list[Problem] = field(default_factory=list)
    sidechain_lines: dict[str, str] = field(default_factory=dict)
    """Every inline sidechain line read so far, for the next import to continue its chain."""
    conversation_id: str | None = None
    """The agent's own id of the conversation the source holds (ADR 0011); None when it
    has none, and the source is then a conversation of its own, named by its path."""
    prefix_of_resume: bool = False
    """Read in full because its bytes do not continue the resume point's, and they are a
    prefix of them: an older copy of what the thread holds."""
    mirrored: dict[str, ThreadContent] = field(default_factory=dict)
    """Sub-agent conversations known only from the parent's progress lines, by their
    conversation id: each is a child thread unless its own transcript was imported."""
    copy_of: str | None = None
    """The id of the thread this source is an export of (``threadline export``), when
    nothing was added to it since: with that thread in the store, the location is
    recorded as known to it."""
    meta: MetaFile | None = None
    """The file the agent keeps beside the source (Claude Code's sub-agent
    ``agent-<id>.meta.json``), its bytes stored: restore writes it back."""


class SourceReader(Protocol):
    """Reads one location of a conversation: what an importer needs."""

    def read(
        self, source: SourceFile, resume: ResumePoint | None, blobs: BlobStore
    ) -> ReadTranscript:
        """Read ``source`` from ``resume`` (after the bytes its conversation's thread holds)
        when it continues them, else from its start; its pages go to ``blobs``."""
        ...


class TranscriptReader(SourceReader, Protocol):
    """One agent's reader (``adapters/<agent>/reader.py``)."""

    agent: str

    def conversation_of(self, path: str) -> str | None: ...

    def discover(self, paths: Iterable[str]) -> tuple[list[SourceFile], list[Problem]]: ...


class AgentSource(TranscriptReader, Protocol):
    """The source port: one agent, as the import sees it (ADR 0013).

    Where its transcripts live (``default_roots``), which paths are its
    (``recognises``, by their shape), the locations under some paths (``discover``:
    each a ``SourceFile`` with a size and mtime for the cheap skip), the conversation a
    location holds when its path says (``conversation_of``: the agent's own id, ADR
    0011), reading a location from a resume point (``read``: items, its conversation
    id, its parent's conversation id and its lineage in the ``ThreadContent``), and
    whether a location the ledger knows is gone (``is_gone``).
    ``adapters/sources.py`` lists the agents.
    """

    def default_roots(self) -> list[str]:
        """The agent's homes, from its own environment variables, else its defaults."""
        ...

    def recognises(self, path: str) -> bool:
        """Whether ``path`` is shaped like this agent's home, a directory in it, or a file."""
        ...

    def is_gone(self, path: str) -> bool:
        """Whether a location this agent recorded is no longer there."""
        ...
