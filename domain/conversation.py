"""The conversation index: a conversation, by the agent's own id, names its one thread.

A conversation (Claude Code's ``sessionId``, plus the ``agentId`` of a sub-agent) may
be found at several locations: a copy, a moved tree, a backup put back, another
machine's home on a shared store. Each location keeps its own ledger entry
(``Import``); all of them feed one thread. ``Conversation`` is the small index
aggregate of the eventsourcing library's content-management example (its ``Slug``):
its id is a uuid5 of the agent and the conversation id, so every importer that meets
the conversation addresses the same aggregate, and the store's unique (id, version)
key lets exactly one of them register it — and so create its thread — in the same
atomic save as that thread and the ledger entry.

It also holds the *head*: which version of the conversation's bytes the thread holds
now, and from which location. Every location resumes from the head (an import reads
past it only if the location's bytes start with it), and an older or diverged copy is
judged against it (ADR 0011).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from eventsourcing.domain import event

from threadline.domain.base import Aggregate
from threadline.domain.identity import (
    IDENTITY_UPGRADE_ID,
    conversation_index_id,
    conversation_start_id,
)
from threadline.domain.ledger import SourcePage, SourceVersion

HeadChange = Literal["full", "append"]
"""``full``: the thread now holds this version from its first line; ``append``: the
version continues the head's bytes, and only the pages after them are named."""


class Conversation(Aggregate):
    @staticmethod
    def create_id(agent: str, conversation_id: str, **_: object) -> UUID:
        return conversation_index_id(agent, conversation_id)

    @event("ConversationRegistered")
    def __init__(self, agent: str, conversation_id: str, thread_id: UUID) -> None:
        self.agent = agent
        self.conversation_id = conversation_id
        self.thread_id = thread_id
        self.location: UUID | None = None
        """The ledger entry (location) whose bytes the thread holds now."""
        self.path: str | None = None
        self.head: SourceVersion | None = None
        self.pages: list[SourcePage] = []
        """The head's bytes, in order: from its first line to ``head.consumed_bytes``."""
        self.sidechains: dict[str, UUID] = {}
        """Inline sidechain (first line's uuid) -> its child thread, of every version seen."""
        self.sidechain_lines: dict[str, str] = {}
        self.items = 0
        self.last_timestamp: datetime | None = None
        self.mirrored_in: UUID | None = None
        """For a sub-agent known only from its parent's ``agent_progress`` lines: the
        parent's thread, whose imports keep its thread up to date until its own
        transcript is imported (which then replaces what the mirror recorded)."""

    @event("MirrorRecorded")
    def record_mirror(self, parent_thread_id: UUID) -> None:
        """The thread's content is what the parent's progress lines copy of it."""
        self.mirrored_in = parent_thread_id

    def is_mirrored_by(self, parent_thread_id: UUID) -> bool:
        """Kept up to date from that parent's progress lines: no transcript of its own yet."""
        return self.location is None and self.mirrored_in == parent_thread_id

    @event("HeadRecorded")
    def record_head(
        self,
        location: UUID,
        path: str,
        change: HeadChange,
        version: SourceVersion,
        pages: list[SourcePage],
        sidechains: dict[str, UUID],
        sidechain_lines: dict[str, str],
        items: int,
        last_timestamp: datetime | None,
    ) -> None:
        """The thread now holds ``version`` of the conversation, read at ``location``:
        ``items`` in all, the last written at ``last_timestamp`` (the transcript's own)."""
        check_appends_to_head(self.head, change, version)
        self.items = items
        self.last_timestamp = last_timestamp
        self.location = location
        self.path = path
        self.head = version
        self.pages = [*self.pages, *pages] if change == "append" else list(pages)
        self.sidechains = {**self.sidechains, **sidechains}
        self.sidechain_lines = dict(sidechain_lines)

    def is_head(self, location: UUID) -> bool:
        return self.location == location


class ConversationStart(Aggregate):
    """Which thread first recorded a transcript line (by the line's ``uuid``) as its first.

    Claude Code's resume and fork write a new session file that starts by repeating the
    earlier session's lines under their own uuids: a conversation whose first line is
    already indexed here continues or forks that thread (ADR 0011)."""

    @staticmethod
    def create_id(agent: str, line_uuid: str, **_: object) -> UUID:
        return conversation_start_id(agent, line_uuid)

    @event("ConversationStarted")
    def __init__(self, agent: str, line_uuid: str, thread_id: UUID) -> None:
        self.agent = agent
        self.line_uuid = line_uuid
        self.thread_id = thread_id


class IdentityUpgrade(Aggregate):
    """Recorded once in a store, when the threads that an earlier release imported (each
    named by its file's path) have all been given their conversation's index entry."""

    @staticmethod
    def create_id(**_: object) -> UUID:
        return IDENTITY_UPGRADE_ID

    @event("LegacyThreadsIndexed")
    def __init__(self, conversations: int, up_to_notification: int) -> None:
        self.conversations = conversations
        self.up_to_notification = up_to_notification


class HeadNotContinuedError(Exception):
    pass


def check_appends_to_head(
    head: SourceVersion | None, change: HeadChange, version: SourceVersion
) -> None:
    if change != "append":
        return
    if head is None or version.consumed_bytes < head.consumed_bytes:
        raise HeadNotContinuedError("an appended version must continue the bytes the thread holds")
