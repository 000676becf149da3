"""What the application needs from the world, as protocols the adapters implement."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol
from uuid import UUID

from threadline.application.sources import Problem, SourceFile
from threadline.domain.items import Item
from threadline.domain.ledger import SourcePage, SourceVersion
from threadline.domain.session import ThreadSummary, TranscriptSource

__all__ = ["Problem", "SourceFile"]


class BlobStore(Protocol):
    """Immutable, content-addressed bytes (keyed by sha256 hex)."""

    def put(self, data: bytes) -> str: ...

    def get(self, key: str) -> bytes: ...


@dataclass(frozen=True)
class ResumePoint:
    """Where the previous import of a source stopped."""

    consumed_bytes: int
    consumed_sha256: str
    consumed_lines: int
    sidechain_lines: dict[str, str] = field(default_factory=dict)
    """Inline sidechain lines already imported: uuid -> the uuid of their chain's first line."""


@dataclass
class ThreadContent:
    """One thread's share of a transcript: who it is and its items."""

    source: TranscriptSource
    summary: ThreadSummary
    items: list[Item]
    parent_thread_id: UUID | None = None
    spawned_by_call_id: str | None = None


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


class TranscriptReader(Protocol):
    agent: str

    def discover(self, paths: Iterable[str]) -> tuple[list[SourceFile], list[Problem]]: ...

    def read(
        self, source: SourceFile, resume: ResumePoint | None, blobs: BlobStore
    ) -> ReadTranscript: ...
