"""Rename and archive: the user's own names for a thread win over any title its source
writes, now or later, and survive every way the source can change (ADR 0011)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from threadline.domain.session import (
    Session,
    ThreadSummary,
    TitleNotGivenError,
    TranscriptSource,
)


def summary(title: str, source: str = "prompt") -> ThreadSummary:
    return ThreadSummary(
        title=title,
        title_source=source,  # type: ignore[arg-type]
        preview="p",
        first_user_message="p",
        cwd="/srv/app",
        git=None,
        models=[],
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
        updated_at=datetime(2025, 1, 2, tzinfo=UTC),
    )


def imported() -> Session:
    return Session(
        thread_id=uuid4(),
        source=TranscriptSource(agent="claude-code", path="/p/s.jsonl", session_id="s"),
        summary=summary("Fix the flaky date test"),
    )


def test_a_renamed_thread_shows_the_name_the_user_gave() -> None:
    session = imported()

    session.rename("  Date bug,\n finally ")

    assert session.summary.title == "Date bug, finally"
    assert session.summary.title_source == "user"
    assert type(session.collect_events()[-1]).__name__ == "Renamed"


def test_a_title_the_source_writes_later_does_not_replace_the_users_name() -> None:
    session = imported()
    session.rename("Mine")

    session.transcript_appended(summary=session.summary.followed_by(summary("AI", "ai")))
    session.transcript_appended(summary=session.summary.followed_by(summary("Custom", "custom")))

    assert session.summary.title == "Mine"
    # The events carry the name too, so a read model built from them shows it.
    appended = [e for e in session.collect_events() if type(e).__name__ == "TranscriptAppended"]
    assert {e.summary.title for e in appended} == {"Mine"}


def test_a_replaced_history_keeps_the_users_name() -> None:
    session = imported()
    session.rename("Mine")

    session.replace_history(summary=summary("Rewritten", "custom"), reason="source rewritten")
    session.replace_history(summary=summary("Newer copy", "ai"), reason="diverged")

    assert (session.summary.title, session.summary.title_source) == ("Mine", "user")
    replaced = [e for e in session.collect_events() if type(e).__name__ == "HistoryReplaced"]
    assert [e.summary.title for e in replaced] == ["Mine", "Mine"]


def test_the_name_survives_rebuilding_the_thread_from_its_events() -> None:
    session = imported()
    session.rename("Mine")
    session.replace_history(summary=summary("Rewritten", "custom"), reason="source rewritten")
    rebuilt = None
    for domain_event in session.collect_events():
        rebuilt = domain_event.mutate(rebuilt)

    assert rebuilt is not None
    assert (rebuilt.summary.title, rebuilt.user_title) == ("Mine", "Mine")


def test_an_empty_name_is_refused() -> None:
    with pytest.raises(TitleNotGivenError):
        imported().rename(" \n ")


def test_renaming_to_the_same_name_records_nothing() -> None:
    session = imported()
    session.rename("Mine")
    session.collect_events()

    session.rename("Mine")

    assert session.collect_events() == []


def test_archive_and_unarchive_each_record_one_event_and_repeat_as_no_ops() -> None:
    session = imported()
    session.collect_events()

    session.archive()
    session.archive()
    archived = session.archived
    session.unarchive()
    session.unarchive()

    assert archived and not session.archived
    assert [type(e).__name__ for e in session.collect_events()] == ["Archived", "Unarchived"]
