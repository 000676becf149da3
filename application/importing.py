"""Importing transcripts in one process: the pipeline around ``Threadline.record_import``.

detect sources -> cheap skip (same size and mtime as the ledger) -> read,
parse and hash in one pass -> save the thread and its ledger entry atomically
-> read models catch up. A bounded number of sources is in flight at once, on
threads (hashing and SQLite release the GIL). The CLI skips unchanged sources
before loading any of this and spreads large imports over one process per core
(``adapters/import_workers.py``), each running ``import_source``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor

from eventsourcing.persistence import IntegrityError
from tenacity import (
    before_sleep_log,
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from application.ports import BlobStore, Problem, SourceFile, TranscriptReader
from application.reports import ImportReport, SourceReport
from application.threadline import Threadline

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 5


class TranscriptImporter:
    def __init__(
        self,
        app: Threadline,
        reader: TranscriptReader,
        blobs: BlobStore,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        catch_up: Callable[[], object] | None = None,
    ) -> None:
        self.app = app
        self.reader = reader
        self.blobs = blobs
        self.concurrency = max(1, concurrency)
        self.catch_up = catch_up

    def run(
        self,
        paths: Iterable[str],
        *,
        on_found: Callable[[list[SourceFile]], None] | None = None,
        on_done: Callable[[SourceReport], None] | None = None,
    ) -> ImportReport:
        """Find the sources under ``paths`` and import each."""
        started = time.perf_counter()
        sources, problems = self.reader.discover(paths)
        report = self.import_sources(sources, ImportReport(problems=problems), on_found, on_done)
        report.seconds = time.perf_counter() - started
        return report

    def import_sources(
        self,
        sources: list[SourceFile],
        report: ImportReport,
        on_found: Callable[[list[SourceFile]], None] | None = None,
        on_done: Callable[[SourceReport], None] | None = None,
    ) -> ImportReport:
        """Import each source, a bounded number at a time; then catch the read models up."""
        if on_found:
            on_found(sources)
        report.sources.extend(self.import_each(sources, on_done))
        if self.catch_up and any(s.outcome not in ("skipped", "failed") for s in report.sources):
            self.catch_up()
        return report

    def import_each(
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

    def import_source(self, source: SourceFile) -> SourceReport:
        try:
            return self._import_with_retries(source)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            return SourceReport(
                source.path, "failed", problems=[Problem(source.path, 0, f"cannot read: {reason}")]
            )

    @retry(
        retry=retry_if_exception_type(IntegrityError),
        stop=stop_after_attempt(8),
        wait=wait_random_exponential(multiplier=0.01, max=0.5),
        before_sleep=before_sleep_log(log, logging.INFO),
        reraise=True,
    )
    def _import_with_retries(self, source: SourceFile) -> SourceReport:
        """One source; a conflict with a concurrent importer re-reads the ledger and retries."""
        entry = self.app.ledger_entry(source)
        thread_id = str(entry.thread_id) if entry and entry.thread_id else None
        if entry is not None and entry.is_unchanged(source.size, source.mtime_ns):
            return SourceReport(source.path, "skipped", thread_id)
        resume = self.app.resume_point(entry)
        read = self.reader.read(source, resume, self.blobs)
        report = SourceReport(
            source.path, "skipped", thread_id, bytes_read=read.version.size, problems=read.problems
        )
        before = entry.version_read if entry else None
        if before is not None and (
            read.version.sha256 == before.sha256
            or (read.mode == "append" and read.version.consumed_bytes == before.consumed_bytes)
        ):
            return report  # same bytes, or nothing new complete: nothing to write
        report.outcome = self.app.record_import(source, read, entry)
        if report.outcome != "rejected":
            report.thread_id = str(self.app.thread_id_for(source))
        return report
