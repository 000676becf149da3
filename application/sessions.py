"""Live sessions: start a new one or resume a stored one, after Codex's ``Session::new``.

Start-up runs four independent tasks concurrently (PR #2305): the rollout (a
new Session, or a stored one loaded with its items), the MCP connection
manager, default shell discovery and the prompt-history metadata. Failure
rules:

- a resume that fails is a hard error (``ResumeFailedError``) and records
  nothing; whatever the other tasks started is stopped first;
- a new session whose store cannot be opened or written runs unpersisted, and
  an ``Error`` event follows ``SessionConfigured``;
- a failed MCP manager, and each failed MCP server, is an ``Error`` event
  after ``SessionConfigured``;
- a save is retried under the store's fault policy (``store_faults``) with the
  events it writes held aside, so a failed try loses no item and skips no
  version; a save that still fails ends the session (``LiveSession.failure``)
  with an ``Error`` event, and what was saved before it stays readable and
  resumable (ADR 0006).

``SessionConfigured`` always comes first. The initial context (the user
instructions and the environment context) is recorded as one batch, on new
sessions and on resume. Blocking work (SQLite, files) runs in threads.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError

from threadline.application.store_faults import store_error_reason, with_store_retries
from threadline.application.threadline import Threadline
from threadline.domain.items import Item, SystemNote, UserMessage
from threadline.domain.session import Session, SessionSettings, check_cwd_is_absolute

Event = dict[str, Any]
"""What a session announces, as plain data: ``type`` is the event's name."""

FLUSH_AFTER_SECONDS = 0.1
"""Recorded items wait this long for others to share their write."""
FLUSH_AT_ITEMS = 256
"""...unless this many are waiting."""
SAVE_PATIENCE_SECONDS = 30.0
"""A save's transient fault (a restarting server, a held lock) is retried for this long at
least, and at least as often as an import's: a session, unlike an import, cannot be rerun."""


# -- configuration and what the start-up tasks report -------------------------


@dataclass(frozen=True)
class McpServerConfig:
    """One ``[mcp_servers.NAME]`` table, in Codex's shape."""

    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    startup_timeout_sec: float = 10.0


@dataclass(frozen=True)
class SessionConfig:
    settings: SessionSettings
    mcp_servers: Mapping[str, McpServerConfig] = field(default_factory=dict)


@dataclass(frozen=True)
class Shell:
    kind: str
    """bash, zsh, fish, sh, ... (the executable's name)."""
    path: str
    rc_file: str | None


@dataclass(frozen=True)
class HistoryMetadata:
    log_id: str
    """Stable while the prompt log is the same file; "" when there is no log."""
    entry_count: int


@dataclass(frozen=True)
class McpStartup:
    tools: list[str]
    """Qualified ``server__tool`` names."""
    failures: dict[str, str]
    """Server name -> why it did not start, in configuration order."""


# -- ports ----------------------------------------------------------------------


class SessionStore(Protocol):
    @property
    def app(self) -> Threadline: ...

    @property
    def location(self) -> str: ...

    def close(self) -> None: ...


class McpConnections(Protocol):
    async def start(self, servers: Mapping[str, McpServerConfig]) -> McpStartup: ...

    async def call_tool(self, tool: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Call a qualified ``server__tool``; the result as plain data (``is_error``,
        ``content``, ``structured_content``). Raises ``LookupError`` for an unknown tool."""
        ...

    async def stop(self) -> None: ...


class PromptHistory(Protocol):
    def metadata(self) -> HistoryMetadata: ...

    def append(self, session_id: UUID, text: str) -> None: ...


@dataclass
class SessionServices:
    """The adapters a session runs on (``adapters.sessions.session_services`` builds them)."""

    open_store: Callable[[], SessionStore]
    mcp: Callable[[], McpConnections]
    discover_shell: Callable[[], Shell]
    prompt_history: PromptHistory


class ResumeFailedError(Exception):
    pass


class SessionEndedError(Exception):
    """The store failed for good while the session ran: it records nothing more."""


class ThreadChangedError(Exception):
    """Another writer saved the versions a session's start-up meant to write."""


# -- the use cases --------------------------------------------------------------


class Sessions:
    def __init__(self, services: SessionServices) -> None:
        self.services = services

    async def start_session(self, config: SessionConfig) -> LiveSession:
        """A new session: an id minted, ``SessionConfigured`` recorded."""
        check_cwd_is_absolute(config.settings.cwd)
        return await self._start(config, resume=None)

    async def resume_session(self, thread_id: UUID, config: SessionConfig) -> LiveSession:
        """A stored thread continued live; raises ``ResumeFailedError``."""
        check_cwd_is_absolute(config.settings.cwd)
        return await self._start(config, resume=thread_id)

    async def _start(self, config: SessionConfig, resume: UUID | None) -> LiveSession:
        rollout = self._resume(resume, config) if resume else self._new(config)
        results = await asyncio.gather(
            rollout,
            self._mcp(config.mcp_servers),
            asyncio.to_thread(self.services.discover_shell),
            asyncio.to_thread(self.services.prompt_history.metadata),
            return_exceptions=True,
        )
        opened, mcp_result, shell, history = results
        if isinstance(mcp_result, BaseException):
            raise mcp_result
        mcp, mcp_error, startup = mcp_result
        if isinstance(opened, BaseException):
            await mcp.stop()
            raise opened
        if isinstance(shell, BaseException):
            shell = Shell(kind="sh", path="/bin/sh", rc_file=None)
        if isinstance(history, BaseException):
            history = HistoryMetadata(log_id="", entry_count=0)
        session, store, restored, errors = opened

        session.record_items(initial_context(config.settings, shell, session.item_count))
        if store is not None:
            try:
                session = await asyncio.to_thread(save_session, store.app, session)
            except Exception as exc:
                await asyncio.to_thread(store.close)
                if resume:
                    await mcp.stop()
                    reason = store_error_reason(exc)
                    raise ResumeFailedError(f"failed to resume thread {resume}: {reason}") from exc
                store = None
                errors.append(f"failed to persist the session: {store_error_reason(exc)}")
        if store is None:
            session.collect_events()

        if mcp_error:
            errors.append(mcp_error)
        errors.extend(
            f"MCP client for `{name}` failed to start: {why}"
            for name, why in startup.failures.items()
        )
        configured: Event = {
            "type": "SessionConfigured",
            "session_id": str(session.id),
            "model": config.settings.model,
            "resumed": resume is not None,
            "history_log_id": history.log_id,
            "history_entry_count": history.entry_count,
            "stored_in": store.location if store else None,
            "mcp_tools": startup.tools,
            "shell": {"kind": shell.kind, "path": shell.path, "rc_file": shell.rc_file},
        }
        if resume:
            configured["initial_messages"] = [
                item.model_dump(mode="json") for item in restored if item.type in _MESSAGES
            ]
        events = [configured, *({"type": "Error", "message": e} for e in errors)]
        return LiveSession(session, store, mcp, self.services.prompt_history, shell, events)

    async def _new(
        self, config: SessionConfig
    ) -> tuple[Session, SessionStore | None, list[Item], list[str]]:
        session = Session.configure(thread_id=uuid4(), settings=config.settings)
        try:
            store: SessionStore | None = await asyncio.to_thread(self.services.open_store)
        except Exception as exc:
            return session, None, [], [f"failed to initialize rollout recorder: {exc}"]
        return session, store, [], []

    async def _resume(
        self, thread_id: UUID, config: SessionConfig
    ) -> tuple[Session, SessionStore | None, list[Item], list[str]]:
        try:
            store = await asyncio.to_thread(self.services.open_store)
        except Exception as exc:
            raise ResumeFailedError(f"failed to resume thread {thread_id}: {exc}") from exc
        try:
            session, items = await asyncio.to_thread(store.app.load_session, thread_id)
            session.resume(settings=config.settings)
        except Exception as exc:
            await asyncio.to_thread(store.close)
            raise ResumeFailedError(f"failed to resume thread {thread_id}: {exc}") from exc
        return session, store, items, []

    async def _mcp(
        self, servers: Mapping[str, McpServerConfig]
    ) -> tuple[McpConnections, str | None, McpStartup]:
        manager: McpConnections | None = None
        try:
            manager = self.services.mcp()
            return manager, None, await manager.start(servers)
        except Exception as exc:
            if manager is not None:  # stop whatever it started before it failed
                with contextlib.suppress(Exception):
                    await manager.stop()
            error = f"failed to create the MCP connection manager: {exc}"
            return _NoMcp(), error, McpStartup(tools=[], failures={})


_MESSAGES = ("user", "assistant")


def save_session(
    app: Threadline, session: Session, patience: float = SAVE_PATIENCE_SECONDS
) -> Session:
    """Save what ``session`` recorded since its last save; the session as saved.

    The library's ``save`` takes the pending events off the aggregate before it writes,
    so they are taken off here first and every try writes those same events: a failed
    try loses none and skips no version. Transient faults are retried under the store's
    policy for ``patience`` seconds; a conflict means the versions are taken: by an
    earlier try that committed after all (then it is saved), or by another writer (then
    the thread is reloaded and the items are recorded again after what it wrote). Raises
    the store's error, or ``ThreadChangedError``, when it gives up.
    """
    events = session.collect_events()
    saved = session

    def attempt() -> None:
        nonlocal saved, events
        try:
            app.save(*events)
        except IntegrityError:
            if _already_stored(app, events):
                return
            saved, events = _rebased(app, saved.id, events)
            raise

    if events:
        with_store_retries(f"thread {session.id}", attempt, patience=patience)
    return saved


def _already_stored(app: Threadline, events: Sequence[Any]) -> bool:
    first, last = events[0], events[-1]
    stored = app.events.get(
        first.originator_id, gt=first.originator_version - 1, lte=last.originator_version
    )
    return list(stored) == list(events)


def _rebased(app: Threadline, thread_id: UUID, events: Sequence[Any]) -> tuple[Session, list[Any]]:
    """The thread as stored now, with the items of ``events`` recorded after what it holds."""
    if not all(isinstance(e, Session.ItemsRecorded) for e in events):  # type: ignore[attr-defined]
        raise ThreadChangedError("another process wrote to the thread as this session started")
    session: Session = app.repository.get(thread_id)
    items = [item for e in events for item in e.items]
    session.record_items(
        [item.model_copy(update={"line": session.item_count + n}) for n, item in enumerate(items)]
    )
    return session, list(session.collect_events())


def initial_context(settings: SessionSettings, shell: Shell, position: int) -> list[Item]:
    """The user-instructions message and the environment context, as one batch."""
    now = datetime.now(UTC)
    items: list[Item] = []
    if settings.user_instructions:
        items.append(
            UserMessage(line=position, timestamp=now, parts=[settings.user_instructions], meta=True)
        )
    environment = {
        "cwd": settings.cwd,
        "approval_policy": settings.approval_policy,
        "sandbox_policy": settings.sandbox_policy,
        "shell": shell.kind,
    }
    items.append(
        SystemNote(
            line=position + len(items),
            timestamp=now,
            subtype="environment_context",
            data=environment,
        )
    )
    return items


class _NoMcp:
    """The empty manager a session gets when its MCP manager could not be created."""

    async def start(self, servers: Mapping[str, McpServerConfig]) -> McpStartup:
        return McpStartup(tools=[], failures={})

    async def call_tool(self, tool: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        raise LookupError(f"no MCP tool {tool!r}")

    async def stop(self) -> None:
        return None


# -- a running session ----------------------------------------------------------


class LiveSession:
    """A session after start-up: records items in batches until ``shutdown``.

    A live item's ``line`` is its position in the thread.
    """

    def __init__(
        self,
        session: Session,
        store: SessionStore | None,
        mcp: McpConnections,
        prompt_history: PromptHistory,
        shell: Shell,
        events: list[Event],
    ) -> None:
        self._session = session
        self._store = store
        self._mcp = mcp
        self._history = prompt_history
        self.shell = shell
        self.events = events
        """What start-up announced: ``SessionConfigured`` first, then any errors."""
        self.on_event: Callable[[Event], None] | None = None
        """Told of every event announced after start-up (e.g. a failed write)."""
        self._pending: list[Item] = []
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._flushes: set[asyncio.Task[None]] = set()
        self._closed = False
        self.failure: str | None = None
        """Why the store ended the session; nothing is recorded after it."""

    @property
    def id(self) -> UUID:
        return self._session.id

    @property
    def persisted(self) -> bool:
        return self._store is not None

    @property
    def next_position(self) -> int:
        return self._session.item_count + len(self._pending)

    def record(self, items: Sequence[Item]) -> None:
        """Queue items; they are written together shortly, or at ``shutdown``."""
        if self._closed:
            raise RuntimeError("the session has shut down")
        if self.failure is not None:
            raise SessionEndedError(self.failure)
        self._pending.extend(items)
        if len(self._pending) >= FLUSH_AT_ITEMS:
            self._flush_soon(0)
        elif self._timer is None:
            self._flush_soon(FLUSH_AFTER_SECONDS)

    async def submit_prompt(self, text: str) -> None:
        """Record a user prompt and append it to the prompt log."""
        now = datetime.now(UTC)
        self.record([UserMessage(line=self.next_position, timestamp=now, parts=[text])])
        try:
            await asyncio.to_thread(self._history.append, self.id, text)
        except Exception as exc:
            self._announce(
                {"type": "Error", "message": f"failed to append to the prompt log: {exc}"}
            )

    async def call_tool(self, tool: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Call one of the MCP tools ``SessionConfigured`` listed (``server__tool``)."""
        return await self._mcp.call_tool(tool, arguments)

    async def flush(self) -> None:
        """Write every queued item now, in one save."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        async with self._lock:
            batch, self._pending = self._pending, []
            if not batch or self.failure is not None:
                return
            first = self._session.item_count
            self._session.record_items(batch)
            if self._store is None:
                self._session.collect_events()
                return
            try:
                self._session = await asyncio.to_thread(
                    save_session, self._store.app, self._session
                )
            except Exception as exc:
                self._end(store_error_reason(exc), first)

    def _end(self, reason: str, first_unsaved: int) -> None:
        """The store failed for good: record nothing more, and say what was not saved."""
        self.failure = reason
        unsaved = self.next_position - first_unsaved
        self._pending = []
        items = f"{unsaved} item{'s' if unsaved != 1 else ''}"
        last = first_unsaved + unsaved - 1
        at = f"position {last}" if unsaved == 1 else f"positions {first_unsaved}-{last}"
        self._announce(
            {
                "type": "Error",
                "message": f"failed to record items: {reason}; the session ends, its last "
                f"{items} ({at}) not saved; the thread keeps everything before them and "
                "can be resumed",
            }
        )

    async def shutdown(self) -> None:
        """Flush, stop every MCP server, close the store. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.flush()
            if self._flushes:
                await asyncio.gather(*self._flushes, return_exceptions=True)
        finally:
            try:
                await self._mcp.stop()
            finally:
                if self._store is not None:
                    await asyncio.to_thread(self._store.close)

    def _flush_soon(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(delay, self._start_flush)

    def _start_flush(self) -> None:
        self._timer = None
        task = asyncio.get_running_loop().create_task(self.flush())
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    def _announce(self, event: Event) -> None:
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)
