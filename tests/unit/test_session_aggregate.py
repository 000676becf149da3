"""The Session aggregate as a live session: configured, resumed, recording items."""

from __future__ import annotations

from uuid import uuid4

import pytest

from threadline.domain.items import UserMessage
from threadline.domain.session import (
    LIVE_AGENT,
    CwdNotAbsoluteError,
    HistoryOutOfOrderError,
    Session,
    SessionSettings,
)

SETTINGS = SessionSettings(
    model="gpt-5-codex",
    provider="openai",
    cwd="/srv/app",
    approval_policy="on-request",
    sandbox_policy="workspace-write",
)


def test_a_configured_session_starts_with_session_configured() -> None:
    thread_id = uuid4()
    session = Session.configure(thread_id=thread_id, settings=SETTINGS)

    [created] = session.collect_events()
    assert type(created).__name__ == "SessionConfigured"
    assert created.originator_id == thread_id
    assert session.settings == SETTINGS
    assert session.source.agent == LIVE_AGENT
    assert session.summary.cwd == "/srv/app"
    assert session.item_count == 0


def test_a_configured_session_is_rebuilt_from_its_events() -> None:
    session = Session.configure(thread_id=uuid4(), settings=SETTINGS)
    session.record_items([UserMessage(line=0, parts=["hi"])])
    events = session.collect_events()

    copy = None
    for domain_event in events:
        copy = domain_event.mutate(copy)

    assert copy is not None
    assert (copy.id, copy.version, copy.item_count) == (session.id, 2, 1)
    assert copy.settings == SETTINGS


def test_a_session_needs_an_absolute_cwd() -> None:
    with pytest.raises(CwdNotAbsoluteError):
        Session.configure(thread_id=uuid4(), settings=SETTINGS.model_copy(update={"cwd": "app"}))


def test_a_resumed_session_records_rollout_resumed_with_its_new_settings() -> None:
    session = Session.configure(thread_id=uuid4(), settings=SETTINGS)
    session.collect_events()
    newer = SETTINGS.model_copy(update={"model": "o3"})

    session.resume(settings=newer)

    [resumed] = session.collect_events()
    assert type(resumed).__name__ == "RolloutResumed"
    assert session.settings == newer


def test_live_items_continue_at_the_next_position() -> None:
    session = Session.configure(thread_id=uuid4(), settings=SETTINGS)
    session.record_items([UserMessage(line=0, parts=["one"])])

    with pytest.raises(HistoryOutOfOrderError):
        session._record_chunk(first_position=5, items=[UserMessage(line=5, parts=["x"])])
