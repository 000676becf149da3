"""Importing transcripts: the pipeline around ``Threadline.record_import``.

detect sources -> cheap skip (same size and mtime as the ledger) -> read,
parse and hash in one pass (in worker threads; hashing and SQLite release the
GIL) -> save the thread and its ledger entry atomically -> read models catch up.
A bounded number of sources is in flight at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

from eventsourcing.persistence import IntegrityError
from tenacity import (
    before_sleep_log,
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from application.ports import BlobStore, Problem, SourceFile, TranscriptReader
from application.threadline import Threadline

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 5
SourceOutcome = Literal["imported", "appended", "replaced", "skipped", "rejected", "failed"]
OUTCOMES: tuple[SourceOutcome, ...] = (
    "imported",
    "appended",
    "replaced",
    "skipped",
    "rejected",
    "failed",
)


@dataclass
class SourceReport:
    path: str
    outcome: SourceOutcome
    thread_id: str | None = None
    bytes_read: int = 0
    problems: list[Problem] = field(default_factory=list)


@dataclass
class ImportReport:
    sources: list[SourceReport] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    """Problems found while looking for sources (not tied to one source's import)."""
    seconds: float = 0.0

    def count(self, outcome: SourceOutcome) -> int:
        return sum(1 for s in self.sources if s.outcome == outcome)

    @property
    def all_problems(self) -> list[Problem]:
        return [*self.problems, *(p for s in self.sources for p in s.problems)]

    @property
    def bytes_read(self) -> int:
        return sum(s.bytes_read for s in self.sources)


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
        started = time.perf_counter()
        sources, problems = self.reader.discover(paths)
        report = ImportReport(problems=problems)
        if on_found:
            on_found(sources)
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="import") as pool:
            futures: list[Future[SourceReport]] = [
                pool.submit(self.import_source, source) for source in sources
            ]
            for future in futures:
                result = future.result()
                report.sources.append(result)
                if on_done:
                    on_done(result)
        if self.catch_up and any(s.outcome not in ("skipped", "failed") for s in report.sources):
            self.catch_up()
        report.seconds = time.perf_counter() - started
        return report

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
