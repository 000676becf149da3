"""Importing many sources on every core: one worker process per core.

Mapping transcript lines is CPU-bound Python, so threads cannot use a second
core. Workers are forked before any SQLite connection is open (a connection
must not cross a fork); each opens its own connection to the same store and
imports whole sources with the same use case as the in-process path. SQLite
serialises their writes; each source is still one atomic save.

Workers never checkpoint the write-ahead log (a checkpoint fsyncs twice, and
with two writers the log rarely resets, so every commit past 64 MiB of log
checkpointed again). The parent, otherwise idle, catches the read models up and
checkpoints instead, each time another ``CHECKPOINT_BYTES`` of sources has been
imported, and catches up after each source once fewer are left than workers (a
core is free), so that little is left for the end.

Writers take turns on a kernel lock (``flock``) around each write transaction.
(Both are for the SQLite file: on PostgreSQL the server orders the writers.)
SQLite's own busy handler polls, sleeping 1, 2, 5, 10 … ms, so a worker that
found the other writing a 4 MiB page slept longer than the write took; a
worker waiting on ``flock`` is woken the moment the lock is free.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import gc
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager

from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore

from threadline.adapters.home import StoreLocation
from threadline.adapters.persistence.sqlite import SQLiteBlobStore
from threadline.adapters.sources import Sources
from threadline.adapters.store import Store, open_store
from threadline.application.importing import TranscriptImporter
from threadline.application.reports import SourceReport
from threadline.application.sources import Problem, SourceFile
from threadline.application.store_faults import store_error_reason, with_store_retries

log = logging.getLogger(__name__)

PARALLEL_MIN_BYTES = 16 * 1024 * 1024
"""Below this much to read, starting worker processes costs more than it saves."""

CHECKPOINT_BYTES = 32 * 1024 * 1024
"""The parent catches up and checkpoints the log after about this much source was imported."""

GC_THRESHOLD = 50_000
"""Allocations between two young-generation collections while importing (Python's default: 700).

Mapping allocates a dozen objects a line and makes next to no reference cycles;
at the default threshold the cyclic collector took ~12 % of the mapping time."""

WRITE_LOCK_FILENAME = "threadline.write.lock"
"""Held by the import's processes around each write transaction, one at a time."""

PR_SET_PDEATHSIG = 1

_worker_importer: TranscriptImporter | None = None
_worker_store: Store | None = None


class WorkerProcesses:
    """The import use case's executor on this machine: the sources of a large import on
    a worker process per core, a small one on threads here, into the store at ``location``;
    ``read_models`` (default: the eager ones) are kept current along the way."""

    def __init__(
        self, location: StoreLocation, jobs: int, read_models: Sequence[str] | None = None
    ) -> None:
        self.location = location
        self.jobs = jobs
        self.read_models = read_models

    def import_sources(
        self, sources: list[SourceFile], on_done: Callable[[SourceReport], None] | None = None
    ) -> list[SourceReport]:
        return import_sources(self.location, sources, self.jobs, on_done, self.read_models)

    def catch_up(self) -> None:
        store = _open(self.location)
        try:
            store.catch_up(names=self.read_models)
        finally:
            store.close()

    def record_gone(self, locations: list[tuple[str, str]]) -> list[tuple[str, str]]:
        store = _open(self.location)
        try:
            return TranscriptImporter(store.app, Sources(), store.blobs).record_gone(locations)
        finally:
            store.close()


def import_sources(
    location: StoreLocation,
    sources: list[SourceFile],
    jobs: int,
    on_done: Callable[[SourceReport], None] | None = None,
    catch_up: Sequence[str] | None = None,
) -> list[SourceReport]:
    """Import ``sources`` (at most ``jobs`` at once) and return a report for each; the
    read models ``catch_up`` names (default: the eager ones) catch up along the way."""
    workers = min(jobs, os.cpu_count() or 1, len(sources))
    if workers < 2 or sum(s.size for s in sources) < PARALLEL_MIN_BYTES:
        return _import_here(location, sources, jobs, on_done)
    _open(location).close()  # create the store and its tables once, then fork with none open
    readers = Sources()
    for agent in {s.agent for s in sources}:  # loaded once, shared with every worker
        _ = readers.agent(agent).reader
    reports: list[SourceReport] = []
    context = multiprocessing.get_context("fork")
    with (
        collecting_less(),
        ProcessPoolExecutor(
            workers, mp_context=context, initializer=_open_worker, initargs=(location,)
        ) as pool,
    ):
        futures: dict[Future[SourceReport], SourceFile] = {
            pool.submit(_import_in_worker, source): source
            for source in sorted(sources, key=lambda s: s.size, reverse=True)
        }
        # Every worker is forked by now (the fork context starts them all at the first
        # submit), so the parent may open its own connection.
        store = _open(location)
        sqlite = not location.is_postgres  # PostgreSQL: no log to checkpoint, no busy loop
        lock = take_turns_to_write(store) if sqlite else None
        try:
            since_checkpoint, remaining = 0, len(futures)
            for future in as_completed(futures):
                remaining -= 1
                source = futures[future]
                report = _result(future, source)
                reports.append(report)
                if on_done:
                    on_done(report)
                since_checkpoint += source.size
                # Catch up along the way, and after each source once a core is free.
                if since_checkpoint >= CHECKPOINT_BYTES or remaining < workers:
                    _keep_up(store, sqlite and since_checkpoint >= CHECKPOINT_BYTES, catch_up)
                if since_checkpoint >= CHECKPOINT_BYTES:
                    since_checkpoint = 0
        finally:
            store.close()
            if lock is not None:
                os.close(lock)
    return reports


def _keep_up(store: Store, checkpoint_too: bool, names: Sequence[str] | None) -> None:
    """Catch up (and checkpoint) while workers import; a failure waits for the final catch-up.

    The import's caller catches up once more at the end and reports what fails then;
    the sources the workers are importing must not be abandoned for it.
    """
    try:
        store.catch_up(names=names)
        if checkpoint_too:
            checkpoint(store)
    except Exception as exc:  # one line, never a traceback nor a statement's values
        reason = store_error_reason(exc)
        log.warning("catching up during the import failed (%s); retried at the end", reason)


@contextmanager
def collecting_less() -> Iterator[None]:
    """Run the cyclic garbage collector less often (``GC_THRESHOLD``) for a while.

    What is loaded by then is frozen too: never scanned again, here or in a worker
    forked meanwhile (whose pages then also stay shared with the parent's).
    """
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def _sqlite(store: Store) -> SQLiteDatastore:
    """The datastore of a store on the SQLite file."""
    assert isinstance(store.blobs, SQLiteBlobStore), "only the SQLite store has a log and lock"
    return store.blobs.datastore


def checkpoint(store: Store) -> None:
    """Copy the write-ahead log into the database without waiting for any writer."""
    with _sqlite(store).get_connection(commit=False) as conn:
        conn.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)")


def never_checkpoint(store: Store) -> None:
    """Leave checkpoints to another connection (the parent's): this one only writes."""
    with _sqlite(store).get_connection(commit=True) as conn:
        conn.cursor().execute("PRAGMA wal_autocheckpoint=0")


def take_turns_to_write(store: Store) -> int:
    """Make each write transaction of ``store`` wait its turn on the write lock.

    Returns the lock file's descriptor, to close once ``store`` is closed.
    """
    datastore = _sqlite(store)
    fd = os.open(os.path.join(store.home, WRITE_LOCK_FILENAME), os.O_RDWR | os.O_CREAT, 0o600)
    transaction = datastore.transaction
    in_this_process = threading.Lock()

    @contextmanager
    def in_turn(*, commit: bool) -> Iterator[SQLiteCursor]:
        if not commit:
            with transaction(commit=False) as cursor:
                yield cursor
            return
        with in_this_process:  # a flock is shared by the threads of a process
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                with transaction(commit=True) as cursor:
                    yield cursor
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    datastore.transaction = in_turn  # type: ignore[method-assign]
    return fd


def _import_here(
    location: StoreLocation,
    sources: list[SourceFile],
    jobs: int,
    on_done: Callable[[SourceReport], None] | None,
) -> list[SourceReport]:
    store = _open(location)
    try:
        importer = TranscriptImporter(store.app, Sources(), store.blobs, concurrency=jobs)
        return importer.import_sources(sources, on_done)
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
    gc.set_threshold(GC_THRESHOLD)  # for the worker's whole life: it only imports
    _worker_store = _open(location)
    if not location.is_postgres:
        never_checkpoint(_worker_store)
        take_turns_to_write(_worker_store)
    _worker_importer = TranscriptImporter(
        _worker_store.app, Sources(), _worker_store.blobs, concurrency=1
    )


def _import_in_worker(source: SourceFile) -> SourceReport:
    assert _worker_importer is not None
    return _worker_importer.import_source(source)


def _result(future: Future[SourceReport], source: SourceFile) -> SourceReport:
    try:
        return future.result()
    except Exception as exc:  # a worker died or raised: that source failed, the run goes on
        reason = f"import failed: {type(exc).__name__}: {exc}"
        return SourceReport(
            source.path,
            "failed",
            problems=[Problem(source.path, 0, reason)],
            agent=source.agent,
        )
