"""Importing many sources on every core: one worker process per core.

Mapping transcript lines is CPU-bound Python, so threads cannot use a second
core. Workers are forked before any SQLite connection is open (a connection
must not cross a fork); each opens its own connection to the same store and
imports whole sources with the same use case as the in-process path. SQLite
serialises their writes; each source is still one atomic save.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed

from adapters.claude_code.reader import ClaudeCodeReader
from adapters.home import StoreLocation
from adapters.store import Store, open_store
from application.importing import TranscriptImporter, with_store_retries
from application.reports import SourceReport
from application.sources import Problem, SourceFile

PARALLEL_MIN_BYTES = 16 * 1024 * 1024
"""Below this much to read, starting worker processes costs more than it saves."""

PR_SET_PDEATHSIG = 1

_worker_importer: TranscriptImporter | None = None
_worker_store: Store | None = None


def import_sources(
    location: StoreLocation,
    sources: list[SourceFile],
    jobs: int,
    on_done: Callable[[SourceReport], None] | None = None,
) -> list[SourceReport]:
    """Import ``sources`` (at most ``jobs`` at once) and return a report for each."""
    workers = min(jobs, os.cpu_count() or 1, len(sources))
    if workers < 2 or sum(s.size for s in sources) < PARALLEL_MIN_BYTES:
        return _import_here(location, sources, jobs, on_done)
    _open(location).close()  # create the store and its tables once, then fork with none open
    reports: list[SourceReport] = []
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_open_worker, initargs=(location,)
    ) as pool:
        futures: dict[Future[SourceReport], SourceFile] = {
            pool.submit(_import_in_worker, source): source
            for source in sorted(sources, key=lambda s: s.size, reverse=True)
        }
        for future in as_completed(futures):
            report = _result(future, futures[future])
            reports.append(report)
            if on_done:
                on_done(report)
    return reports


def _import_here(
    location: StoreLocation,
    sources: list[SourceFile],
    jobs: int,
    on_done: Callable[[SourceReport], None] | None,
) -> list[SourceReport]:
    store = _open(location)
    try:
        importer = TranscriptImporter(store.app, ClaudeCodeReader(), store.blobs, concurrency=jobs)
        return importer.import_each(sources, on_done)
    finally:
        store.close()


def _open(location: StoreLocation) -> Store:
    """The store, retried while another process holds its write lock (opening creates
    any missing tables, which takes the lock)."""
    return with_store_retries(
        f"opening the store in {location.where}", lambda: open_store(location)
    )


def _die_with_parent() -> None:
    """Linux: a worker gets SIGKILL when its parent dies, killed or not.

    Without it a killed import would leave its workers running, holding the store.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: workers end when their pipe closes
        return
    if os.getppid() == 1:  # the parent died before we could ask
        os._exit(1)


def _open_worker(location: StoreLocation) -> None:
    global _worker_importer, _worker_store
    _die_with_parent()
    _worker_store = _open(location)
    _worker_importer = TranscriptImporter(
        _worker_store.app, ClaudeCodeReader(), _worker_store.blobs, concurrency=1
    )


def _import_in_worker(source: SourceFile) -> SourceReport:
    assert _worker_importer is not None
    return _worker_importer.import_source(source)


def _result(future: Future[SourceReport], source: SourceFile) -> SourceReport:
    try:
        return future.result()
    except Exception as exc:  # a worker died or raised: that source failed, the run goes on
        reason = f"import failed: {type(exc).__name__}: {exc}"
        return SourceReport(source.path, "failed", problems=[Problem(source.path, 0, reason)])
