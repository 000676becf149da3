"""The PostgreSQL events recorder: big saves complete, and events come back exactly, in order."""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from threadline.adapters.store import open_store

MIB = 1024 * 1024


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("postgres_server").fresh_database())


def test_one_save_of_many_megabytes_comes_back_byte_for_byte_in_order(
    database_url: str, tmp_path: Path
) -> None:
    # The library's pipelined insert hangs on a save past ~8-12 MB (ADR 0009).
    store = open_store(str(tmp_path), database_url)
    originator = uuid.uuid4()
    events = [
        StoredEvent(originator, version, "tests:Big", os.urandom(256 * 1024) + b"\x00\\x")
        for version in range(1, 81)  # 20 MiB in one save
    ]
    ids: list[int] = []
    saving = threading.Thread(target=lambda: ids.extend(store.app.recorder.insert_events(events)))
    try:
        saving.start()
        saving.join(timeout=120)

        assert not saving.is_alive(), "a 20 MiB save did not finish"
        assert ids == sorted(ids) and len(ids) == len(events)
        back = store.app.recorder.select_notifications(None, 100)
        assert [n.id for n in back] == ids
        assert [(n.originator_id, n.originator_version, n.state) for n in back] == [
            (e.originator_id, e.originator_version, e.state) for e in events
        ]
    finally:
        store.close()


def test_a_second_save_of_the_same_version_is_refused_whole(
    database_url: str, tmp_path: Path
) -> None:
    store = open_store(str(tmp_path), database_url)
    try:
        first, other = uuid.uuid4(), uuid.uuid4()
        store.app.recorder.insert_events([StoredEvent(first, 1, "tests:E", b"a")])

        with pytest.raises(IntegrityError):
            store.app.recorder.insert_events(
                [StoredEvent(other, 1, "tests:E", b"b"), StoredEvent(first, 1, "tests:E", b"c")]
            )

        assert [n.originator_id for n in store.app.recorder.select_notifications(None, 10)] == [
            first
        ]
    finally:
        store.close()
