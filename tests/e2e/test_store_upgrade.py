"""A store written by an earlier release opens, takes new writes and rebuilds.

``tests/fixtures/store-bfc55ee/threadline.db`` was written by commit bfc55ee (before
the layers were installed as the one ``threadline`` package, ADR 0010): it imported
``samples/claude`` from ``/tmp/threadline-v0.1-store/claude``, ran one live session
with two prompts and indexed the threads for search. Its events are stored under the
old topics (``domain.session:Session.ItemsRecorded``). On PostgreSQL the same events
and blobs are written into a fresh store as they are, and its read models start empty.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import (
    REPO,
    ClaudeTree,
    cli_command,
    cli_env,
    old_store,
    open_test_store,
    query,
    run_cli,
    store_contents,
)

pytestmark = pytest.mark.both_stores

IMPORTED = {
    "54d1a177-dea6-52b3-bf6a-dcc8326de4a5": ("Fix stale forecast cache after midnight", 12),
    "e7237a54-0d75-5148-8efe-332390ab244f": ("Hourly forecast endpoint", 13),
    "2fefc63f-07c5-545e-a898-3d0f2298bd40": (
        "Find every use of date.today() and datetime.now() without a tz.",
        2,
    ),
}
LIVE_SESSION = "b49a1420-c646-4aaa-83c2-f16f6bec0468"
LIVE = {LIVE_SESSION: ("first prompt", 3)}
"""The live session is a thread like any other: titled by its first prompt (issue #12)."""


def topics(home: Path) -> set[str]:
    return {t for (t,) in query(home, "SELECT DISTINCT topic FROM stored_events")}


def threads(home: Path) -> dict[str, tuple[str, int]]:
    listed = run_cli("threads", "--json", home=home)
    assert listed.returncode == 0, listed.stderr
    return {t["thread_id"]: (t["title"], t["item_count"]) for t in listed.json()}


def test_the_fixture_holds_only_the_old_topics(home: Path) -> None:
    assert all(t.startswith("domain.") for t in topics(old_store(home)))


def test_a_store_from_the_earlier_release_reads_as_it_was_written(home: Path) -> None:
    home = old_store(home)

    assert threads(home) == IMPORTED | LIVE
    shown = run_cli("show", "e7237a54", "--json", home=home)
    assert shown.returncode == 0, shown.stderr
    assert len(shown.json()["items"]) == 13
    found = run_cli("search", "forecast", "--json", home=home)
    assert found.returncode == 0, found.stderr
    assert {r["thread_id"] for r in found.json()} <= set(IMPORTED)
    assert found.json()


def test_a_store_from_the_earlier_release_takes_new_imports_and_sessions(
    home: Path, tmp_path: Path, claude_tree: ClaudeTree
) -> None:
    home = old_store(home)

    imported = run_cli("import", claude_tree.claude_home, "--json", home=home)
    resumed = subprocess.run(
        cli_command("session", "resume", LIVE_SESSION, "--cwd", str(tmp_path)),
        cwd=REPO,
        env=cli_env(home),
        input="third prompt\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert imported.returncode == 0, imported.stderr
    assert imported.json()["counts"]["imported"] >= 1
    assert resumed.returncode == 0, resumed.stderr
    configured = json.loads(resumed.stdout.splitlines()[0])
    # The session was rebuilt from its old events: its two prompts come back.
    assert (configured["type"], configured["resumed"]) == ("SessionConfigured", True)
    assert [m["parts"] for m in configured["initial_messages"]][-2:] == [
        ["first prompt"],
        ["second prompt"],
    ]
    listed = threads(home)
    assert set(IMPORTED) < set(listed)
    assert all(listed[t] == IMPORTED[t] for t in IMPORTED)
    assert {t.split(":")[0] for t in topics(home)} >= {
        "domain.session",
        "threadline.domain.session",
    }


def test_a_store_from_the_earlier_release_rebuilds_to_the_same_rows(
    home: Path, tmp_path: Path, claude_tree: ClaudeTree
) -> None:
    home = old_store(home)
    assert run_cli("import", claude_tree.claude_home, home=home).returncode == 0
    before = run_cli("threads", "--json", home=home).json()
    ledger_before = run_cli("ledger", "--json", home=home).json()

    rebuilt = run_cli("rebuild", home=home)

    assert rebuilt.returncode == 0, rebuilt.stderr
    assert run_cli("threads", "--json", home=home).json() == before
    assert run_cli("ledger", "--json", home=home).json() == ledger_before
    assert set(IMPORTED) <= {t["thread_id"] for t in before}
    found = run_cli("search", "midnight", "--json", home=home).json()
    assert "54d1a177-dea6-52b3-bf6a-dcc8326de4a5" in {r["thread_id"] for r in found}


def page_size(home: Path) -> int:
    conn = sqlite3.connect(f"file:{home / 'threadline.db'}?mode=ro", uri=True)
    try:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.sqlite_only
def test_vacuum_gives_a_store_with_larger_pages_the_page_size_of_new_stores(
    home: Path, claude_tree: ClaudeTree
) -> None:
    from threadline.adapters.persistence.sqlite import PAGE_SIZE

    home = old_store(home)
    assert page_size(home) == 65536 != PAGE_SIZE  # bfc55ee made 64 KiB pages
    assert run_cli("import", claude_tree.claude_home, home=home).returncode == 0
    before = store_contents(home)
    size_before = (home / "threadline.db").stat().st_size

    vacuumed = run_cli("vacuum", home=home)

    assert vacuumed.returncode == 0, vacuumed.stderr
    assert f"(65536 -> {PAGE_SIZE} bytes a page)" in vacuumed.stdout
    assert page_size(home) == PAGE_SIZE
    assert (home / "threadline.db").stat().st_size < size_before / 2
    assert store_contents(home) == before
    assert run_cli("search", "midnight", "--json", home=home).json()
    assert run_cli("import", claude_tree.claude_home, home=home).returncode == 0


@pytest.mark.sqlite_only
def test_vacuum_keeps_the_pages_of_a_store_another_process_has_open(home: Path) -> None:
    home = old_store(home)
    reader = subprocess.Popen(  # another process reading the store in WAL mode, idle
        [
            sys.executable,
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]);"
            " c.execute('SELECT count(*) FROM blobs').fetchall(); print(flush=True);"
            " sys.stdin.read()",
            str(home / "threadline.db"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert reader.stdout is not None and reader.stdout.readline() == b"\n"
        vacuumed = run_cli("vacuum", home=home)
    finally:
        reader.communicate(b"")

    assert vacuumed.returncode == 0, vacuumed.stderr
    assert page_size(home) == 65536
    assert threads(home) == IMPORTED | LIVE


@pytest.mark.sqlite_only
def test_a_store_checkpoints_its_log_at_64_mib_whatever_its_page_size(
    home: Path, tmp_path: Path
) -> None:
    def checkpoint_pages(h: Path) -> int:
        store = open_test_store(h)
        try:
            with store.blobs.datastore.get_connection(commit=False) as conn:  # type: ignore[attr-defined]
                cursor = conn.cursor()
                cursor.execute("PRAGMA wal_autocheckpoint")
                return int(cursor.fetchone()[0])
        finally:
            store.close()

    new = tmp_path / "new-home"
    assert run_cli("threads", home=new).returncode == 0  # creates the store

    assert checkpoint_pages(old_store(home)) * 65536 == 64 * 1024 * 1024
    assert checkpoint_pages(new) * page_size(new) == 64 * 1024 * 1024
    assert page_size(new) == 4096
