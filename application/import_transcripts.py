"""The import use case: find the transcripts, skip the unchanged ones, import the rest,
catch the read models up, report.

    discover -> cheap skip (same size and mtime as the ledger recorded) -> import the
    changed sources (an ``ImportExecutor``: threads here, or a process per core)
    -> catch the read models up -> one ``ImportReport``

An unchanged re-import is the common case and the one to keep fast (ADR 0004): it
runs on the ports alone, so this module is standard library only, and the executor
(which loads the event-sourcing stack) is only made when something changed. A ledger
behind the events can only make the cheap skip do more work, never skip a change:
the executor checks each source against the ledger's own aggregate again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from threadline.application.reports import ImportReport, SourceReport
from threadline.application.sources import Problem, SourceFile

OnDone = Callable[[SourceReport], None]


Discover = Callable[[Iterable[str]], tuple[list[SourceFile], list[Problem]]]
"""Finds an agent's transcripts under some paths: ``TranscriptReader.discover``, or the
light function it calls (``adapters.claude_code.discovery.discover``)."""


class LedgerReader(Protocol):
    """What the ledger recorded (``ReadModels.recorded_versions`` is one)."""

    def recorded_versions(self) -> dict[str, tuple[int, int, str | None]]:
        """Per source path, the size and mtime the ledger recorded, and its thread."""
        ...


class ImportExecutor(Protocol):
    """Imports whole sources, each in one atomic save (``TranscriptImporter`` on threads,
    ``adapters.import_workers.WorkerProcesses`` on a process per core)."""

    def import_sources(
        self, sources: list[SourceFile], on_done: OnDone | None = None
    ) -> list[SourceReport]:
        """A report for each source; never raises for bad input or a failing store."""
        ...

    def catch_up(self) -> None:
        """Bring the read models an import waits for up to date with what was saved."""
        ...


def import_transcripts(
    paths: Sequence[str],
    discover: Discover,
    executor: Callable[[], ImportExecutor],
    ledger: LedgerReader | None = None,
    *,
    on_found: Callable[[list[SourceFile]], None] | None = None,
    on_done: OnDone | None = None,
) -> ImportReport:
    """Import every transcript under ``paths``; what was done, and every problem.

    ``executor`` is called only when a source changed; ``on_found`` is told of the
    changed sources before they are imported, ``on_done`` of each one imported. A
    store that fails for good sets ``report.store_error``: what was saved stays saved.
    """
    started = time.perf_counter()
    sources, problems = discover(paths)
    report = ImportReport(problems=problems)
    recorded = ledger.recorded_versions() if ledger is not None else {}
    changed = []
    for source in sources:
        known = recorded.get(source.path)
        if known is not None and known[:2] == (source.size, source.mtime_ns):
            report.sources.append(SourceReport(source.path, "skipped", known[2]))
        else:
            changed.append(source)
    if changed:
        if on_found:
            on_found(changed)
        _import_changed(executor(), changed, report, on_done)
    report.seconds = time.perf_counter() - started
    return report


def _import_changed(
    executor: ImportExecutor,
    sources: list[SourceFile],
    report: ImportReport,
    on_done: OnDone | None,
) -> None:
    from eventsourcing.persistence import PersistenceError

    from threadline.application.importing import store_error_reason, with_store_retries

    report.sources.extend(executor.import_sources(sources, on_done))
    report.store_error = next((s.store_error for s in report.sources if s.store_error), None)
    if any(s.outcome not in ("skipped", "failed") for s in report.sources):
        try:  # what was saved stays saved; the read models also catch up on the next read
            with_store_retries("catching up the read models", executor.catch_up)
        except PersistenceError as exc:
            report.store_error = report.store_error or store_error_reason(exc)
