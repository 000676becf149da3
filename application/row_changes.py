"""The row changes the projections ask of a read-model store, one small type each.

A change's fields are the values of its statement, in order, and their names are the
columns it writes: a store turns each type into one statement (``read_model_recorder``)
and runs a run of changes of the same type as one batch. Standard library only
(``NamedTuple``): cheap to import and to make, a hundred thousand at a time.
"""

from typing import NamedTuple


class InsertThread(NamedTuple):
    """A new thread's row. The summary's columns are those of ``UpdateSummary``."""

    thread_id: str
    title: str
    title_source: str
    preview: str
    first_user_message: str
    cwd: str | None
    git_branch: str | None
    git_sha: str | None
    git_origin: str | None
    models: str
    created_at: str | None
    updated_at: str | None
    source_agent: str
    source_path: str
    source_session_id: str | None
    agent_id: str | None
    parent_thread_id: str | None
    spawned_by_call_id: str | None


class UpdateSummary(NamedTuple):
    """A thread's summary as a later event has it (the key last, as in ``WHERE``)."""

    title: str
    title_source: str
    """``user``: the name the user gave (``Renamed``), which every later summary keeps."""
    preview: str
    first_user_message: str
    cwd: str | None
    git_branch: str | None
    git_sha: str | None
    git_origin: str | None
    models: str
    created_at: str | None
    updated_at: str | None
    thread_id: str


class AddToItemCount(NamedTuple):
    """Items recorded: the thread is updated no earlier than its newest item (a live
    session's items are the only news of it). ``newest`` twice: compared, then set."""

    added: int
    newest: str | None
    newest_again: str | None
    thread_id: str


class TitleFromFirstPrompt(NamedTuple):
    """A live session's first typed prompt titles it, unless the user named it first
    (a live session starts with no summary of its own: ``SessionConfigured``)."""

    title: str
    preview: str
    first_user_message: str
    thread_id: str


class Rename(NamedTuple):
    """The user's name for the thread (``title_source`` becomes ``user``)."""

    title: str
    thread_id: str


class SetArchived(NamedTuple):
    archived: int
    thread_id: str


class SetLineage(NamedTuple):
    """The thread continues or forks another (a Claude Code resume or fork; one is None)."""

    continued_from: str | None
    forked_from: str | None
    thread_id: str


class RegisterConversation(NamedTuple):
    """The conversation (the agent's own id) a thread holds, kept once: its index may be
    saved before the thread's first event (``LinkConversation`` then finds it)."""

    thread_id: str
    conversation_id: str
    conversation_index: str
    """The index aggregate's id, which its ``HeadRecorded`` events carry."""


class LinkConversation(NamedTuple):
    """The thread's row takes its conversation id, if already registered."""

    thread_id: str


class FollowHead(NamedTuple):
    """The conversation's thread now holds the bytes read at this location (a moved tree,
    a mirrored sub-agent's own transcript found): its row's source is that location."""

    source_path: str
    conversation_index: str


class ResetItemCount(NamedTuple):
    thread_id: str


class InsertSpawn(NamedTuple):
    """A parent's tool call that spawned the sub-agent ``agent_id`` (kept once)."""

    parent_thread_id: str
    agent_id: str
    call_id: str


class LinkSpawnedThread(NamedTuple):
    """The sub-agent's thread, if already there, learns the call that spawned it."""

    call_id: str
    parent_thread_id: str
    agent_id: str


class LinkSpawningCall(NamedTuple):
    """A new sub-agent thread looks up the call that spawned it, if already seen."""

    thread_id: str


class InsertHistory(NamedTuple):
    """One item's place in its thread: the event that holds it and its index there."""

    thread_id: str
    position: int
    type: str
    timestamp: str | None
    notification_id: int
    item_index: int


class ClearHistory(NamedTuple):
    thread_id: str


class RegisterSource(NamedTuple):
    """A ledger entry for a source seen for the first time."""

    import_id: str
    source_agent: str
    source_path: str


class RecordImport(NamedTuple):
    """What an import of the source did (the key last, as in ``WHERE``)."""

    thread_id: str | None
    size: int
    mtime_ns: int
    sha256: str
    consumed_bytes: int
    consumed_lines: int
    items: int
    outcome: str
    problems: int
    recorded_at: str
    version: int
    source_path: str
    gone: int
    """0: a location recorded is on disk again (it was, to be read)."""
    diverged_from: str | None
    """For a divergence (``diverged_newer`` / ``diverged_older``): the location whose
    version the thread held, and when each version's last line was written."""
    this_ends_at: str | None
    other_ends_at: str | None
    import_id: str


class TouchSource(NamedTuple):
    """The source's modification time moved, its bytes did not (and it is on disk)."""

    mtime_ns: int
    gone: int
    import_id: str


class MarkGone(NamedTuple):
    """The location was looked for and is no longer on disk; its thread stays."""

    import_id: str


class InsertSearch(NamedTuple):
    """One item to index: its searchable pieces (JSON, for snippets) and its text."""

    thread_id: str
    position: int
    role: str
    pieces: bytes
    text: str


class ClearSearch(NamedTuple):
    thread_id: str


class InsertUsage(NamedTuple):
    """An item that carries usage (``usage_messages``): where and when, then its numbers:
    tokens by kind, the tokens past 200k by priced kind, and the cache-creation tokens
    written to a one-hour cache (``application.usage``)."""

    thread_id: str
    position: int
    message_id: str | None
    timestamp: str
    slot: str
    model: str
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_read_tokens: int
    reasoning_tokens: int
    input_above: int
    output_above: int
    cache_creation_above: int
    cache_read_above: int
    cache_creation_1h_tokens: int


class AddToUsageBucket(NamedTuple):
    """Rows of one thread, UTC quarter-hour and model added to their bucket: the numbers
    of ``InsertUsage`` in its order (summed), how many rows, the first and last row's time."""

    thread_id: str
    slot: str
    model: str
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_read_tokens: int
    reasoning_tokens: int
    input_above: int
    output_above: int
    cache_creation_above: int
    cache_read_above: int
    cache_creation_1h_tokens: int
    messages: int
    first: str
    last: str


class CountMessageId(NamedTuple):
    """One more usage row has this message id."""

    message_id: str


class UncountMessageIds(NamedTuple):
    """The thread's usage rows no longer count for their message ids (before a rewrite
    clears them)."""

    thread_id: str


class ClearUsage(NamedTuple):
    thread_id: str


class ClearUsageBuckets(NamedTuple):
    thread_id: str


class InsertUsageThread(NamedTuple):
    """What a usage report groups and filters a thread by (kept anew if imported again)."""

    thread_id: str
    agent: str
    cwd: str | None
    title: str
    parent_thread_id: str | None
    sidechain: int


class UpdateUsageThread(NamedTuple):
    """A later summary's cwd (if it names one) and title."""

    cwd: str | None
    title: str
    thread_id: str


RowChange = (
    InsertThread
    | UpdateSummary
    | AddToItemCount
    | TitleFromFirstPrompt
    | Rename
    | SetArchived
    | SetLineage
    | RegisterConversation
    | LinkConversation
    | FollowHead
    | ResetItemCount
    | InsertSpawn
    | LinkSpawnedThread
    | LinkSpawningCall
    | InsertHistory
    | ClearHistory
    | RegisterSource
    | RecordImport
    | TouchSource
    | MarkGone
    | InsertSearch
    | ClearSearch
    | InsertUsage
    | AddToUsageBucket
    | CountMessageId
    | UncountMessageIds
    | ClearUsage
    | ClearUsageBuckets
    | InsertUsageThread
    | UpdateUsageThread
)
"""Every change a projection makes; a store has a statement (or a bulk path) for each."""

ROW_CHANGES: tuple[type[RowChange], ...] = RowChange.__args__  # type: ignore[attr-defined]
