"""The archive is compact: pages and events are stored compressed, stores written raw by
the earlier release read as they are and compress in place (``vacuum``), and an import
leaves the search index current. On the SQLite file and on PostgreSQL."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    _DATABASES,
    ClaudeTree,
    Conversation,
    long_text,
    on_postgres,
    open_test_store,
    query,
    run_cli,
    session_uuid,
    slug,
    store_contents,
)

from threadline.adapters.persistence import compression

pytestmark = pytest.mark.both_stores

FIXTURE_STORE = (
    Path(__file__).resolve().parent.parent / "fixtures" / "store-bfc55ee" / "threadline.db"
)


def wordy_tree(root: Path) -> Path:
    """A Claude home with one long, compressible session (~3 MiB of tool output)."""
    convo = Conversation(session_uuid("wordy"))
    convo.user("Run the test suite and show me the log")
    for i in range(6):
        convo.tool_turn("Bash", {"command": f"pytest -k part{i}"}, long_text(f"log{i}", 500_000))
    convo.assistant("All six parts pass.")
    home = root / ".claude"
    convo.write(home / "projects" / slug(convo.cwd or "") / "wordy.jsonl")
    return home


def stored_sizes(home: Path) -> tuple[int, list[bytes]]:
    """(bytes of every blob as stored, the first bytes of each)."""
    rows = query(home, "SELECT length(data), substr(data, 1, 4) FROM blobs")
    return sum(int(n) for n, _ in rows), [bytes(start) for _, start in rows]


def test_pages_and_events_are_stored_compressed(home: Path, tmp_path: Path) -> None:
    claude = wordy_tree(tmp_path / "user")
    source = sum(p.stat().st_size for p in claude.rglob("*.jsonl"))
    assert run_cli("import", claude, home=home).returncode == 0

    stored, starts = stored_sizes(home)
    states = query(home, "SELECT length(state), substr(state, 1, 4) FROM stored_events")
    big = [bytes(start) for n, start in states if int(n) >= compression.SMALL_STATE]

    assert stored < source / 3
    assert starts and all(s == compression.MAGIC for s in starts)
    assert big and all(s == compression.ZSTD_FRAME for s in big)


def test_an_import_leaves_the_search_index_current_unless_told_not_to(
    home: Path, new_home: Any, claude_tree: ClaudeTree
) -> None:
    from threadline.adapters.home import resolve_location
    from threadline.adapters.queries import open_queries
    from threadline.application.read_queries import SEARCH_PROJECTIONS

    other = new_home("no-index-home")
    assert run_cli("import", claude_tree.claude_home, home=home).returncode == 0
    assert run_cli("import", claude_tree.claude_home, "--no-index", home=other).returncode == 0

    def behind(h: Path) -> bool:
        queries = open_queries(resolve_location(str(h), _DATABASES.get(h)))
        try:
            return bool(queries.is_behind(SEARCH_PROJECTIONS))
        finally:
            queries.close()

    assert not behind(home)
    assert behind(other)


def write_raw_blobs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blob stores that write what the earlier release wrote: the bytes as they are."""
    from threadline.adapters.persistence import postgres, sqlite

    for module in (sqlite, postgres):
        monkeypatch.setattr(module, "encode_blob", lambda data: data)


def import_in_process(home: Path, claude: Path) -> None:
    from threadline.adapters.claude_code.reader import ClaudeCodeReader
    from threadline.application.import_transcripts import import_transcripts
    from threadline.application.importing import TranscriptImporter

    store = open_test_store(home)
    try:
        reader = ClaudeCodeReader()
        importer = TranscriptImporter(store.app, reader, store.blobs, catch_up=store.catch_up)
        import_transcripts([str(claude)], reader.discover, lambda: importer)
    finally:
        store.close()


def test_a_store_written_raw_reads_the_same_and_vacuum_compresses_it(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    claude = wordy_tree(tmp_path / "user")
    with monkeypatch.context() as patched:
        write_raw_blobs(patched)
        import_in_process(home, claude)
    raw_stored, starts = stored_sizes(home)
    assert not any(s == compression.MAGIC for s in starts)
    before = store_contents(home)

    vacuumed = run_cli("vacuum", home=home)

    assert vacuumed.returncode == 0, vacuumed.stderr
    stored, starts = stored_sizes(home)
    assert all(s == compression.MAGIC for s in starts)
    assert stored < raw_stored / 3
    assert store_contents(home) == before
    restored = run_cli("restore", "--to", tmp_path / "back", "--json", home=home)
    assert [r["outcome"] for r in restored.json()] == ["restored"]
    original = next(claude.rglob("*.jsonl")).read_bytes()
    assert Path(restored.json()[0]["target"]).read_bytes() == original


@pytest.mark.sqlite_only
def test_vacuum_gives_the_disk_back(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    claude = wordy_tree(tmp_path / "user")
    with monkeypatch.context() as patched:
        write_raw_blobs(patched)
        import_in_process(home, claude)
    db = home / "threadline.db"
    size_before = db.stat().st_size

    assert run_cli("vacuum", home=home).returncode == 0

    assert db.stat().st_size < size_before / 2


def test_a_raw_blob_that_starts_like_an_encoded_one_is_never_misread(
    home: Path, claude_tree: ClaudeTree
) -> None:
    assert run_cli("import", claude_tree.claude_home, home=home).returncode == 0
    tricky = compression.MAGIC + b"\x01\x00\x00\x00 a raw page of the earlier release\n"
    key = hashlib.sha256(tricky).hexdigest()
    _as_the_earlier_release_left_it(home, key, tricky)

    store = open_test_store(home)  # opening upgrades the store
    try:
        assert store.blobs.get(key) == tricky
        assert bytes(store.blobs.page(key)[0 : len(tricky)]) == tricky  # type: ignore[attr-defined]
    finally:
        store.close()


def _as_the_earlier_release_left_it(home: Path, key: str, data: bytes) -> None:
    """A raw blob in the table, and no mark that the store was ever upgraded."""
    if on_postgres(home):
        import psycopg

        with psycopg.connect(_DATABASES[home], options="-c search_path=threadline") as conn:
            conn.execute("INSERT INTO blobs (key, data) VALUES (%s, %s)", (key, data))
            conn.execute("DROP TABLE blob_codec")
        return
    import sqlite3

    conn = sqlite3.connect(home / "threadline.db")
    try:
        conn.execute("INSERT INTO blobs (key, data) VALUES (?, ?)", (key, data))
        conn.execute("DROP TABLE blob_codec")
        conn.commit()
    finally:
        conn.close()


@pytest.mark.sqlite_only
def test_the_earlier_releases_store_restores_every_source_it_recorded(
    home: Path, tmp_path: Path
) -> None:
    home.mkdir(mode=0o700)
    shutil.copyfile(FIXTURE_STORE, home / "threadline.db")
    before = store_contents(home)

    restored = run_cli("restore", "--to", tmp_path / "back", "--json", home=home)
    assert run_cli("vacuum", home=home).returncode == 0

    assert restored.returncode == 0, restored.stderr
    assert len(restored.json()) == 3
    for r in restored.json():  # each file's sha256 is the one the old release recorded
        assert hashlib.sha256(Path(r["target"]).read_bytes()).hexdigest() == r["sha256"]
    assert store_contents(home) == before
