"""The import ledger: one ``Import`` aggregate per external source.

Its id is a uuid5 of the agent and the source's canonical identity, so every
importer computes the same one. Each ``LedgerRecorded`` says which version of
the source (size, mtime, sha256, bytes and items consumed) is now in which
thread; it is saved in the same atomic unit as that thread's events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from eventsourcing.domain import event

from threadline.domain.base import Aggregate, Immutable
from threadline.domain.identity import import_id

Outcome = Literal[
    "imported",
    "appended",
    "replaced",
    "rejected",
    "known",
    "behind",
    "diverged_newer",
    "diverged_older",
]
"""What one version of a location did to its conversation's thread (ADR 0011):

- ``imported``: a conversation seen for the first time; its thread was created.
- ``appended``: the location's bytes continue what the thread holds; the rest was added.
- ``replaced``: the location that fed the thread was rewritten; its history replaced.
- ``rejected``: nothing in the file is a transcript.
- ``known``: the thread already holds every byte of it (a copy, or a moved file).
- ``behind``: an older prefix of what the thread holds (a backup): nothing new.
- ``diverged_newer``: another location's version diverged from this one, and this one
  ends later (by the transcript's own last timestamp): the thread now holds it, the
  replaced lines stay in the thread's event history.
- ``diverged_older``: diverged, and ends no later than what the thread holds: the
  thread keeps its content; this version's bytes stay in the ledger's pages.
"""
FEEDS_THREAD: frozenset[str] = frozenset({"imported", "appended", "replaced", "diverged_newer"})
"""The outcomes after which the thread holds this location's version."""


class Divergence(Immutable):
    """How a location's version differs from the one its thread kept or dropped."""

    other_path: str | None
    """The location whose version the thread held when this one was read."""
    this_last_timestamp: datetime | None
    other_last_timestamp: datetime | None


class SourceVersion(Immutable):
    """One version of a source file, as the importer read it."""

    size: int
    mtime_ns: int
    sha256: str
    """Of the whole file as read."""
    consumed_bytes: int
    """The prefix made of complete lines; a torn last line is left for later."""
    consumed_sha256: str
    consumed_lines: int


class SourcePage(Immutable):
    """A run of whole source lines, stored as one content-addressed blob."""

    blob: str
    first_line: int
    size: int


class MetaFile(Immutable):
    """A small file the agent keeps beside a source (Claude Code's sub-agent
    ``agent-<id>.meta.json``), stored whole as one blob, byte for byte."""

    blob: str
    size: int


class Import(Aggregate):
    @staticmethod
    def create_id(agent: str, source_key: str, **_: object) -> UUID:
        return import_id(agent, source_key)

    class SourceRegistered(Aggregate.Created):
        agent: str
        source_key: str
        path: str
        conversation_id: str | None = None

    class LedgerRecorded(Aggregate.Event):
        path: str
        version: SourceVersion
        thread_id: UUID | None
        outcome: Outcome
        items_consumed: int
        problems: int
        sidechains: dict[str, UUID]
        pages: list[SourcePage]
        sidechain_lines: dict[str, str]
        conversation_id: str | None = None
        divergence: Divergence | None = None
        meta: MetaFile | None = None
        """The file beside the source as it was when this version was read (None before
        it was recorded, and for a source with none)."""

    @event(SourceRegistered)
    def __init__(
        self, agent: str, source_key: str, path: str, conversation_id: str | None = None
    ) -> None:
        # No ``*``: the library treats every keyword-only parameter as required.
        self.agent = agent
        self.source_key = source_key
        self.path = path
        self.conversation_id = conversation_id
        """The agent's own id of the conversation found here, once known (ADR 0011)."""
        self.divergence: Divergence | None = None
        self.version_read: SourceVersion | None = None
        self.thread_id: UUID | None = None
        self.outcome: Outcome | None = None
        self.items_consumed = 0
        self.sidechains: dict[str, UUID] = {}
        self.sidechain_lines: dict[str, str] = {}
        self.pages: list[SourcePage] = []
        """The bytes of the version read last, from its first line."""
        self.gone = False

    @event(LedgerRecorded)
    def record(
        self,
        path: str,
        version: SourceVersion,
        thread_id: UUID | None,
        outcome: Outcome,
        items_consumed: int,
        problems: int,
        sidechains: dict[str, UUID],
        pages: list[SourcePage],
        sidechain_lines: dict[str, str],
        conversation_id: str | None = None,
        divergence: Divergence | None = None,
        meta: MetaFile | None = None,
    ) -> None:
        """``pages`` hold the bytes this version consumed: all of them, or the appended part."""
        check_thread_never_changes(self.thread_id, thread_id)
        self.path = path
        self.gone = False
        self.conversation_id = conversation_id or self.conversation_id
        self.divergence = divergence
        self.outcome = outcome
        self.version_read = version
        self.thread_id = thread_id or self.thread_id
        self.items_consumed = items_consumed
        self.sidechains = sidechains
        self.sidechain_lines = sidechain_lines
        if pages:  # all of them (from line 1), or the part appended to those before
            self.pages = list(pages) if pages[0].first_line == 1 else [*self.pages, *pages]

    @event("SourceGone")
    def _gone(self) -> None:
        self.gone = True

    def gone_from_disk(self) -> None:
        """The location was looked for and is not there any more (Claude Code deletes
        transcripts after 30 days): its thread stays, the ledger says it is gone. Seen
        again, it is recorded or touched as any location is, and is no longer gone."""
        if not self.gone:
            self._gone()

    @event("SourceTouched")
    def touched(self, *, mtime_ns: int) -> None:
        """The same bytes as the version recorded, with a new modification time (a
        ``touch``, a copy put back): the cheap check passes again, nothing is read twice."""
        check_version_recorded(self.version_read)
        assert self.version_read is not None
        self.version_read = self.version_read.model_copy(update={"mtime_ns": mtime_ns})
        self.gone = False

    def is_unchanged(self, size: int, mtime_ns: int) -> bool:
        """The cheap check: same size and mtime as the version recorded."""
        v = self.version_read
        return v is not None and v.size == size and v.mtime_ns == mtime_ns


class SecondThreadForSourceError(Exception):
    pass


class NoVersionRecordedError(Exception):
    pass


def check_version_recorded(version: SourceVersion | None) -> None:
    if version is None:
        raise NoVersionRecordedError("no version of this source is recorded yet")


def check_thread_never_changes(current: UUID | None, new: UUID | None) -> None:
    if current is not None and new is not None and new != current:
        raise SecondThreadForSourceError(
            f"this source is already in thread {current}; refusing a second thread {new}"
        )
