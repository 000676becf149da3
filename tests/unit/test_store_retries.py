"""The import's store retry policy, on the library's exceptions only: what is retried, how
often, how long it waits, what it logs, and what a source's report says when it gives up.

The same policy serves every store, because each maps its driver's errors to
``eventsourcing.persistence``: a SQLite lock timeout and a PostgreSQL connection dropped by
a restarting server are both transient; a full disk is not.
"""

from __future__ import annotations

import logging
import re
from typing import Any, cast

import pytest
from eventsourcing.persistence import (
    ConnectionUnavailableError,
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
)

import threadline.application.store_faults as store_faults
from threadline.application.importing import TranscriptImporter
from threadline.application.reports import SourceReport
from threadline.application.sources import SourceFile
from threadline.application.store_faults import is_retryable, is_transient

SECRET = "sk-ant-do-not-log-me"


def wrapped(exc: Exception) -> Exception:
    """An error raised while opening a store: the adapter's own, caused by the library's."""
    try:
        raise RuntimeError("cannot open the store") from exc
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (OperationalError("database is locked"), True),
        (OperationalError("server closed the connection unexpectedly"), True),
        (InterfaceError("connection already closed"), True),
        (ConnectionUnavailableError("timed out waiting for a connection"), True),
        (wrapped(OperationalError("database is locked")), True),
        (OperationalError("database or disk is full"), False),
        (OperationalError("could not extend file: No space left on device"), False),
        (OperationalError("disk I/O error"), False),
        (OperationalError("attempt to write a readonly database"), False),
        (OperationalError("unable to open database file"), False),
        (OperationalError('password authentication failed for user "threadline"'), False),
        (OperationalError('database "threadline" does not exist'), False),
        (ProgrammingError("permission denied for table stored_events"), False),
        (DataError("value too long"), False),
        (IntegrityError("UNIQUE constraint failed"), False),
        (OSError("database is locked"), False),
    ],
    ids=lambda v: v if isinstance(v, bool) else f"{type(v).__name__}: {v}",
)
def test_transient_store_faults_are_told_apart_from_permanent_ones(
    exc: Exception, transient: bool
) -> None:
    assert is_transient(exc) is transient
    assert is_retryable(exc) is (transient or isinstance(exc, IntegrityError))


SOURCE = SourceFile("claude-code", "/transcripts/a.jsonl", 10, 1)
OTHER = SourceFile("claude-code", "/transcripts/b.jsonl", 10, 1)


class Flaky:
    """Stands in for one try of an import: raises ``errors`` in turn, then succeeds."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.tries: list[str] = []

    def __call__(self, source: SourceFile) -> SourceReport:
        self.tries.append(source.path)
        if self.errors:
            raise self.errors.pop(0)
        return SourceReport(source.path, "imported", "thread")


def importer_with(once: Flaky) -> TranscriptImporter:
    importer = TranscriptImporter(cast(Any, None), cast(Any, None), cast(Any, None))
    importer._import_once = once  # type: ignore[method-assign]
    return importer


@pytest.fixture(autouse=True)
def quick_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_faults, "RETRY_WAIT_SECONDS", 0.001)
    monkeypatch.setattr(store_faults, "RETRY_MAX_WAIT_SECONDS", 0.004)


def retry_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == "threadline.application.store_faults"
    ]


def test_a_dropped_connection_is_retried_each_retry_logged_and_the_source_imported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    once = Flaky(
        InterfaceError("connection already closed"),
        OperationalError("terminating connection due to administrator command"),
    )

    with caplog.at_level(logging.WARNING):
        report = importer_with(once).import_source(SOURCE)

    assert report.outcome == "imported"
    assert once.tries == [SOURCE.path] * 3
    lines = retry_lines(caplog)
    assert [r.levelno for r in caplog.records] == [logging.WARNING] * 2
    assert re.fullmatch(
        r"/transcripts/a.jsonl: connection already closed; retry 1 of 5 in 0\.0\d s", lines[0]
    ), lines


def test_a_store_that_stays_busy_is_tried_a_bounded_number_of_times_with_bounded_waits(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_faults, "RETRY_WAIT_SECONDS", 0.01)
    monkeypatch.setattr(store_faults, "RETRY_MAX_WAIT_SECONDS", 0.05)
    once = Flaky(*[OperationalError("database is locked")] * 50)
    importer = importer_with(once)

    with caplog.at_level(logging.WARNING):
        report = importer.import_source(SOURCE)
        after = importer.import_source(OTHER)

    assert len(once.tries) == store_faults.STORE_ATTEMPTS == 6
    waits = [float(re.findall(r"in ([\d.]+) s$", line)[0]) for line in retry_lines(caplog)]
    assert len(waits) == 5
    assert all(w <= min(0.01 * 2**n, 0.05) + 0.005 for n, w in enumerate(waits)), waits
    assert len(set(waits)) > 1  # jittered
    assert (report.outcome, report.store_error) == ("failed", "database is locked")
    assert [str(p) for p in report.problems] == [f"{SOURCE.path}: not imported: database is locked"]
    # The store is down: the next source is reported, not tried (it would wait as long).
    assert once.tries == [SOURCE.path] * 6
    assert (after.outcome, after.store_error) == ("failed", "database is locked")


def test_a_full_disk_is_not_retried(caplog: pytest.LogCaptureFixture) -> None:
    once = Flaky(OperationalError("database or disk is full"))

    with caplog.at_level(logging.INFO):
        report = importer_with(once).import_source(SOURCE)

    assert once.tries == [SOURCE.path]
    assert retry_lines(caplog) == []
    assert (report.outcome, report.store_error) == ("failed", "database or disk is full")


def test_a_conflict_with_a_concurrent_importer_is_retried_quietly_and_fails_only_its_source(
    caplog: pytest.LogCaptureFixture,
) -> None:
    once = Flaky(*[IntegrityError("UNIQUE constraint failed")] * 6)
    importer = importer_with(once)

    with caplog.at_level(logging.INFO):
        report = importer.import_source(SOURCE)
        other = importer.import_source(OTHER)

    assert len(once.tries) == 7
    assert {r.levelno for r in caplog.records} == {logging.INFO}  # not on stderr by default
    assert report.outcome == "failed"
    assert importer.store_error is None
    assert other.outcome == "imported"


def test_a_retry_log_line_holds_the_first_line_of_the_error_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    error = OperationalError(f"database is locked\nDETAIL: the row was ({SECRET!r}, 1)")
    once = Flaky(error)

    with caplog.at_level(logging.DEBUG):
        importer_with(once).import_source(SOURCE)

    assert retry_lines(caplog)
    assert SECRET not in caplog.text
