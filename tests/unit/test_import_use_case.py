"""The import use case on in-memory ports: what is skipped, imported, caught up and reported."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest
from eventsourcing.persistence import DatabaseError

from threadline.application import store_faults
from threadline.application.import_transcripts import ImportExecutor, import_transcripts
from threadline.application.reports import SourceReport
from threadline.application.sources import Problem, SourceFile

OLD = SourceFile("claude-code", "/p/old.jsonl", 100, 1_000)
GROWN = SourceFile("claude-code", "/p/grown.jsonl", 300, 2_000)
TOUCHED = SourceFile("claude-code", "/p/touched.jsonl", 50, 9_999)
NEW = SourceFile("claude-code", "/p/new.jsonl", 10, 3_000)
UNREADABLE = Problem("/p/secret", 0, "cannot read: permission denied")


def finds(*sources: SourceFile, problems: Iterable[Problem] = ()) -> Callable[..., object]:
    def discover(paths: Iterable[str]) -> tuple[list[SourceFile], list[Problem]]:
        return list(sources), list(problems)

    return discover


class Ledger:
    def __init__(self, *known: SourceFile, thread: str = "thread-1") -> None:
        self.known = {s.path: (s.size, s.mtime_ns, thread) for s in known}

    def recorded_versions(self) -> dict[str, tuple[int, int, str | None]]:
        return dict(self.known)


class Executor:
    """Imports every source with the given outcome; counts its catch-ups."""

    def __init__(
        self,
        outcome: str = "imported",
        store_error: str | None = None,
        catch_up_fails: bool = False,
    ) -> None:
        self.outcome = outcome
        self.store_error = store_error
        self.catch_up_fails = catch_up_fails
        self.imported: list[str] = []
        self.catch_ups = 0
        self.gone: list[tuple[str, str]] = []

    def import_sources(
        self, sources: list[SourceFile], on_done: Callable[[SourceReport], None] | None = None
    ) -> list[SourceReport]:
        reports = []
        for source in sources:
            self.imported.append(source.path)
            report = SourceReport(source.path, self.outcome, "t", store_error=self.store_error)  # type: ignore[arg-type]
            reports.append(report)
            if on_done:
                on_done(report)
        return reports

    def record_gone(self, locations: list[tuple[str, str]]) -> list[tuple[str, str]]:
        self.gone.extend(locations)
        return locations

    def catch_up(self) -> None:
        self.catch_ups += 1
        if self.catch_up_fails:
            raise DatabaseError("no such table: threadline_threads")


def never_made() -> ImportExecutor:
    raise AssertionError("nothing changed: no executor should be made")


def test_an_unchanged_reimport_skips_every_source_from_the_ledger_without_an_executor() -> None:
    report = import_transcripts(["/p"], finds(OLD, GROWN), never_made, Ledger(OLD, GROWN))

    assert [(s.path, s.outcome, s.thread_id) for s in report.sources] == [
        (OLD.path, "skipped", "thread-1"),
        (GROWN.path, "skipped", "thread-1"),
    ]
    assert report.store_error is None


def test_only_sources_whose_size_or_mtime_changed_or_that_are_new_are_imported() -> None:
    ledger = Ledger(OLD, SourceFile("claude-code", GROWN.path, 200, 2_000))
    ledger.known[TOUCHED.path] = (TOUCHED.size, 1, "thread-2")
    executor = Executor()
    found: list[list[str]] = []
    done: list[str] = []

    report = import_transcripts(
        ["/p"],
        finds(OLD, GROWN, TOUCHED, NEW),
        lambda: executor,
        ledger,
        on_found=lambda sources: found.append([s.path for s in sources]),
        on_done=lambda source: done.append(source.path),
    )

    changed = [GROWN.path, TOUCHED.path, NEW.path]
    assert found == [changed]
    assert executor.imported == done == changed
    assert {s.path: s.outcome for s in report.sources} == {
        OLD.path: "skipped",
        **dict.fromkeys(changed, "imported"),
    }


def test_without_a_ledger_every_source_goes_to_the_executor() -> None:
    executor = Executor(outcome="skipped")

    import_transcripts(["/p"], finds(OLD, NEW), lambda: executor)

    assert executor.imported == [OLD.path, NEW.path]


def test_the_read_models_catch_up_once_after_something_was_saved() -> None:
    executor = Executor(outcome="appended")

    import_transcripts(["/p"], finds(NEW, GROWN), lambda: executor, Ledger())

    assert executor.catch_ups == 1


@pytest.mark.parametrize("outcome", ["skipped", "failed"])
def test_nothing_saved_means_no_catch_up(outcome: str) -> None:
    executor = Executor(outcome=outcome)

    import_transcripts(["/p"], finds(NEW), lambda: executor, Ledger())

    assert executor.catch_ups == 0


def test_discovery_problems_are_reported_with_the_imports() -> None:
    report = import_transcripts(
        ["/p"], finds(NEW, problems=[UNREADABLE]), lambda: Executor(), Ledger()
    )

    assert report.problems == [UNREADABLE]
    assert report.count("imported") == 1


def test_a_store_that_failed_for_good_during_the_import_is_the_reports_store_error() -> None:
    executor = Executor(outcome="failed", store_error="disk is full")

    report = import_transcripts(["/p"], finds(NEW, GROWN), lambda: executor, Ledger())

    assert report.store_error == "disk is full"
    assert executor.catch_ups == 0


def test_a_failed_catch_up_is_reported_and_what_was_imported_stays_imported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(store_faults, "RETRY_WAIT_SECONDS", 0.001)
    executor = Executor(catch_up_fails=True)

    report = import_transcripts(["/p"], finds(NEW), lambda: executor, Ledger())

    assert report.store_error == "no such table: threadline_threads"
    assert report.count("imported") == 1


def test_a_recorded_location_no_longer_found_and_gone_is_recorded_gone_and_reported() -> None:
    executor = Executor()
    asked: list[list[str]] = []

    def gone(roots: object, missing: list[str]) -> list[tuple[str, str]]:
        asked.append(missing)
        return [("claude-code", path) for path in missing]

    report = import_transcripts(["/p"], finds(OLD), lambda: executor, Ledger(OLD, GROWN), gone=gone)

    assert asked == [[GROWN.path]]  # only what the ledger has and discovery did not find
    assert executor.gone == [("claude-code", GROWN.path)] and executor.imported == []
    assert [(s.path, s.outcome, s.thread_id, s.agent) for s in report.sources] == [
        (OLD.path, "skipped", "thread-1", "claude-code"),
        (GROWN.path, "gone", "thread-1", "claude-code"),
    ]
    assert report.count("gone", "claude-code") == 1
    assert executor.catch_ups == 1  # the ledger read model learns it is gone


def test_a_recorded_location_not_found_but_still_there_needs_no_executor() -> None:
    report = import_transcripts(
        ["/p"], finds(OLD), never_made, Ledger(OLD, GROWN), gone=lambda roots, missing: []
    )

    assert [s.outcome for s in report.sources] == ["skipped"]
