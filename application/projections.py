"""Read models kept from the event store: thread list, history, import ledger, usage, search.

Each projection turns stored events into row changes. A catch-up reads the
notification log a page at a time and hands the page's changes, with each
projection's new position, to the read-model store, which commits rows and
positions in one transaction. A page applied twice is refused by the tracking
position, so replay never double-counts; ``rebuild`` drops a projection's rows
and position and replays from the start.

Events are read as plain JSON data (no pydantic validation): read models only
copy fields, and this is the hot path of every import.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
from eventsourcing.persistence import IntegrityError, Notification
from eventsourcing.utils import get_topic

from threadline.application.history import SourceLines, item_text, searchable_text
from threadline.application.read_queries import ALL_PROJECTIONS, EAGER_PROJECTIONS
from threadline.application.row_changes import (
    AddToItemCount,
    ClearHistory,
    ClearSearch,
    FollowHead,
    InsertHistory,
    InsertSearch,
    InsertSpawn,
    InsertThread,
    LinkConversation,
    LinkSpawnedThread,
    LinkSpawningCall,
    MarkGone,
    RecordImport,
    RegisterConversation,
    RegisterSource,
    Rename,
    ResetItemCount,
    RowChange,
    SetArchived,
    SetLineage,
    TitleFromFirstPrompt,
    TouchSource,
    UpdateSummary,
)
from threadline.application.usage import UsageProjection
from threadline.domain.conversation import Conversation
from threadline.domain.ledger import Import
from threadline.domain.session import LIVE_AGENT, Session
from threadline.domain.titles import first_line

PAGE_SIZE = 500
PAGE_TEXT_CHARS = 1_000_000
"""A page also ends once its search rows hold this many characters of text (after the event
that reached it): a page's row changes are held in memory, and a character of text costs
~10 bytes there (the string, its UTF-8 copy for the driver, the rows). ADR 0015."""


def topics(event_class: type) -> frozenset[str]:
    """An event class's topic, and the one stores written before the layers were installed
    as the ``threadline`` package hold for it (``domain.session:Session.ItemsRecorded``;
    ADR 0010)."""
    topic = get_topic(event_class)
    return frozenset({topic, topic.removeprefix("threadline.")})


T_IMPORTED = topics(Session.SessionImported)  # type: ignore[attr-defined]
T_CONFIGURED = topics(Session.SessionConfigured)
T_RENAMED = topics(Session.Renamed)  # type: ignore[attr-defined]
T_ARCHIVED = topics(Session.Archived)  # type: ignore[attr-defined]
T_UNARCHIVED = topics(Session.Unarchived)  # type: ignore[attr-defined]
T_LINEAGE = topics(Session.LineageRecorded)  # type: ignore[attr-defined]
T_CONVERSATION = topics(Conversation.ConversationRegistered)  # type: ignore[attr-defined]
T_HEAD = topics(Conversation.HeadRecorded)  # type: ignore[attr-defined]
T_ITEMS = topics(Session.ItemsRecorded)  # type: ignore[attr-defined]
T_APPENDED = topics(Session.TranscriptAppended)  # type: ignore[attr-defined]
T_REPLACED = topics(Session.HistoryReplaced)  # type: ignore[attr-defined]
T_REGISTERED = topics(Import.SourceRegistered)  # type: ignore[attr-defined]
T_LEDGER = topics(Import.LedgerRecorded)  # type: ignore[attr-defined]
T_TOUCHED = topics(Import.SourceTouched)  # type: ignore[attr-defined]
T_GONE = topics(Import.SourceGone)  # type: ignore[attr-defined]


class Projection(Protocol):
    name: str
    topics: frozenset[str]

    def changes(
        self, topic: str, event: dict[str, Any], notification_id: int, lines: SourceLines
    ) -> list[RowChange]:
        """The row changes for one event; ``lines`` reads texts left in source lines."""
        ...


def _summary(thread_id: str, summary: dict[str, Any]) -> UpdateSummary:
    git = summary.get("git") or {}
    return UpdateSummary(
        summary["title"],
        summary.get("title_source", "prompt"),
        summary["preview"],
        summary["first_user_message"],
        summary["cwd"],
        git.get("branch"),
        git.get("sha"),
        git.get("origin"),
        orjson.dumps(summary["models"]).decode(),
        utc(summary["created_at"]),
        utc(summary["updated_at"]),
        thread_id,
    )


def utc(timestamp: str | None) -> str | None:
    """A timestamp in UTC with a fixed precision, so that the text sorts by time."""
    if timestamp is None:
        return None
    moment = datetime.fromisoformat(timestamp).astimezone(UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


LIVE_TITLE = "Live session"
"""A live session's title until its first prompt (or the user's name for it)."""


class ThreadList:
    """One row per thread, imported (``SessionImported``) or started here
    (``SessionConfigured``). A sub-agent thread is linked to the tool call that spawned
    it by the parent's tool result naming its agent id, whichever was imported first.

    The user's name wins as the title (``Renamed``; every later summary carries it, the
    Session sees to that); ``Archived``/``Unarchived`` set ``archived``; ``LineageRecorded``
    says which thread this one continues or forks; the conversation index gives the
    conversation id (``ConversationRegistered``) and the location whose bytes the thread
    holds (``HeadRecorded``: ``source_path``), ADR 0011."""

    name = "threads"
    topics = (
        T_IMPORTED
        | T_CONFIGURED
        | T_ITEMS
        | T_APPENDED
        | T_REPLACED
        | T_RENAMED
        | T_ARCHIVED
        | T_UNARCHIVED
        | T_LINEAGE
        | T_CONVERSATION
        | T_HEAD
    )

    def changes(
        self, topic: str, event: dict[str, Any], notification_id: int, lines: SourceLines
    ) -> list[RowChange]:
        thread_id = event["originator_id"]
        if topic in T_ITEMS:
            return self._items(thread_id, event["items"])
        if topic in T_IMPORTED:
            source = event["source"]
            summary = _summary(thread_id, event["summary"])
            row = InsertThread(
                thread_id,
                *summary[:-1],
                source_agent=source["agent"],
                source_path=source["path"],
                source_session_id=source.get("session_id"),
                agent_id=source.get("agent_id"),
                parent_thread_id=event.get("parent_thread_id"),
                spawned_by_call_id=event.get("spawned_by_call_id"),
            )
            return [row, LinkSpawningCall(thread_id), LinkConversation(thread_id)]
        if topic in T_CONFIGURED:
            return [_live_thread(thread_id, event)]
        if topic in T_RENAMED:
            return [Rename(event["title"], thread_id)]
        if topic in T_ARCHIVED or topic in T_UNARCHIVED:
            return [SetArchived(int(topic in T_ARCHIVED), thread_id)]
        if topic in T_LINEAGE:
            other, continued = event["thread_id"], event["relation"] == "continued_from"
            return [
                SetLineage(other if continued else None, None if continued else other, thread_id)
            ]
        if topic in T_CONVERSATION:
            registered = str(event["thread_id"])
            return [
                RegisterConversation(registered, event["conversation_id"], thread_id),
                LinkConversation(registered),
            ]
        if topic in T_HEAD:
            return [FollowHead(event["path"], thread_id)]
        ops: list[RowChange] = [_summary(thread_id, event["summary"])]
        if topic in T_REPLACED:
            ops.append(ResetItemCount(thread_id))
        return ops

    @staticmethod
    def _items(thread_id: str, items: list[dict[str, Any]]) -> list[RowChange]:
        newest = next((i["timestamp"] for i in reversed(items) if i.get("timestamp")), None)
        newest = utc(newest)
        ops: list[RowChange] = [AddToItemCount(len(items), newest, newest, thread_id)]
        prompt = _first_prompt(items)
        if prompt:
            ops.append(
                TitleFromFirstPrompt(first_line(prompt), first_line(prompt), prompt, thread_id)
            )
        for item in items:
            if item["type"] == "tool_result" and item.get("agent_id"):
                agent_id, call_id = item["agent_id"], item["call_id"]
                ops.append(InsertSpawn(thread_id, agent_id, call_id))
                ops.append(LinkSpawnedThread(call_id, thread_id, agent_id))
        return ops


def _live_thread(thread_id: str, event: dict[str, Any]) -> InsertThread:
    """A session started here: its row from its settings, titled by its first prompt later."""
    settings, at = event["settings"], utc(event["timestamp"])
    return InsertThread(
        thread_id,
        LIVE_TITLE,
        "fallback",
        "",
        "",
        settings["cwd"],
        None,
        None,
        None,
        orjson.dumps([settings["model"]]).decode(),
        at,
        at,
        source_agent=LIVE_AGENT,
        source_path=settings["cwd"],
        source_session_id=thread_id,
        agent_id=None,
        parent_thread_id=None,
        spawned_by_call_id=None,
    )


def _first_prompt(items: list[dict[str, Any]]) -> str:
    """The text of the first prompt typed in these items (not harness-injected), if any."""
    for item in items:
        if item["type"] == "user" and not item.get("meta"):
            text = " ".join(p for p in item["parts"] if isinstance(p, str))
            if text.strip():
                return text
    return ""


class History:
    """Each item's position in its thread, pointing at the event that holds it.

    Rows are small (notification id and index, not a copy of the item): reading
    a history decodes its ItemsRecorded events, a page at a time.
    """

    name = "history"
    topics = T_ITEMS | T_REPLACED

    def changes(
        self, topic: str, event: dict[str, Any], notification_id: int, lines: SourceLines
    ) -> list[RowChange]:
        thread_id = event["originator_id"]
        if topic in T_REPLACED:
            return [ClearHistory(thread_id)]
        first = event["first_position"]
        return [
            InsertHistory(
                thread_id, first + i, item["type"], item.get("timestamp"), notification_id, i
            )
            for i, item in enumerate(event["items"])
        ]


class Ledger:
    """One row per location of a source: which version of it is in which thread, whether
    it is still on disk (``gone``), and how a diverged version differs (ADR 0011)."""

    name = "ledger"
    topics = T_REGISTERED | T_LEDGER | T_TOUCHED | T_GONE

    def changes(
        self, topic: str, event: dict[str, Any], notification_id: int, lines: SourceLines
    ) -> list[RowChange]:
        import_id = event["originator_id"]
        if topic in T_TOUCHED:
            return [TouchSource(event["mtime_ns"], 0, import_id)]
        if topic in T_GONE:
            return [MarkGone(import_id)]
        if topic in T_REGISTERED:
            return [RegisterSource(import_id, event["agent"], event["path"])]
        v = event["version"]
        divergence = event.get("divergence") or {}
        return [
            RecordImport(
                thread_id=event["thread_id"],
                size=v["size"],
                mtime_ns=v["mtime_ns"],
                sha256=v["sha256"],
                consumed_bytes=v["consumed_bytes"],
                consumed_lines=v["consumed_lines"],
                items=event["items_consumed"],
                outcome=event["outcome"],
                problems=event["problems"],
                recorded_at=event["timestamp"],
                version=event["originator_version"],
                source_path=event["path"],
                gone=0,
                diverged_from=divergence.get("other_path"),
                this_ends_at=utc(divergence.get("this_last_timestamp")),
                other_ends_at=utc(divergence.get("other_last_timestamp")),
                import_id=import_id,
            )
        ]


class Search:
    """Full-text search over every item's text: one index row per item that has text.

    A row names the item's thread, position and role, its searchable pieces (JSON:
    texts, or ``SourceRef``s into source lines, from which a query cuts a snippet: the
    index keeps no copy of the text) and the text to index.
    """

    name = "search"
    topics = T_ITEMS | T_REPLACED

    def changes(
        self, topic: str, event: dict[str, Any], notification_id: int, lines: SourceLines
    ) -> list[RowChange]:
        thread_id = event["originator_id"]
        if topic in T_REPLACED:
            return [ClearSearch(thread_id)]
        first = event["first_position"]
        rows: list[RowChange] = []
        for i, item in enumerate(event["items"]):
            pieces = searchable_text(item)
            text = item_text(pieces, lines) if pieces else ""
            if text.strip():
                rows.append(
                    InsertSearch(thread_id, first + i, item["type"], orjson.dumps(pieces), text)
                )
        return rows


PROJECTIONS: dict[str, Projection] = {
    p.name: p for p in (ThreadList(), History(), Ledger(), UsageProjection(), Search())
}
assert tuple(PROJECTIONS) == ALL_PROJECTIONS


class ReadModelStore(Protocol):
    def positions(self) -> dict[str, int]: ...

    def apply(self, ops: list[RowChange], positions: dict[str, int]) -> None:
        """Apply the row changes and move each projection to its position, atomically."""

    def reset(self, names: Sequence[str]) -> None: ...

    def source_lines(self) -> AbstractContextManager[SourceLines]:
        """Reads texts left in source lines (for the search projection), for one page."""
        ...


class EventLog(Protocol):
    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]: ...

    def max_notification_id(self) -> int | None: ...


@dataclass
class CatchUp:
    """Brings read models up to the end of the event log."""

    log: EventLog
    decode: Callable[[bytes], dict[str, Any]]
    store: ReadModelStore
    projections: dict[str, Projection] = field(default_factory=lambda: dict(PROJECTIONS))
    page_size: int = PAGE_SIZE
    page_text_chars: int = PAGE_TEXT_CHARS

    def run(
        self, names: Sequence[str] | None = None, progress: Callable[[int, int], None] | None = None
    ) -> int:
        """Process every notification not yet seen; return how many were read.

        Without ``names``, the eager projections only (not search: see ``LAZY_PROJECTIONS``).
        """
        default = [n for n in EAGER_PROJECTIONS if n in self.projections]
        selected = {n: self.projections[n] for n in (names or default)}
        positions = {n: self.store.positions().get(n, 0) for n in selected}
        end = self.log.max_notification_id() or 0
        start = min(positions.values(), default=end)
        seen = 0
        while start < end:
            last, count, ops = self._page(selected, positions, start, end)
            # An empty page (nothing up to ``end`` any selected projection follows) moves
            # every position to ``end``, with no rows.
            new_positions = {name: max(pos, last) for name, pos in positions.items()}
            try:
                # Only positions that move: a projection already past this page (one
                # caught up further than the others) keeps its tracking row as it is.
                self.store.apply(ops, {n: p for n, p in new_positions.items() if p > positions[n]})
            except IntegrityError:
                # Another catch-up applied this page first (its position is ahead of
                # ours, so ours was refused whole): continue from where it got to.
                stored = self.store.positions()
                positions = {name: stored.get(name, 0) for name in positions}
                start = min(positions.values())
                continue
            positions, start = new_positions, last
            seen += count
            if progress:
                progress(start, end)
        return seen

    def _page(
        self, selected: dict[str, Projection], positions: dict[str, int], start: int, end: int
    ) -> tuple[int, int, list[RowChange]]:
        """The notifications after ``start``, a page of them: the last id, how many, and
        their row changes for each projection that has not seen them yet."""
        topics = sorted(set().union(*(p.topics for p in selected.values())))
        page = self.log.select_notifications(
            start, self.page_size, stop=end, topics=topics, inclusive_of_start=False
        )
        ops: list[RowChange] = []
        held, count = 0, 0
        with self.store.source_lines() as lines:
            for n in page:
                event: dict[str, Any] | None = None
                for name, projection in selected.items():
                    if n.id > positions[name] and n.topic in projection.topics:
                        if event is None:
                            event = self.decode(n.state)
                            event["originator_id"] = str(n.originator_id)
                            event["originator_version"] = n.originator_version
                        changes = projection.changes(n.topic, event, n.id, lines)
                        held += sum(len(c.text) for c in changes if type(c) is InsertSearch)
                        ops.extend(changes)
                count += 1
                if held >= self.page_text_chars:
                    return n.id, count, ops
        return (page[-1].id if page else end), len(page), ops

    def rebuild(
        self, names: Sequence[str] | None = None, progress: Callable[[int, int], None] | None = None
    ) -> int:
        selected = list(names or self.projections)
        self.store.reset(selected)
        return self.run(selected, progress)
