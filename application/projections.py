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
    InsertHistory,
    InsertSearch,
    InsertSpawn,
    InsertThread,
    LinkSpawnedThread,
    LinkSpawningCall,
    RecordImport,
    RegisterSource,
    ResetItemCount,
    RowChange,
    TouchSource,
    UpdateSummary,
)
from threadline.application.usage import UsageProjection
from threadline.domain.ledger import Import
from threadline.domain.session import Session

PAGE_SIZE = 500
PAGE_TEXT_CHARS = 2_000_000
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
T_ITEMS = topics(Session.ItemsRecorded)  # type: ignore[attr-defined]
T_APPENDED = topics(Session.TranscriptAppended)  # type: ignore[attr-defined]
T_REPLACED = topics(Session.HistoryReplaced)  # type: ignore[attr-defined]
T_REGISTERED = topics(Import.SourceRegistered)  # type: ignore[attr-defined]
T_LEDGER = topics(Import.LedgerRecorded)  # type: ignore[attr-defined]
T_TOUCHED = topics(Import.SourceTouched)  # type: ignore[attr-defined]


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


class ThreadList:
    """One row per thread. A sub-agent thread is linked to the tool call that spawned it
    by the parent's tool result naming its agent id, whichever was imported first."""

    name = "threads"
    topics = T_IMPORTED | T_ITEMS | T_APPENDED | T_REPLACED

    def changes(
        self, topic: str, event: dict[str, Any], notification_id: int, lines: SourceLines
    ) -> list[RowChange]:
        thread_id = event["originator_id"]
        if topic in T_ITEMS:
            ops: list[RowChange] = [AddToItemCount(len(event["items"]), thread_id)]
            for item in event["items"]:
                if item["type"] == "tool_result" and item.get("agent_id"):
                    agent_id, call_id = item["agent_id"], item["call_id"]
                    ops.append(InsertSpawn(thread_id, agent_id, call_id))
                    ops.append(LinkSpawnedThread(call_id, thread_id, agent_id))
            return ops
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
            return [row, LinkSpawningCall(thread_id)]
        ops = [_summary(thread_id, event["summary"])]
        if topic in T_REPLACED:
            ops.append(ResetItemCount(thread_id))
        return ops


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
    name = "ledger"
    topics = T_REGISTERED | T_LEDGER | T_TOUCHED

    def changes(
        self, topic: str, event: dict[str, Any], notification_id: int, lines: SourceLines
    ) -> list[RowChange]:
        import_id = event["originator_id"]
        if topic in T_TOUCHED:
            return [TouchSource(event["mtime_ns"], import_id)]
        if topic in T_REGISTERED:
            return [RegisterSource(import_id, event["agent"], event["path"])]
        v = event["version"]
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
            if count == 0:
                self.store.apply([], {n: end for n, pos in positions.items() if pos < end})
                break
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
