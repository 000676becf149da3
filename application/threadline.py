"""The Threadline application: use cases that write threads and the import ledger.

A conversation is one thread wherever its file lives (ADR 0011): the ledger keeps one
entry per location (``Import``), the conversation index (``Conversation``, by the
agent's own id) names the thread and the version of the conversation's bytes it holds
(the head). Every location resumes from the head; what a location holds beyond it is
appended, an older copy of it changes nothing, and of two diverged versions the thread
keeps the one that ends later. The index, the thread and the ledger entry are one save.
Live sessions load and save their threads here too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, TypedDict
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.utils import get_topic

from threadline.application.ports import (
    ReadMode,
    ReadTranscript,
    ResumePoint,
    SourceFile,
    ThreadContent,
    conversation_of,
    names_conversations,
)
from threadline.application.views import ThreadNotFoundError
from threadline.domain.conversation import (
    Conversation,
    ConversationStart,
    HeadChange,
    IdentityUpgrade,
)
from threadline.domain.identity import (
    IDENTITY_UPGRADE_ID,
    conversation_index_id,
    conversation_start_id,
    conversation_thread_id,
    import_id,
    imported_thread_id,
    sidechain_thread_id,
)
from threadline.domain.items import Item
from threadline.domain.ledger import FEEDS_THREAD, Divergence, Import, Outcome, SourcePage
from threadline.domain.session import Lineage, ReplaceReason, Session


class ThreadNames(TypedDict):
    """A thread after the user named, archived or unarchived it."""

    thread_id: str
    title: str
    named_by_user: bool
    archived: bool
    changed: bool
    """False when the thread already was so (nothing was recorded)."""


UPGRADE_BATCH = 200
"""Index entries saved per transaction while indexing an earlier release's threads."""


class Threadline(Application[UUID]):
    name = "threadline"
    env: ClassVar[dict[str, str]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._upgrade_lock = threading.Lock()
        self._upgraded = False
        self._thread_at: dict[str, UUID] = {}
        """Location -> the thread its last import in this process went to."""

    # -- the import ledger ---------------------------------------------------

    def ledger_entry(self, source: SourceFile) -> Import | None:
        """The location's ledger entry; None for a location never recorded, unless its
        path names a conversation imported before: then a new entry (not saved yet), so
        that the location resumes from what that conversation's thread holds."""
        self._index_legacy_threads_once()
        try:
            entry: Import = self.repository.get(import_id(source.agent, source.path))
            return entry
        except AggregateNotFoundError:
            conversation = conversation_of(source.agent, source.path)
            if conversation is None or self._conversation(source.agent, conversation) is None:
                return None  # nothing to resume from: read it from the start
            return Import(
                agent=source.agent,
                source_key=source.path,
                path=source.path,
                conversation_id=conversation,
            )

    def resume_point(self, entry: Import | None) -> ResumePoint | None:
        """Where to continue reading a location: after the bytes its conversation's thread
        holds, whichever location they were read at.

        None when it must be read from the start: a conversation not seen yet, or one
        whose thread holds no version known byte for byte.
        """
        if entry is None:
            return None
        conversation = self._conversation_of_entry(entry)
        if conversation is None or _is_legacy_duplicate(entry, conversation):
            return _own_resume_point(entry)
        v = conversation.head
        if v is None:
            return None
        return ResumePoint(
            v.consumed_bytes,
            v.consumed_sha256,
            v.consumed_lines,
            dict(conversation.sidechain_lines),
            list(conversation.pages),
        )

    def record_touch(self, entry: Import, mtime_ns: int) -> None:
        """The recorded version's bytes, found again under a new modification time."""
        entry.touched(mtime_ns=mtime_ns)
        self.save(entry)

    def record_gone(self, agent: str, path: str) -> bool:
        """A location in the ledger that is no longer on disk: its thread is kept (Threadline
        is the backup), the ledger says the location is gone. False if it was never seen."""
        try:
            entry: Import = self.repository.get(import_id(agent, path))
        except AggregateNotFoundError:
            return False
        entry.gone_from_disk()
        self.save(entry)
        return True

    def thread_id_for(self, source: SourceFile) -> UUID:
        """The thread the location's last import went to."""
        known = self._thread_at.get(source.path)
        if known is not None:
            return known
        entry = self.ledger_entry(source)
        if entry is not None and entry.thread_id is not None:
            return entry.thread_id
        return imported_thread_id(source.agent, source.path)

    # -- the user's own names ------------------------------------------------

    def rename_thread(self, thread_id: UUID, title: str) -> ThreadNames:
        """Name a thread; the name outlives every title its source writes later.

        Raises ``ThreadNotFoundError``, and ``TitleNotGivenError`` for an empty name."""
        return self._change_thread(thread_id, lambda session: session.rename(title))

    def archive_thread(self, thread_id: UUID) -> ThreadNames:
        """Hide a thread from the thread list (``threads --archived`` shows it)."""
        return self._change_thread(thread_id, Session.archive)

    def unarchive_thread(self, thread_id: UUID) -> ThreadNames:
        return self._change_thread(thread_id, Session.unarchive)

    def _change_thread(self, thread_id: UUID, change: Callable[[Session], None]) -> ThreadNames:
        """Load the thread, change it, save: retried from the load when another writer (an
        import appending to it) saved first, as an import is (``with_store_retries``)."""
        from threadline.application.importing import with_store_retries

        def once() -> ThreadNames:
            try:
                session: object = self.repository.get(thread_id)
            except AggregateNotFoundError as exc:
                raise ThreadNotFoundError(f"no thread {str(thread_id)!r}") from exc
            if not isinstance(session, Session):
                raise ThreadNotFoundError(f"no thread {str(thread_id)!r}")
            change(session)
            changed = bool(session.pending_events)
            self.save(session)
            return {
                "thread_id": str(thread_id),
                "title": session.user_title or session.summary.title,
                "named_by_user": session.user_title is not None,
                "archived": session.archived,
                "changed": changed,
            }

        return with_store_retries(f"thread {thread_id}", once)

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

    # -- importing -----------------------------------------------------------

    def record_import(
        self, source: SourceFile, read: ReadTranscript, entry: Import | None
    ) -> Outcome:
        """Save a location's thread(s), its conversation's index entry and its ledger entry
        in one atomic unit.

        Raises the store's IntegrityError when another importer got there
        first; the caller re-reads the ledger and tries again.
        """
        if entry is None:
            entry = Import(
                agent=source.agent,
                source_key=source.path,
                path=source.path,
                conversation_id=read.conversation_id,
            )
        key = read.conversation_id or entry.conversation_id
        conversation = self._conversation(source.agent, key) if key else None
        if read.main is not None and read.main.parent_conversation_id is not None:
            read.main.parent_thread_id = self.thread_of_conversation(
                source.agent, read.main.parent_conversation_id
            )
        if read.main is None:
            copy = read.copy_of is not None and self._has_thread(read.copy_of)
            return self._record_no_thread(source, read, entry, "known" if copy else "rejected", key)
        if key is None or (conversation and _is_legacy_duplicate(entry, conversation)):
            # No conversation id (or a second thread an earlier release made for one):
            # the location is its own conversation, as before conversations were indexed.
            return self._record_location(source, read, entry)
        return _Recording(self, source, read, entry, key, conversation).run()

    def _record_no_thread(
        self,
        source: SourceFile,
        read: ReadTranscript,
        entry: Import,
        outcome: Outcome,
        key: str | None,
    ) -> Outcome:
        """Nothing in the file for a thread of its own: not a transcript (``rejected``), or
        an export of a thread this store holds and nothing more (``known``; what another
        agent adds to it later is a thread of its own, whose lineage names that thread).
        The ledger says which; no thread changes."""
        entry.record(
            path=source.path,
            version=read.version,
            thread_id=None,  # the thread it had, if any, stays its thread
            outcome=outcome,
            items_consumed=entry.items_consumed,
            problems=len(read.problems),
            sidechains=dict(entry.sidechains),
            pages=read.pages,
            sidechain_lines=read.sidechain_lines,
            conversation_id=key,
            meta=read.meta,
        )
        self.save(entry)
        return outcome

    def _has_thread(self, thread_id: str) -> bool:
        try:
            return UUID(thread_id) in self.repository
        except ValueError:
            return False

    def _record_location(self, source: SourceFile, read: ReadTranscript, entry: Import) -> Outcome:
        """A location that is a conversation of its own: the rules before ADR 0011."""
        assert read.main is not None
        thread_id = entry.thread_id or imported_thread_id(source.agent, source.path)
        changed: list[Any] = [entry]
        outcome, main = self.record_thread(thread_id, read.main, read.mode, entry.thread_id)
        changed.append(main)
        sidechains = self._record_sidechains(
            thread_id, read, dict(entry.sidechains), changed, replacing=read.mode != "append"
        )
        entry.record(
            path=source.path,
            version=read.version,
            thread_id=thread_id,
            outcome=outcome,
            items_consumed=main.item_count,
            problems=len(read.problems),
            sidechains=sidechains,
            pages=read.pages,
            sidechain_lines=read.sidechain_lines,
            conversation_id=entry.conversation_id,
            meta=read.meta,
        )
        self.save(*changed)
        self._thread_at[source.path] = thread_id
        return outcome

    def _record_sidechains(
        self,
        thread_id: UUID,
        read: ReadTranscript,
        sidechains: dict[str, UUID],
        changed: list[Any],
        *,
        replacing: bool,
    ) -> dict[str, UUID]:
        """The inline sidechains' child threads; every child ever seen, by chain root."""
        mode: ReadMode = "full" if replacing else "append"
        seen = dict(sidechains)
        for root, content in read.sidechains.items():
            known = seen.get(root)
            child_id = known or sidechain_thread_id(thread_id, root)
            content.parent_thread_id = thread_id
            changed.append(self.record_thread(child_id, content, mode, known)[1])
            seen[root] = child_id
        if replacing:
            for root, child_id in sidechains.items():
                if root not in read.sidechains:
                    changed.append(self._emptied(child_id))
        return seen

    def record_thread(
        self,
        thread_id: UUID,
        content: ThreadContent,
        mode: ReadMode,
        existing: UUID | None,
        reason: ReplaceReason = "source rewritten",
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
                session.replace_history(summary=content.summary, reason=reason)
                outcome = "replaced"
        session.record_items(content.items)
        return outcome, session

    def item_uuids(self, thread_id: UUID) -> set[str]:
        """The line uuids of the items a thread holds now (since its last replacement)."""
        uuids: set[str] = set()
        for domain_event in self.events.get(thread_id):
            if isinstance(domain_event, Session.HistoryReplaced):  # type: ignore[attr-defined]
                uuids = set()
            for item in getattr(domain_event, "items", ()):
                if item.uuid:
                    uuids.add(item.uuid)
        return uuids

    def _emptied(self, thread_id: UUID) -> Session:
        """A sidechain thread whose lines are gone from a rewritten source."""
        session: Session = self.repository.get(thread_id)
        session.replace_history(summary=session.summary, reason="source rewritten")
        return session

    # -- the conversation index ----------------------------------------------

    def _conversation(self, agent: str, key: str) -> Conversation | None:
        try:
            conversation: Conversation = self.repository.get(conversation_index_id(agent, key))
            return conversation
        except AggregateNotFoundError:
            return None

    def _conversation_of_entry(self, entry: Import) -> Conversation | None:
        key = entry.conversation_id or conversation_of(entry.agent, entry.path)
        return self._conversation(entry.agent, key) if key else None

    def thread_of_conversation(self, agent: str, key: str) -> UUID:
        """The thread a conversation has, or will have when it is first imported."""
        conversation = self._conversation(agent, key)
        return conversation.thread_id if conversation else conversation_thread_id(agent, key)

    def _index_legacy_threads_once(self) -> None:
        if self._upgraded:
            return
        with self._upgrade_lock:
            if not self._upgraded:
                self.index_legacy_threads()
                self._upgraded = True

    def index_legacy_threads(self) -> int:
        """Give every thread an earlier release imported (its id a uuid5 of its file's path)
        its conversation's index entry, with the version its ledger entry recorded as the
        head; once per store. Returns how many were indexed.

        The first of two threads for one conversation (an earlier release's copies) is
        the conversation's; the second keeps importing its own location, as before.
        Saved in batches (idempotent: a batch another process saved first is skipped),
        the upgrade record last.
        """
        try:
            self.repository.get(IDENTITY_UPGRADE_ID)
            return 0
        except AggregateNotFoundError:
            pass
        end = self.recorder.max_notification_id() or 0
        found: dict[tuple[str, str], tuple[UUID, str]] = {}
        unnamed = False
        for event in self._imported_events(end):
            source = event.source
            if event.originator_id != imported_thread_id(source.agent, source.path):
                continue  # an inline sidechain's thread: it follows its parent's
            unnamed = unnamed or not names_conversations(source.agent)
            key = conversation_of(source.agent, source.path)
            if key is not None:
                found.setdefault((source.agent, key), (event.originator_id, source.path))
        pending: list[Any] = []
        for (agent, key), (thread_id, path) in found.items():
            if self._conversation(agent, key) is not None:
                continue
            pending.append(self._legacy_index(agent, key, thread_id, path))
            if len(pending) >= UPGRADE_BATCH:
                self.save(*pending)
                pending = []
        if unnamed:  # an agent whose adapter is not loaded here: index the rest next time
            self.save(*pending)
            return len(found)
        self.save(*pending, IdentityUpgrade(conversations=len(found), up_to_notification=end))
        return len(found)

    def _imported_events(self, end: int) -> Any:
        topic = get_topic(Session.SessionImported)  # type: ignore[attr-defined]
        topics = [topic, topic.removeprefix("threadline.")]
        start = 0
        while start < end:
            page = self.recorder.select_notifications(
                start, 500, stop=end, topics=topics, inclusive_of_start=False
            )
            if not page:
                return
            for notification in page:
                yield self.mapper.to_domain_event(notification)
            start = page[-1].id

    def _legacy_index(self, agent: str, key: str, thread_id: UUID, path: str) -> Conversation:
        conversation = Conversation(agent=agent, conversation_id=key, thread_id=thread_id)
        try:
            entry: Import = self.repository.get(import_id(agent, path))
        except AggregateNotFoundError:
            return conversation
        v = entry.version_read
        if v is not None and entry.outcome != "rejected" and entry.pages:
            conversation.record_head(
                location=entry.id,
                path=entry.path,
                change="full",
                version=v,
                pages=entry.pages,
                sidechains=dict(entry.sidechains),
                sidechain_lines=dict(entry.sidechain_lines),
                items=entry.items_consumed,
                last_timestamp=None,
            )
        return conversation


class _Recording:
    """One location's version, recorded against its conversation's head (ADR 0011)."""

    def __init__(
        self,
        app: Threadline,
        source: SourceFile,
        read: ReadTranscript,
        entry: Import,
        key: str,
        conversation: Conversation | None,
    ) -> None:
        assert read.main is not None
        self.app = app
        self.source = source
        self.read = read
        self.main = read.main
        self.entry = entry
        self.key = key
        self.conversation = conversation or Conversation(
            agent=source.agent,
            conversation_id=key,
            thread_id=conversation_thread_id(source.agent, key),
        )
        self.is_new = conversation is None
        self.changed: list[Any] = [entry]
        self.divergence: Divergence | None = None
        self.reason: ReplaceReason = "source rewritten"
        """Why the thread's history is replaced, when it is."""
        self.lineage: tuple[Lineage, UUID, int] | None = None
        """How the new thread continues or forks another: relation, thread, lines repeated."""

    def run(self) -> Outcome:
        head = self.conversation.head
        read = self.read
        thread_id = self.conversation.thread_id
        pages = read.pages
        if read.mode == "append" and not self.conversation.is_head(self.entry.id):
            pages = [*self.conversation.pages, *pages]  # another location: all of its bytes
        if self.is_new:
            self._find_lineage()
            if self.lineage is None:
                self._declared_lineage()
            outcome = self._feed(None, "full", "imported")
        elif head is None:  # its thread holds no version known byte for byte
            reason: ReplaceReason = (
                "sub-agent file found" if self.conversation.mirrored_in else "source rewritten"
            )
            outcome = self._feed(thread_id, "full", "replaced", reason=reason)
        elif read.mode == "append":
            if read.version.consumed_bytes == head.consumed_bytes:
                outcome = "known"
            else:
                outcome = self._feed(thread_id, "append", "appended")
        elif (read.version.consumed_bytes, read.version.consumed_sha256) == (
            head.consumed_bytes,
            head.consumed_sha256,
        ):
            outcome = "known"
        elif self.conversation.is_head(self.entry.id):
            outcome = self._feed(thread_id, "full", "replaced")
        elif read.prefix_of_resume:
            outcome = "behind"
        else:
            outcome = self._diverged(thread_id)
        if outcome in FEEDS_THREAD:
            self._record_mirrored(append=outcome == "appended", reason=self.reason)
        self._record_ledger(outcome, pages)
        # The index entries first: the save's last events are then ones the read models
        # follow, so a catch-up never ends on a page with nothing for them (a second one
        # running at once would be refused that page's position: application/projections).
        self.app.save(*sorted(self.changed, key=lambda a: isinstance(a, (Import, Session))))
        self.app._thread_at[self.source.path] = thread_id
        return outcome

    def _find_lineage(self) -> None:
        """A new conversation whose first line another thread holds repeats that thread's
        lines (a Claude Code resume or fork). The lines it repeats are not recorded again;
        the thread that continues or forks the other says so (ADR 0011)."""
        app, agent = self.app, self.source.agent
        first = next((item.uuid for item in self.main.items if item.uuid), None)
        if first is None:
            return
        try:
            start: ConversationStart = app.repository.get(conversation_start_id(agent, first))
        except AggregateNotFoundError:
            self.changed.append(
                ConversationStart(
                    agent=agent, line_uuid=first, thread_id=self.conversation.thread_id
                )
            )
            return
        other = start.thread_id
        if other == self.conversation.thread_id:  # another importer got there first
            return
        theirs = app.item_uuids(other)
        mine = [item for item in self.main.items if item.uuid]
        repeated = [item for item in mine if item.uuid in theirs]
        if not repeated:
            return
        self.main.items = [i for i in self.main.items if not (i.uuid and i.uuid in theirs)]
        for key, mirrored in list(self.read.mirrored.items()):
            if mirrored.read_from and set(mirrored.read_from) <= theirs:
                del self.read.mirrored[key]  # a sub-agent of the other: mirrored there
        own = {item.uuid for item in mine}
        if theirs <= own:  # every line of the other, and more: this one continues it
            self.lineage = ("continued_from", other, len(repeated))
        elif own <= theirs:  # the other holds all of this one: it continued this one
            session: Session = app.repository.get(other)
            session.record_lineage("continued_from", self.conversation.thread_id, len(repeated))
            self.changed.append(session)
        else:  # both went on from the lines they share: a fork of the other
            self.lineage = ("forked_from", other, len(repeated))

    def _declared_lineage(self) -> None:
        """What the agent itself says a new conversation forks or continues (a Codex fork,
        a rollout made from another agent's session or from a ``threadline export``), when
        that conversation has a thread here. Its lines are the other's, so none repeat."""
        declared = self.main.lineage
        if declared is None or declared.kind == "subagent" or not declared.conversation_id:
            return
        other = self.app._conversation(declared.agent, declared.conversation_id)
        if other is None or other.thread_id == self.conversation.thread_id:
            return
        relation: Lineage = "forked_from" if declared.kind == "fork" else "continued_from"
        self.lineage = (relation, other.thread_id, 0)

    def _record_mirrored(self, *, append: bool, reason: ReplaceReason) -> None:
        """Sub-agents known only from this transcript's progress lines: a child thread
        each, kept up to date from here until their own transcript is imported."""
        app, agent, parent = self.app, self.source.agent, self.conversation.thread_id
        for key, content in self.read.mirrored.items():
            content.parent_thread_id = parent
            mirror = app._conversation(agent, key)
            if mirror is None:
                mirror = Conversation(
                    agent=agent, conversation_id=key, thread_id=conversation_thread_id(agent, key)
                )
                mirror.record_mirror(parent_thread_id=parent)
                self.changed.append(mirror)
                existing = None
            elif mirror.is_mirrored_by(parent):
                existing = mirror.thread_id
            else:  # its own transcript is the thread's content
                continue
            mode: ReadMode = "append" if append and existing else "full"
            recorded = app.record_thread(mirror.thread_id, content, mode, existing, reason)[1]
            self.changed.append(recorded)

    def _diverged(self, thread_id: UUID) -> Outcome:
        theirs = self.conversation.last_timestamp
        if theirs is None:  # a head an earlier release recorded: the thread knows
            session: Session = self.app.repository.get(thread_id)
            theirs = session.summary.updated_at
        mine = self.main.summary.updated_at
        self.divergence = Divergence(
            other_path=self.conversation.path,
            this_last_timestamp=mine,
            other_last_timestamp=theirs,
        )
        if _later(mine, theirs):
            return self._feed(thread_id, "full", "diverged_newer", reason="diverged")
        return "diverged_older"

    def _feed(
        self,
        existing: UUID | None,
        change: HeadChange,
        outcome: Outcome,
        reason: ReplaceReason = "source rewritten",
    ) -> Outcome:
        """Write this version into the thread, and make it the conversation's head."""
        app, read, conversation = self.app, self.read, self.conversation
        self.reason = reason
        mode: ReadMode = "append" if change == "append" else "full"
        thread_id = conversation.thread_id
        _, session = app.record_thread(thread_id, self.main, mode, existing, reason)
        if self.lineage is not None:
            relation, other, repeated = self.lineage
            session.record_lineage(relation, other, repeated)
        self.changed.append(session)
        sidechains = app._record_sidechains(
            thread_id,
            read,
            dict(conversation.sidechains),
            self.changed,
            replacing=change == "full" and existing is not None,
        )
        conversation.record_head(
            location=self.entry.id,
            path=self.source.path,
            change=change,
            version=read.version,
            pages=read.pages,
            sidechains=sidechains,
            sidechain_lines=read.sidechain_lines,
            items=session.item_count,
            last_timestamp=_latest_of(
                self.main.summary.updated_at,
                conversation.last_timestamp if change == "append" else None,
            ),
        )
        self.changed.append(conversation)
        return outcome

    def _record_ledger(self, outcome: Outcome, pages: list[SourcePage]) -> None:
        read, entry, conversation = self.read, self.entry, self.conversation
        entry.record(
            path=self.source.path,
            version=read.version,
            thread_id=conversation.thread_id,
            outcome=outcome,
            items_consumed=(
                len(self.main.items)
                if outcome in ("behind", "diverged_older")
                else conversation.items
            ),
            problems=len(read.problems),
            sidechains=dict(conversation.sidechains),
            pages=pages,
            sidechain_lines=read.sidechain_lines,
            conversation_id=self.key,
            divergence=self.divergence,
            meta=read.meta,
        )


def _own_resume_point(entry: Import) -> ResumePoint | None:
    """A location that is a conversation of its own resumes from its own last version."""
    if entry.version_read is None or entry.thread_id is None or entry.outcome == "rejected":
        return None
    v = entry.version_read
    return ResumePoint(
        v.consumed_bytes, v.consumed_sha256, v.consumed_lines, dict(entry.sidechain_lines)
    )


def _is_legacy_duplicate(entry: Import, conversation: Conversation) -> bool:
    """A location an earlier release gave a thread of its own, though its conversation's
    thread is another (two copies imported before conversations were indexed)."""
    return entry.thread_id is not None and entry.thread_id != conversation.thread_id


def _later(mine: datetime | None, theirs: datetime | None) -> bool:
    if mine is None:
        return False
    return theirs is None or mine > theirs


def _latest_of(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(a, b) if a and b else a or b
