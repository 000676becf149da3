"""A live session's save on a real store (both stores): a conflict with another writer
of the same thread is reloaded and recorded after what that writer saved."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from conftest import open_test_store

from threadline.application.sessions import save_session
from threadline.domain.items import UserMessage
from threadline.domain.session import Session, SessionSettings

pytestmark = pytest.mark.both_stores

SETTINGS = SessionSettings(
    cwd="/srv/app", model="o3", provider="openai", approval_policy="never", sandbox_policy="ro"
)


def prompt(text: str, position: int) -> UserMessage:
    return UserMessage(line=position, timestamp=datetime.now(UTC), parts=[text])


def test_a_save_that_conflicts_with_another_writer_records_its_items_after_theirs(
    home: Path,
) -> None:
    store = open_test_store(home)
    try:
        app = store.app
        session = save_session(app, Session.configure(thread_id=uuid4(), settings=SETTINGS))
        other, _ = app.load_session(session.id)  # e.g. the same thread resumed elsewhere
        other.record_items([prompt("theirs", 0)])
        save_session(app, other)

        session.record_items([prompt("mine", 0), prompt("mine too", 1)])
        saved = save_session(app, session)

        events = list(app.events.get(session.id))
        _, items = app.load_session(session.id)
        assert [e.originator_version for e in events] == [1, 2, 3]
        assert [(i.line, i.parts) for i in items] == [  # type: ignore[union-attr]
            (0, ["theirs"]),
            (1, ["mine"]),
            (2, ["mine too"]),
        ]
        assert (saved.version, saved.item_count) == (3, 3)
    finally:
        store.close()
