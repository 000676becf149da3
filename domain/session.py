"""The Session aggregate: one conversation thread.

An imported transcript becomes a Session created by ``SessionImported``. Its
history is recorded in ``ItemsRecorded`` chunks (many items per event). A source
that grew is followed by ``TranscriptAppended`` plus the new chunks; a source
rewritten in place by ``HistoryReplaced`` plus the whole new history, under the
same thread id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from eventsourcing.domain import event

from threadline.domain.base import Aggregate, Immutable
from threadline.domain.items import Item

MAX_ITEMS_PER_CHUNK = 1000


class TranscriptSource(Immutable):
    """Which agent's transcript a thread was imported from."""

    agent: str
    path: str
    session_id: str | None = None
    agent_id: str | None = None
    """The sub-agent id, for a sub-agent transcript."""


class GitInfo(Immutable):
    branch: str | None = None
    sha: str | None = None
    origin: str | None = None


TitleSource = Literal["user", "custom", "ai", "prompt", "fallback"]
"""``user``: named here (``Session.rename``), which no title a source writes replaces."""
_TITLE_RANK: dict[str, int] = {"user": 4, "custom": 3, "ai": 2, "prompt": 1, "fallback": 0}


class ThreadSummary(Immutable):
    """What the thread list shows, derived from the whole transcript."""

    title: str
    title_source: TitleSource = "prompt"
    preview: str
    first_user_message: str
    cwd: str | None
    git: GitInfo | None
    models: list[str]
    created_at: datetime | None
    updated_at: datetime | None

    def followed_by(self, later: ThreadSummary) -> ThreadSummary:
        """This summary updated with what lines appended later say.

        A later custom or AI title wins over an earlier title of the same or a
        lower kind; a title from the first prompt never replaces one we have.
        """
        mine, theirs = _TITLE_RANK[self.title_source], _TITLE_RANK[later.title_source]
        later_wins = (theirs >= 2 and theirs >= mine) or (mine == 0 and theirs > 0)
        return ThreadSummary(
            title=later.title if later_wins else self.title,
            title_source=later.title_source if later_wins else self.title_source,
            preview=self.preview or later.preview,
            first_user_message=self.first_user_message or later.first_user_message,
            cwd=self.cwd or later.cwd,
            git=self.git or later.git,
            models=self.models + [m for m in later.models if m not in self.models],
            created_at=_earliest(self.created_at, later.created_at),
            updated_at=_latest(self.updated_at, later.updated_at),
        )


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return min(a, b) if a and b else a or b


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(a, b) if a and b else a or b


class SessionSettings(Immutable):
    """How a live session is configured: which model, where, and what it may do."""

    model: str
    provider: str
    reasoning_effort: str | None = None
    cwd: str
    approval_policy: str
    sandbox_policy: str
    user_instructions: str | None = None


ReplaceReason = Literal["source rewritten", "diverged", "sub-agent file found"]
"""``source rewritten``: the location that fed the thread was rewritten in place;
``diverged``: another location holds a diverged version that ends later; ``sub-agent file
found``: a sub-agent known from its parent's progress lines has its own transcript."""
Lineage = Literal["continued_from", "forked_from"]

LIVE_AGENT = "threadline"
"""The ``source.agent`` of a thread started here rather than imported."""


class Session(Aggregate):
    @staticmethod
    def create_id(thread_id: UUID, **_: object) -> UUID:
        return thread_id

    @event("SessionImported")
    def __init__(
        self,
        thread_id: UUID,
        source: TranscriptSource,
        summary: ThreadSummary,
        parent_thread_id: UUID | None = None,
        spawned_by_call_id: str | None = None,
    ) -> None:
        self.source = source
        self.summary = summary
        self.parent_thread_id = parent_thread_id
        self.spawned_by_call_id = spawned_by_call_id
        self.item_count = 0
        self.settings: SessionSettings | None = None
        self._init_user_state()

    def _init_user_state(self) -> None:
        self.user_title: str | None = None
        self.archived = False
        self.continued_from: UUID | None = None
        self.forked_from: UUID | None = None
        self.exports: dict[tuple[str, str], str] = {}
        """(target, id there) -> the sha256 of the content last exported there."""

    class SessionConfigured(Aggregate.Created):
        """A live session started here: a second created event beside ``SessionImported``.

        It does not run ``__init__`` (whose parameters are an import's); the
        session is built from its settings.
        """

        thread_id: UUID
        settings: SessionSettings

        def mutate(self, aggregate: Any) -> Any:
            assert aggregate is None
            session = Session.__new__(Session)
            session.__base_init__(
                originator_id=self.originator_id,
                originator_version=self.originator_version,
                timestamp=self.timestamp,
            )
            session._apply_settings(self.settings, self.timestamp)
            return session

    @classmethod
    def configure(cls, thread_id: UUID, settings: SessionSettings) -> Session:
        """A new live session."""
        check_cwd_is_absolute(settings.cwd)
        return cls._create(cls.SessionConfigured, thread_id=thread_id, settings=settings)

    def _apply_settings(self, settings: SessionSettings, at: datetime) -> None:
        self.source = TranscriptSource(agent=LIVE_AGENT, path=settings.cwd, session_id=str(self.id))
        self.summary = ThreadSummary(
            title="",
            title_source="fallback",
            preview="",
            first_user_message="",
            cwd=settings.cwd,
            git=None,
            models=[settings.model],
            created_at=at,
            updated_at=at,
        )
        self.parent_thread_id = None
        self.spawned_by_call_id = None
        self.item_count = 0
        self.settings = settings
        self._init_user_state()

    @event("RolloutResumed")
    def resume(self, settings: SessionSettings) -> None:
        """A stored thread continues live; its initial context follows in one batch."""
        check_cwd_is_absolute(settings.cwd)
        self.settings = settings

    @event("ItemsRecorded")
    def _record_chunk(self, first_position: int, items: list[Item]) -> None:
        check_is_next_position(self.item_count, first_position)
        self.item_count += len(items)

    def record_items(self, items: list[Item]) -> None:
        """Record items in chunks of at most ``MAX_ITEMS_PER_CHUNK``."""
        for start in range(0, len(items), MAX_ITEMS_PER_CHUNK):
            self._record_chunk(
                first_position=self.item_count,
                items=items[start : start + MAX_ITEMS_PER_CHUNK],
            )

    def transcript_appended(self, summary: ThreadSummary) -> None:
        """The source grew; its new items follow in ``ItemsRecorded`` chunks."""
        self._appended(summary=self._keeping_user_title(summary))

    @event("TranscriptAppended")
    def _appended(self, summary: ThreadSummary) -> None:
        self.summary = summary

    def replace_history(self, summary: ThreadSummary, reason: ReplaceReason) -> None:
        """The whole new history follows (``reason`` says why)."""
        self._replaced(summary=self._keeping_user_title(summary), reason=reason)

    @event("HistoryReplaced")
    def _replaced(self, summary: ThreadSummary, reason: ReplaceReason) -> None:
        self.summary = summary
        self.item_count = 0

    # -- the user's own names ------------------------------------------------

    def rename(self, title: str) -> None:
        """A name the user gave: it wins over every title a source writes, now or later."""
        title = " ".join(title.split())
        check_title_given(title)
        if title != self.user_title:
            self._renamed(title=title)

    @event("Renamed")
    def _renamed(self, title: str) -> None:
        self.user_title = title
        self.summary = self.summary.model_copy(update={"title": title, "title_source": "user"})

    def archive(self) -> None:
        if not self.archived:
            self._archived()

    @event("Archived")
    def _archived(self) -> None:
        self.archived = True

    def unarchive(self) -> None:
        if self.archived:
            self._unarchived()

    @event("Unarchived")
    def _unarchived(self) -> None:
        self.archived = False

    def _keeping_user_title(self, summary: ThreadSummary) -> ThreadSummary:
        """``summary`` as the thread shows it: with the user's name, if they gave one."""
        if self.user_title is None:
            return summary
        return summary.model_copy(update={"title": self.user_title, "title_source": "user"})

    # -- exports -------------------------------------------------------------

    def record_export(self, agent: str, target: str, rollout_id: str, sha256: str) -> bool:
        """The thread was written for ``agent`` (``codex``) into ``target`` (its home) as
        ``rollout_id``, the content hashing to ``sha256``; False, and no event, when that
        content was recorded there before."""
        if self.exports.get((target, rollout_id)) == sha256:
            return False
        self._exported(agent=agent, target=target, rollout_id=rollout_id, sha256=sha256)
        return True

    @event("Exported")
    def _exported(self, agent: str, target: str, rollout_id: str, sha256: str) -> None:
        self.exports[(target, rollout_id)] = sha256

    # -- lineage -------------------------------------------------------------

    def record_lineage(self, relation: Lineage, thread_id: UUID, repeated_lines: int) -> None:
        """This conversation repeats ``repeated_lines`` lines of thread ``thread_id`` (a
        Claude Code resume or fork), which are not recorded here as items a second time."""
        check_not_own_lineage(self.id, thread_id)
        if (self.continued_from, self.forked_from) == (None, None):
            self._lineage(relation=relation, thread_id=thread_id, repeated_lines=repeated_lines)

    @event("LineageRecorded")
    def _lineage(self, relation: Lineage, thread_id: UUID, repeated_lines: int) -> None:
        if relation == "continued_from":
            self.continued_from = thread_id
        else:
            self.forked_from = thread_id


class HistoryOutOfOrderError(Exception):
    pass


def check_is_next_position(item_count: int, first_position: int) -> None:
    if first_position != item_count:
        raise HistoryOutOfOrderError(
            f"items must continue at position {item_count}, not {first_position}"
        )


class TitleNotGivenError(ValueError):
    pass


def check_title_given(title: str) -> None:
    if not title:
        raise TitleNotGivenError("a thread's name cannot be empty")


class OwnLineageError(ValueError):
    pass


def check_not_own_lineage(thread_id: UUID, other: UUID) -> None:
    if thread_id == other:
        raise OwnLineageError("a thread cannot continue or fork itself")


class CwdNotAbsoluteError(ValueError):
    pass


def check_cwd_is_absolute(cwd: str) -> None:
    if not cwd.startswith("/"):
        raise CwdNotAbsoluteError(f"cwd must be an absolute path, not {cwd!r}")
