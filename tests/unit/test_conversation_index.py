"""The conversation index (ADR 0011), through the application on the in-memory store.

A conversation is named by the agent's own id, not by where its file is: every location
of it feeds one thread, the index entry that names the thread is saved in the same
atomic unit as the thread and the location's ledger entry, and a store an earlier
release wrote (threads named by their file's path) keeps every thread id.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError

from threadline.adapters.claude_code.reader import ClaudeCodeReader
from threadline.adapters.persistence.codec import CODEC_ENV
from threadline.application import sources as naming
from threadline.application.importing import TranscriptImporter
from threadline.application.ports import SourceFile
from threadline.application.threadline import Threadline
from threadline.domain.conversation import Conversation, HeadNotContinuedError
from threadline.domain.identity import (
    conversation_index_id,
    conversation_thread_id,
    import_id,
    imported_thread_id,
)
from threadline.domain.ledger import Import, SourceVersion
from threadline.domain.session import Session

SESSION_ID = "5b1c7f0e-8d2a-4c3b-9e4f-0a1b2c3d4e5f"
AGENT = "claude-code"


class Blobs:
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        self.data[key] = data
        return key

    def get(self, key: str) -> bytes:
        return self.data[key]


def line(n: int, text: str, minute: int | None = None) -> str:
    """A user line ``u<n>``, chained to ``u<n-1>``, written at 09:<minute or n>."""
    record = {
        "type": "user",
        "uuid": f"u{n}",
        "parentUuid": f"u{n - 1}" if n > 1 else None,
        "sessionId": SESSION_ID,
        "cwd": "/srv/app",
        "timestamp": f"2025-03-01T09:{minute if minute is not None else n:02d}:00.000Z",
        "message": {"role": "user", "content": text},
    }
    return json.dumps(record) + "\n"


def transcript(path: Path, *lines: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines))
    return path


def source(path: Path) -> SourceFile:
    st = path.stat()
    return SourceFile(AGENT, str(path), st.st_size, st.st_mtime_ns)


@pytest.fixture
def app() -> Any:
    application = Threadline(env=dict(CODEC_ENV))
    yield application
    application.close()


def importer(app: Threadline) -> TranscriptImporter:
    return TranscriptImporter(app, ClaudeCodeReader(), Blobs())


def test_two_locations_of_one_conversation_feed_one_thread(app: Threadline, tmp_path: Path) -> None:
    a = transcript(tmp_path / "a" / "p" / f"{SESSION_ID}.jsonl", line(1, "hi"), line(2, "more"))
    b = tmp_path / "b" / "p" / f"{SESSION_ID}.jsonl"
    b.parent.mkdir(parents=True)
    shutil.copyfile(a, b)
    run = importer(app)

    first, second = run.import_source(source(a)), run.import_source(source(b))

    assert (first.outcome, second.outcome) == ("imported", "known")
    thread = conversation_thread_id(AGENT, SESSION_ID)
    assert first.thread_id == second.thread_id == str(thread)
    index: Conversation = app.repository.get(conversation_index_id(AGENT, SESSION_ID))
    assert index.thread_id == thread
    assert index.location == import_id(AGENT, str(a))  # the copy added nothing
    entry: Import = app.repository.get(import_id(AGENT, str(b)))
    assert (entry.thread_id, entry.outcome, entry.conversation_id) == (thread, "known", SESSION_ID)
    # The copy's ledger entry names all of its bytes, though none were read as new.
    assert b"".join(run.blobs.get(p.blob) for p in entry.pages) == b.read_bytes()


def test_a_second_importer_that_read_before_the_first_saved_conflicts_instead_of_duplicating(
    app: Threadline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = transcript(tmp_path / "a" / f"{SESSION_ID}.jsonl", line(1, "hi"))
    b = tmp_path / "b" / f"{SESSION_ID}.jsonl"
    b.parent.mkdir()
    shutil.copyfile(a, b)
    reader, blobs = ClaudeCodeReader(), Blobs()
    entry_a, entry_b = app.ledger_entry(source(a)), app.ledger_entry(source(b))
    read_a = reader.read(source(a), app.resume_point(entry_a), blobs)
    read_b = reader.read(source(b), app.resume_point(entry_b), blobs)

    app.record_import(source(a), read_a, entry_a)
    with monkeypatch.context() as m:  # as if it had looked before the first one saved
        m.setattr(Threadline, "_conversation", lambda *_: None)
        with pytest.raises(IntegrityError):
            app.record_import(source(b), read_b, entry_b)

    assert app.repository.get(conversation_thread_id(AGENT, SESSION_ID)).version == 2
    assert importer(app).import_source(source(b)).outcome == "known"  # the retry


def test_a_location_resumes_from_what_another_location_added(
    app: Threadline, tmp_path: Path
) -> None:
    a = transcript(tmp_path / "a" / f"{SESSION_ID}.jsonl", line(1, "hi"))
    b = tmp_path / "b" / f"{SESSION_ID}.jsonl"
    b.parent.mkdir()
    shutil.copyfile(a, b)
    run = importer(app)
    run.import_source(source(a))
    with b.open("a") as f:
        f.write(line(2, "grown at b"))
    assert run.import_source(source(b)).outcome == "appended"
    with a.open("a") as f:  # a catches up with b, and goes further
        f.write(line(2, "grown at b") + line(3, "then at a"))

    report = run.import_source(source(a))

    session: Session = app.repository.get(conversation_thread_id(AGENT, SESSION_ID))
    assert report.outcome == "appended"
    assert session.item_count == 3  # line 2 once, though both locations hold it


def test_an_older_copy_is_behind_and_a_diverged_one_is_judged_by_its_last_timestamp(
    app: Threadline, tmp_path: Path
) -> None:
    newer = transcript(tmp_path / "a" / f"{SESSION_ID}.jsonl", line(1, "hi"), line(2, "two"))
    older = transcript(tmp_path / "b" / f"{SESSION_ID}.jsonl", line(1, "hi"))
    sooner = transcript(tmp_path / "c" / f"{SESSION_ID}.jsonl", line(1, "hi"), line(2, "x", 1))
    later = transcript(tmp_path / "d" / f"{SESSION_ID}.jsonl", line(1, "hi"), line(2, "y", 30))
    run = importer(app)

    reports = [run.import_source(source(p)) for p in (newer, older, sooner, later)]

    assert [r.outcome for r in reports] == [
        "imported",
        "behind",
        "diverged_older",
        "diverged_newer",
    ]
    entry: Import = app.repository.get(import_id(AGENT, str(sooner)))
    assert entry.divergence is not None and entry.divergence.other_path == str(newer)
    index: Conversation = app.repository.get(conversation_index_id(AGENT, SESSION_ID))
    assert index.path == str(later)


def test_the_users_name_survives_copies_appends_and_replacements(
    app: Threadline, tmp_path: Path
) -> None:
    a = transcript(tmp_path / "a" / f"{SESSION_ID}.jsonl", line(1, "hi"))
    run = importer(app)
    thread = UUID(run.import_source(source(a)).thread_id)
    app.rename_thread(thread, "My name")
    b = transcript(tmp_path / "b" / f"{SESSION_ID}.jsonl", line(1, "hi"), line(2, "more"))
    run.import_source(source(b))  # a moved, grown copy: appended
    transcript(a, '{"type":"custom-title","customTitle":"Source title"}\n', line(1, "other"))
    os.utime(a, ns=(1, 1))
    run.import_source(source(a))  # rewritten in place: replaced

    session: Session = app.repository.get(thread)
    assert (session.summary.title, session.summary.title_source) == ("My name", "user")
    app.archive_thread(thread)
    assert app.repository.get(thread).archived


def test_a_store_written_before_the_index_keeps_its_thread_for_a_new_location(
    app: Threadline, tmp_path: Path
) -> None:
    old = transcript(tmp_path / "old" / f"{SESSION_ID}.jsonl", line(1, "hi"))
    legacy_thread = imported_thread_id(AGENT, str(old))
    # What an earlier release saved: a thread and a ledger entry named by the path.
    blobs = Blobs()
    read = ClaudeCodeReader().read(source(old), None, blobs)
    assert read.main is not None
    app._upgraded = True  # as an earlier release: no index
    entry = Import(agent=AGENT, source_key=str(old), path=str(old))
    app._record_location(source(old), _without_conversation(read), entry)
    app._upgraded = False
    new = transcript(tmp_path / "new" / f"{SESSION_ID}.jsonl", line(1, "hi"), line(2, "more"))

    report = TranscriptImporter(app, ClaudeCodeReader(), blobs).import_source(source(new))

    assert (report.outcome, report.thread_id) == ("appended", str(legacy_thread))
    index: Conversation = app.repository.get(conversation_index_id(AGENT, SESSION_ID))
    assert index.thread_id == legacy_thread
    assert app.index_legacy_threads() == 0  # once per store


def _without_conversation(read: Any) -> Any:
    read.conversation_id = None
    return read


def test_an_appended_head_must_continue_the_bytes_the_thread_holds() -> None:
    conversation = Conversation(agent=AGENT, conversation_id="c", thread_id=UUID(int=1))
    version = SourceVersion(
        size=1, mtime_ns=1, sha256="a", consumed_bytes=1, consumed_sha256="a", consumed_lines=1
    )

    with pytest.raises(HeadNotContinuedError):
        conversation.record_head(
            location=UUID(int=2),
            path="/p",
            change="append",
            version=version,
            pages=[],
            sidechains={},
            sidechain_lines={},
            items=1,
            last_timestamp=None,
        )


def test_the_upgrade_is_not_recorded_done_while_an_agents_adapter_is_not_loaded(
    app: Threadline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = transcript(tmp_path / "old" / f"{SESSION_ID}.jsonl", line(1, "hi"))
    read = ClaudeCodeReader().read(source(old), None, Blobs())
    app._upgraded = True  # as an earlier release: no index
    entry = Import(agent=AGENT, source_key=str(old), path=str(old))
    app._record_location(source(old), _without_conversation(read), entry)
    monkeypatch.setattr(naming, "_CONVERSATION_OF", {})

    app.index_legacy_threads()

    monkeypatch.undo()
    assert app.index_legacy_threads() == 1  # not recorded done: indexed once it can be
    index: Conversation = app.repository.get(conversation_index_id(AGENT, SESSION_ID))
    assert index.thread_id == imported_thread_id(AGENT, str(old))


def test_a_location_gone_from_disk_keeps_its_thread_and_is_no_longer_gone_once_seen(
    app: Threadline, tmp_path: Path
) -> None:
    a = transcript(tmp_path / "a" / f"{SESSION_ID}.jsonl", line(1, "hi"))
    run = importer(app)
    thread = run.import_source(source(a)).thread_id

    assert app.record_gone(AGENT, str(a))
    assert app.record_gone(AGENT, str(a))  # said once: no second event
    gone: Import = app.repository.get(import_id(AGENT, str(a)))
    os.utime(a, ns=(5, 5))
    run.import_source(source(a))  # back again (touched)

    back: Import = app.repository.get(import_id(AGENT, str(a)))
    assert gone.gone and not back.gone
    assert [type(e).__name__ for e in app.events.get(gone.id)].count("SourceGone") == 1
    assert str(app.repository.get(UUID(thread)).id) == thread
    assert not app.record_gone(AGENT, str(tmp_path / "never-seen.jsonl"))


def test_a_second_thread_an_earlier_release_made_for_a_copy_keeps_taking_its_location(
    app: Threadline, tmp_path: Path
) -> None:
    blobs = Blobs()
    app._upgraded = True  # as an earlier release: each copy its own thread
    copies = [transcript(tmp_path / name / f"{SESSION_ID}.jsonl", line(1, "hi")) for name in "ab"]
    for path in copies:
        read = _without_conversation(ClaudeCodeReader().read(source(path), None, blobs))
        entry = Import(agent=AGENT, source_key=str(path), path=str(path))
        app._record_location(source(path), read, entry)
    app._upgraded = False
    with copies[1].open("a") as f:
        f.write(line(2, "grown in the second copy"))

    report = TranscriptImporter(app, ClaudeCodeReader(), blobs).import_source(source(copies[1]))

    first, second = (imported_thread_id(AGENT, str(p)) for p in copies)
    index: Conversation = app.repository.get(conversation_index_id(AGENT, SESSION_ID))
    assert index.thread_id == first
    assert (report.outcome, report.thread_id) == ("appended", str(second))
    assert app.repository.get(second).item_count == 2
