"""The multi-process import: worker processes write, the parent checkpoints and catches up."""

from __future__ import annotations

import fcntl
import gc
import os
import sqlite3
import threading
from hashlib import sha256
from pathlib import Path

import pytest
from conftest import Conversation, query, session_uuid, slug

from threadline.adapters import import_workers
from threadline.adapters.claude_code.discovery import discover
from threadline.adapters.home import resolve_location
from threadline.adapters.store import Store, open_store


def _tree(root: Path, sessions: int) -> Path:
    projects = root / "projects"
    for n in range(sessions):
        convo = Conversation(session_uuid(f"worker-{n}"))
        convo.user(f"Task {n}: make the build green")
        convo.tool_turn("Bash", {"command": "make test"}, "ok\n" * (200 * (n + 1)))
        convo.assistant("Done.")
        assert convo.cwd is not None
        convo.write(projects / slug(convo.cwd) / f"{convo.session_id}.jsonl")
    return projects


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="workers need two cores")
def test_workers_import_every_source_and_the_parent_catches_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_workers, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(import_workers, "CHECKPOINT_BYTES", 1)
    home = tmp_path / "home"
    sources, problems = discover([str(_tree(tmp_path, 5))])
    assert len(sources) == 5 and not problems

    reports = import_workers.import_sources(resolve_location(str(home)), sources, jobs=2)

    assert sorted(r.outcome for r in reports) == ["imported"] * 5
    assert {r.path for r in reports} == {s.path for s in sources}
    # No catch-up after import_sources: the parent caught the read models up itself.
    assert query(home, "SELECT count(*) FROM threads")[0][0] == 5
    assert query(home, "SELECT count(*) FROM ledger WHERE outcome = 'imported'")[0][0] == 5


def test_a_worker_connection_leaves_checkpoints_to_the_parent(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "home"))
    try:
        import_workers.never_checkpoint(store)
        with store.blobs.datastore.get_connection(commit=True) as conn:
            cursor = conn.cursor()
            cursor.execute("PRAGMA wal_autocheckpoint")
            assert cursor.fetchone()[0] == 0
        import_workers.checkpoint(store)  # passive: does not fail with no writer
    finally:
        store.close()


def test_a_write_waits_its_turn_on_the_write_lock(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "home"))
    lock = import_workers.take_turns_to_write(store)
    held = os.open(os.path.join(store.home, import_workers.WRITE_LOCK_FILENAME), os.O_RDWR)
    fcntl.flock(held, fcntl.LOCK_EX)  # another process's turn
    written = threading.Event()

    def write() -> None:
        store.blobs.put(b"page")
        written.set()

    writer = threading.Thread(target=write)
    try:
        writer.start()
        assert not written.wait(0.3)
        fcntl.flock(held, fcntl.LOCK_UN)
        assert written.wait(5)
        assert store.blobs.get(sha256(b"page").hexdigest()) == b"page"
    finally:
        os.close(held)
        writer.join()
        store.close()
        os.close(lock)


def test_collecting_less_while_importing_and_as_before_after() -> None:
    before = gc.get_threshold()
    with import_workers.collecting_less():
        assert gc.get_threshold()[0] == import_workers.GC_THRESHOLD > before[0]
    assert gc.get_threshold() == before


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="workers need two cores")
def test_a_failed_catch_up_along_the_way_abandons_no_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(self: Store, **_: object) -> int:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(import_workers, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(Store, "catch_up", fail)
    sources, _ = discover([str(_tree(tmp_path, 4))])
    location = resolve_location(str(tmp_path / "home"))

    reports = import_workers.import_sources(location, sources, jobs=2)

    assert sorted(r.outcome for r in reports) == ["imported"] * 4
