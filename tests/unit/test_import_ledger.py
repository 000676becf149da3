"""The Import aggregate: one ledger entry per source, its versions and their mtimes."""

from __future__ import annotations

import pytest

from threadline.domain.ledger import Import, NoVersionRecordedError, SourceVersion


def version(mtime_ns: int) -> SourceVersion:
    return SourceVersion(
        size=10,
        mtime_ns=mtime_ns,
        sha256="a" * 64,
        consumed_bytes=10,
        consumed_sha256="a" * 64,
        consumed_lines=1,
    )


def recorded(mtime_ns: int) -> Import:
    entry = Import(agent="claude-code", source_key="/s.jsonl", path="/s.jsonl")
    entry.record(
        path="/s.jsonl",
        version=version(mtime_ns),
        thread_id=None,
        outcome="rejected",
        items_consumed=0,
        problems=0,
        sidechains={},
        pages=[],
        sidechain_lines={},
    )
    return entry


def test_a_touched_source_keeps_its_version_with_the_new_mtime() -> None:
    entry = recorded(mtime_ns=1)

    entry.touched(mtime_ns=2)

    assert entry.version_read == version(mtime_ns=2)
    assert entry.is_unchanged(10, 2)
    assert not entry.is_unchanged(10, 1)
    assert [type(e).__name__ for e in entry.collect_events()] == [
        "SourceRegistered",
        "LedgerRecorded",
        "SourceTouched",
    ]


def test_a_source_with_no_version_recorded_cannot_be_touched() -> None:
    entry = Import(agent="claude-code", source_key="/s.jsonl", path="/s.jsonl")

    with pytest.raises(NoVersionRecordedError):
        entry.touched(mtime_ns=2)
