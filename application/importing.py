"""Importing one source, under the store-fault policy (``store_faults``).

Per source: check the ledger entry -> read, parse and hash in one pass -> save the
thread and its ledger entry atomically (``Threadline.record_import``), retried on
conflicts and transient faults. A bounded number of sources is in flight at once,
on threads (hashing and SQLite release the GIL). The pipeline around it (discover,
cheap skip, catch-up, report) is the use case in ``import_transcripts``; large
imports run a ``TranscriptImporter`` in each of a process per core
(``adapters/import_workers.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial

from eventsourcing.persistence import IntegrityError, PersistenceError

from threadline.application.ports import BlobStore, Problem, SourceFile, SourceReader
from threadline.application.reports import SourceReport
from threadline.application.store_faults import store_error_reason, with_store_retries
from threadline.application.threadline import Threadline

DEFAULT_CONCURRENCY = 5


class TranscriptImporter:
    """Imports whole sources into one open store, a bounded number at a time on threads:
    an ``ImportExecutor`` for ``import_transcripts``, and each worker process's importer."""

    def __init__(
        self,
        app: Threadline,
        reader: SourceReader,
        blobs: BlobStore,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        catch_up: Callable[[], object] | None = None,
    ) -> None:
        self.app = app
        self.reader = reader
        self.blobs = blobs
        self.concurrency = max(1, concurrency)
        self._catch_up = catch_up
        self.store_error: str | None = None
        """Set once the store failed for good; the sources after it are not tried."""

    def import_sources(
        self, sources: list[SourceFile], on_done: Callable[[SourceReport], None] | None = None
    ) -> list[SourceReport]:
        """Import each source on a pool of threads; a report for each, in order."""
        reports = []
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="import") as pool:
            futures: list[Future[SourceReport]] = [
                pool.submit(self.import_source, source) for source in sources
            ]
            for future in futures:
                result = future.result()
                reports.append(result)
                if on_done:
                    on_done(result)
        return reports

    def catch_up(self) -> None:
        if self._catch_up is not None:
            self._catch_up()

    def record_gone(self, locations: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Each (agent, path) the ledger has, recorded as gone from disk (once: a location
        already gone records nothing); those the ledger had."""
        return [
            (agent, path)
            for agent, path in locations
            if with_store_retries(path, partial(self.app.record_gone, agent, path))
        ]

    def import_source(self, source: SourceFile) -> SourceReport:
        """One source, retried on store conflicts and transient faults; never raises for
        bad input or a failing store: the report says what went wrong."""
        if self.store_error is not None:  # every other source would fail the same way
            return _failed(source, f"not imported: {self.store_error}", self.store_error)
        try:
            return with_store_retries(source.path, lambda: self._import_once(source))
        except OSError as exc:
            return _failed(source, f"cannot read: {exc.strerror or exc}")
        except PersistenceError as exc:
            reason = store_error_reason(exc)
            if isinstance(exc, IntegrityError):  # a conflict is this source's alone
                return _failed(source, f"not imported: {reason}")
            self.store_error = reason
            return _failed(source, f"not imported: {reason}", reason)

    def _import_once(self, source: SourceFile) -> SourceReport:
        """One try: a conflict with a concurrent importer raises IntegrityError, and the
        retry re-reads the ledger (then finds nothing, or less, to do)."""
        entry = self.app.ledger_entry(source)
        thread_id = str(entry.thread_id) if entry and entry.thread_id else None
        if entry is not None and entry.is_unchanged(source.size, source.mtime_ns):
            if entry.gone:  # put back as it was: the ledger no longer calls it gone
                self.app.record_touch(entry, source.mtime_ns)
            return SourceReport(source.path, "skipped", thread_id, agent=source.agent)
        resume = self.app.resume_point(entry)
        read = self.reader.read(source, resume, self.blobs)
        report = SourceReport(
            source.path,
            "skipped",
            thread_id,
            bytes_read=read.version.size,
            problems=read.problems,
            agent=source.agent,
        )
        before = entry.version_read if entry else None
        if entry is not None and before is not None and read.version.sha256 == before.sha256:
            if read.version.mtime_ns != before.mtime_ns:  # touched: next time, the cheap skip
                self.app.record_touch(entry, read.version.mtime_ns)
            return report  # same bytes: nothing else to write
        if (
            before is not None
            and read.mode == "append"
            and read.version.consumed_bytes == before.consumed_bytes
        ):
            return report  # nothing new complete: nothing to write
        report.outcome = self.app.record_import(source, read, entry)
        if read.copy_of is not None and report.outcome == "known":
            report.thread_id = read.copy_of  # an export of that thread
        elif report.outcome != "rejected":
            report.thread_id = str(self.app.thread_id_for(source))
        return report


def _failed(source: SourceFile, reason: str, store_error: str | None = None) -> SourceReport:
    return SourceReport(
        source.path,
        "failed",
        problems=[Problem(source.path, 0, reason)],
        store_error=store_error,
        agent=source.agent,
    )
