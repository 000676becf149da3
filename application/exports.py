"""Exporting a thread to another agent: write it there, then record it on the thread.

The write comes first and the ``Exported`` event after it, so a crash between the two
leaves a file and no event; the next export finds the same file (it writes nothing)
and records the event then. The same content exported to the same place again records
nothing (``Session.record_export``). Recording is retried when another writer saved the
thread first (an import that appended to it), as every store write is (ADR 0008).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from threadline.application.store_faults import with_store_retries
from threadline.application.threadline import Threadline
from threadline.domain.session import Session


@dataclass(frozen=True)
class Written:
    """What an agent's exporter wrote (or found already written)."""

    agent: str
    target: str
    """Where: the agent's home directory."""
    rollout_id: str
    """The thread's id there."""
    path: str
    sha256: str
    written: bool
    """False when the same content was there already."""


@dataclass(frozen=True)
class ExportResult:
    written: Written
    recorded: bool
    """Whether an ``Exported`` event was recorded on the thread."""


def export_thread(app: Threadline, thread_id: UUID, write: Callable[[], Written]) -> ExportResult:
    """Write the thread with ``write``, then record the export on it (once per content).

    Raises ``AggregateNotFoundError`` before writing anything when the store has no such
    thread, and whatever ``write`` raises."""
    app.repository.get(thread_id)
    written = write()

    def record() -> bool:
        session: Session = app.repository.get(thread_id)
        if not session.record_export(
            written.agent, written.target, written.rollout_id, written.sha256
        ):
            return False
        app.save(session)
        return True

    recorded = with_store_retries(f"recording the export of thread {thread_id}", record)
    return ExportResult(written=written, recorded=recorded)
