"""The import use case: find the transcripts, skip the unchanged ones, import the rest,
note the ones gone from disk, catch the read models up, report.

    discover -> cheap skip (same size and mtime as the ledger recorded) -> import the
    changed sources (an ``ImportExecutor``: threads here, or a process per core)
    -> record the locations under the roots that are gone -> catch the read models up
    -> one ``ImportReport``

The roots are whatever ``discover`` takes: paths for one agent's reader, or
``adapters.sources.Root``s (an agent and a path) for every agent at once.

An unchanged re-import is the common case and the one to keep fast (ADR 0004): it
runs on the ports alone, so this module is standard library only, and the executor
(which loads the event-sourcing stack) is only made when something changed. A ledger
behind the events can only make the cheap skip do more work, never skip a change:
the executor checks each source against the ledger's own aggregate again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, TypeVar

from threadline.application.reports import ImportReport, SourceReport
from threadline.application.sources import Problem, SourceFile

OnDone = Callable[[SourceReport], None]


R = TypeVar("R")

Discover = Callable[[Sequence[R]], tuple[list[SourceFile], list[Problem]]]
"""Finds transcripts under some roots: ``TranscriptReader.discover`` (paths), or
``adapters.sources.Sources.discover`` (every agent's roots)."""

Gone = Callable[[Sequence[R], list[str]], Iterable[tuple[str, str]]]
"""Of the recorded locations discovery did not find, those under the roots that are no
longer there, as (agent, path): ``adapters.sources.Sources.gone``."""


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

    def record_gone(self, locations: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Record each (agent, path) the ledger has as gone from disk (its thread stays);
        the ones the ledger had. Raises the store's error if it cannot."""
        ...


def import_transcripts(
    roots: Sequence[R],
    discover: Discover[R],
    executor: Callable[[], ImportExecutor],
    ledger: LedgerReader | None = None,
    *,
    gone: Gone[R] | None = None,
    on_found: Callable[[list[SourceFile]], None] | None = None,
    on_done: OnDone | None = None,
) -> ImportReport:
    """Import every transcript under ``roots``; what was done, and every problem.

    ``executor`` is called only when a source changed or one is gone; ``on_found`` is
    told of the changed sources before they are imported, ``on_done`` of each one
    imported. A store that fails for good sets ``report.store_error``: what was saved
    stays saved.
    """
    started = time.perf_counter()
    sources, problems = discover(roots)
    report = ImportReport(problems=problems)
    recorded = ledger.recorded_versions() if ledger is not None else {}
    changed = []
    for source in sources:
        known = recorded.get(source.path)
        if known is not None and known[:2] == (source.size, source.mtime_ns):
            report.sources.append(
                SourceReport(source.path, "skipped", known[2], agent=source.agent)
            )
        else:
            changed.append(source)
    found = {source.path for source in sources}
    missing = [path for path in recorded if path not in found]
    lost = list(gone(roots, missing)) if gone is not None and missing else []
    if changed or lost:
        if on_found and changed:
            on_found(changed)
        _import_changed(executor(), changed, lost, recorded, report, on_done)
    report.seconds = time.perf_counter() - started
    return report


def _import_changed(
    executor: ImportExecutor,
    sources: list[SourceFile],
    lost: list[tuple[str, str]],
    recorded: dict[str, tuple[int, int, str | None]],
    report: ImportReport,
    on_done: OnDone | None,
) -> None:
    from eventsourcing.persistence import PersistenceError

    from threadline.application.store_faults import store_error_reason, with_store_retries

    if sources:
        report.sources.extend(executor.import_sources(sources, on_done))
    report.store_error = next((s.store_error for s in report.sources if s.store_error), None)
    if lost and report.store_error is None:
        try:
            for agent, path in executor.record_gone(lost):
                report.sources.append(SourceReport(path, "gone", recorded[path][2], agent=agent))
        except PersistenceError as exc:
            report.store_error = store_error_reason(exc)
    if any(s.outcome not in ("skipped", "failed") for s in report.sources):
        try:  # what was saved stays saved; the read models also catch up on the next read
            with_store_retries("catching up the read models", executor.catch_up)
        except PersistenceError as exc:
            report.store_error = report.store_error or store_error_reason(exc)
