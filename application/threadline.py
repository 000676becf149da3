"""The Threadline application: use cases that write threads and the import ledger, and
load and save the threads live sessions continue."""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application

from threadline.application.ports import (
    ReadMode,
    ReadTranscript,
    ResumePoint,
    SourceFile,
    ThreadContent,
)
from threadline.application.views import ThreadNotFoundError
from threadline.domain.identity import imported_thread_id, sidechain_thread_id
from threadline.domain.items import Item
from threadline.domain.ledger import Import, Outcome
from threadline.domain.session import Session


class Threadline(Application[UUID]):
    name = "threadline"
    env: ClassVar[dict[str, str]] = {}

    # -- the import ledger ---------------------------------------------------

    def ledger_entry(self, source: SourceFile) -> Import | None:
        try:
            return self.repository.get(Import.create_id(source.agent, source.path))
        except AggregateNotFoundError:
            return None

    @staticmethod
    def resume_point(entry: Import | None) -> ResumePoint | None:
        """Where to continue reading a source that was imported before.

        None when it must be read from the start: never read, no thread yet, or last
        seen rejected (emptied or garbled), so what comes next replaces the history.
        """
        if entry is None or entry.version_read is None or entry.thread_id is None:
            return None
        if entry.outcome == "rejected":
            return None
        v = entry.version_read
        return ResumePoint(
            v.consumed_bytes, v.consumed_sha256, v.consumed_lines, dict(entry.sidechain_lines)
        )

    def record_touch(self, entry: Import, mtime_ns: int) -> None:
        """The recorded version's bytes, found again under a new modification time."""
        entry.touched(mtime_ns=mtime_ns)
        self.save(entry)

    @staticmethod
    def thread_id_for(source: SourceFile) -> UUID:
        return imported_thread_id(source.agent, source.path)

    # -- live sessions -------------------------------------------------------

    def load_session(self, thread_id: UUID) -> tuple[Session, list[Item]]:
        """A stored thread and its items, from one read of its events, to continue live.

        Raises ``ThreadNotFoundError``."""
        session: Session | None = None
        items: list[Item] = []
        for domain_event in self.events.get(thread_id):
            session = domain_event.mutate(session)  # type: ignore[attr-defined]
            if isinstance(domain_event, Session.ItemsRecorded):  # type: ignore[attr-defined]
                items.extend(domain_event.items)
            elif isinstance(domain_event, Session.HistoryReplaced):  # type: ignore[attr-defined]
                items.clear()
        if session is None:
            raise ThreadNotFoundError("no such thread in the store")
        return session, items

    def record_session(self, session: Session) -> None:
        """Save what a live session recorded since it was last saved, in one unit."""
        self.save(session)

    # -- importing -----------------------------------------------------------

    def record_import(
        self, source: SourceFile, read: ReadTranscript, entry: Import | None
    ) -> Outcome:
        """Save a source's thread(s) and its ledger entry in one atomic unit.

        Raises the store's IntegrityError when another importer got there
        first; the caller re-reads the ledger and tries again.
        """
        if entry is None:
            entry = Import(agent=source.agent, source_key=source.path, path=source.path)
        changed: list[Any] = [entry]
        outcome: Outcome
        thread_id: UUID | None = None
        sidechains = dict(entry.sidechains)
        if read.main is None:
            outcome, items_consumed = "rejected", entry.items_consumed
        else:
            thread_id = imported_thread_id(source.agent, source.path)
            outcome, main = self._record_thread(thread_id, read.main, read.mode, entry.thread_id)
            changed.append(main)
            items_consumed = main.item_count
            for root, content in read.sidechains.items():
                known = sidechains.get(root)
                child_id = known or sidechain_thread_id(thread_id, root)
                content.parent_thread_id = thread_id
                changed.append(self._record_thread(child_id, content, read.mode, known)[1])
                sidechains[root] = child_id
            if read.mode != "append":
                for root, child_id in entry.sidechains.items():
                    if root not in read.sidechains:
                        changed.append(self._emptied(child_id))
        entry.record(
            path=source.path,
            version=read.version,
            thread_id=thread_id,
            outcome=outcome,
            items_consumed=items_consumed,
            problems=len(read.problems),
            sidechains=sidechains,
            pages=read.pages,
            sidechain_lines=read.sidechain_lines,
        )
        self.save(*changed)
        return outcome

    def _record_thread(
        self, thread_id: UUID, content: ThreadContent, mode: ReadMode, existing: UUID | None
    ) -> tuple[Outcome, Session]:
        outcome: Outcome
        if existing is None:
            session = Session(
                thread_id=thread_id,
                source=content.source,
                summary=content.summary,
                parent_thread_id=content.parent_thread_id,
                spawned_by_call_id=content.spawned_by_call_id,
            )
            outcome = "imported"
        else:
            session = self.repository.get(existing)
            if mode == "append":
                session.transcript_appended(summary=session.summary.followed_by(content.summary))
                outcome = "appended"
            else:
                session.replace_history(summary=content.summary, reason="source rewritten")
                outcome = "replaced"
        session.record_items(content.items)
        return outcome, session

    def _emptied(self, thread_id: UUID) -> Session:
        """A sidechain thread whose lines are gone from a rewritten source."""
        session: Session = self.repository.get(thread_id)
        session.replace_history(summary=session.summary, reason="source rewritten")
        return session
