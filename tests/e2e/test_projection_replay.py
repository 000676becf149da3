"""Read models are rebuildable and replay-safe: rows and position commit together.

Rebuilt rows equal incrementally maintained rows (search included); a page of
events applied twice, or a crash after the rows were written but before the
position was, leaves the same rows as a clean run; ``project --follow`` keeps
them current and stops cleanly on a signal.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    REPO,
    ClaudeTree,
    Conversation,
    append_transcript,
    cli_command,
    cli_env,
    on_postgres,
    open_test_store,
    query,
    run_cli,
    session_uuid,
    table,
    write_transcript,
)
from eventsourcing.persistence import IntegrityError

from threadline.application.projections import PROJECTIONS, CatchUp
from threadline.application.row_changes import InsertSearch, RowChange

pytestmark = pytest.mark.both_stores


def indexed_words(home: Path) -> list[tuple[Any, ...]]:
    """Each search row with what the index holds for it. SQLite: the words, each once in
    the index's order (it keeps no text nor positions, ADR 0015); ids are assigned in
    replay order, what matters is which words are at which item, and words of rows a
    rewrite deleted stay unreachable: left out.
    PostgreSQL: the words its ``tsvector`` holds (of every row of the item), in that order."""
    if on_postgres(home):
        return query(
            home,
            "SELECT s.thread_id, s.position, s.role, s.pieces,"
            " (SELECT string_agg(w, ' ' ORDER BY w COLLATE \"C\") FROM search_items c,"
            "  unnest(tsvector_to_array(c.words)) w"
            "  WHERE c.thread_id = s.thread_id AND c.position = s.position)"
            " FROM search_items s WHERE s.chunk = 0 ORDER BY s.thread_id, s.position",
        )
    conn = sqlite3.connect(f"file:{home / 'threadline.db'}?mode=ro", uri=True)
    try:
        conn.execute("CREATE VIRTUAL TABLE temp.words USING fts5vocab(main, search_text, instance)")
        words: dict[int, list[str]] = {}
        for term, doc in conn.execute("SELECT term, doc FROM temp.words ORDER BY doc, term"):
            words.setdefault(doc, []).append(term)
        rows = conn.execute(
            "SELECT id, thread_id, position, role, pieces FROM search_items"
            " ORDER BY thread_id, position"
        ).fetchall()
    finally:
        conn.close()
    return [(*row[1:], " ".join(words[row[0]])) for row in rows]


def all_rows(home: Path) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "threads": table(home, "threads", "thread_id"),
        "spawns": table(home, "spawns", "parent_thread_id, agent_id"),
        "history": table(home, "history", "thread_id, position"),
        "ledger": table(home, "ledger", "import_id"),
        "search": indexed_words(home),
    }


def import_ok(path: Path, home: Path, *options: str) -> dict[str, Any]:
    result = run_cli("import", path, "--json", *options, home=home)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = result.json()
    return report


def grow_and_rewrite(tree: ClaudeTree, home: Path) -> None:
    """Imports, then an append, a rewrite in place and a new source with a sub-agent,
    with search caught up between the two imports."""
    import_ok(tree.claude_home, home)
    assert run_cli("search", "step", home=home).returncode == 0
    grown, rewritten = tree.session("middle"), tree.session("oldest")
    grown.conversation.user("grow the middle session with quokka")
    append_transcript(grown.path, grown.records[-1:])
    write_transcript(rewritten.path, rewritten.records[:4])
    host = Conversation(session_uuid("host"))
    host.user("Use a sub-agent")
    main_parent = host.parent
    host.is_sidechain, host.parent = True, None
    host.user("inline sub-agent work")
    host.is_sidechain, host.parent = False, main_parent
    host.assistant("done")
    host.write(tree.projects / "-proj" / f"{host.session_id}.jsonl")
    outcomes = sorted(s["outcome"] for s in import_ok(tree.claude_home, home)["sources"])
    assert outcomes == ["appended", "imported", "replaced", "skipped"]
    assert run_cli("project", home=home).returncode == 0


def test_rebuilding_every_projection_gives_the_incrementally_maintained_rows(
    claude_tree: ClaudeTree, home: Path
) -> None:
    grow_and_rewrite(claude_tree, home)
    incremental = all_rows(home)
    assert any("quokka" in row[-1] for row in incremental["search"])

    result = run_cli("rebuild", home=home)

    assert result.returncode == 0, result.stderr
    assert "rebuilt threads, history, ledger, usage, search" in result.stderr
    assert all_rows(home) == incremental


def test_rebuilding_one_projection_leaves_the_others_alone(
    claude_tree: ClaudeTree, home: Path
) -> None:
    grow_and_rewrite(claude_tree, home)
    before = all_rows(home)

    result = run_cli("rebuild", "search", home=home)

    assert result.returncode == 0, result.stderr
    assert all_rows(home) == before
    unknown = run_cli("rebuild", "nonsense", home=home)
    assert unknown.returncode == 2
    assert "no read model named nonsense" in unknown.stderr


class CrashBeforeTracking(Exception):
    pass


def crashing(read_models: Any) -> Any:
    """A read-model store of the same kind that writes a page's rows, then dies before
    writing the position (in the same transaction, so the database rolls the rows back),
    on the chosen page."""
    base = type(read_models)

    class CrashingReadModels(base):  # type: ignore[valid-type,misc]
        crash_on_page = 2
        pages = 0

        def apply(self, ops: list[RowChange], positions: dict[str, int]) -> None:
            self.pages += 1
            if self.pages != self.crash_on_page:
                super().apply(ops, positions)
                return
            with self.datastore.transaction(commit=True) as c:
                self.write(c, ops)
                raise CrashBeforeTracking

    return CrashingReadModels


def test_a_crash_between_the_row_write_and_the_tracking_write_leaves_the_same_rows(
    claude_tree: ClaudeTree, home: Path
) -> None:
    grow_and_rewrite(claude_tree, home)
    expected = all_rows(home)
    store = open_test_store(home)
    try:
        store.read_models.reset(list(PROJECTIONS))
        crashing_class = crashing(store.read_models)
        crashing_store = store.app.factory.tracking_recorder(crashing_class)
        assert isinstance(crashing_store, crashing_class)
        catch_up = CatchUp(
            log=store.app.recorder,
            decode=store._catch_up.decode,
            store=crashing_store,
            page_size=3,
        )
        with pytest.raises(CrashBeforeTracking):
            catch_up.run(list(PROJECTIONS))
        assert crashing_store.positions(), "the first page should have committed"

        catch_up.store = store.read_models
        catch_up.run(list(PROJECTIONS))
    finally:
        store.close()

    assert all_rows(home) == expected


class PageRecorder:
    """The read-model store, recording how many characters of search text each page held."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.pages: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def apply(self, ops: list[RowChange], positions: dict[str, int]) -> None:
        self.pages.append(sum(len(op.text) for op in ops if isinstance(op, InsertSearch)))
        self.store.apply(ops, positions)


def test_a_page_ends_once_its_search_texts_reach_the_bound_with_the_same_rows(
    claude_tree: ClaudeTree, home: Path
) -> None:
    grow_and_rewrite(claude_tree, home)
    expected = all_rows(home)
    store = open_test_store(home)
    try:
        store.read_models.reset(list(PROJECTIONS))
        recorder = PageRecorder(store.read_models)
        bound = 1  # each event with search text ends its page
        catch_up = CatchUp(
            log=store.app.recorder,
            decode=store._catch_up.decode,
            store=recorder,
            page_size=500,
            page_text_chars=bound,
        )
        catch_up.run(list(PROJECTIONS))
    finally:
        store.close()

    assert len([texts for texts in recorder.pages if texts]) > 3
    assert all_rows(home) == expected


def test_the_same_page_applied_twice_is_refused_whole_and_rows_stay_the_same(
    claude_tree: ClaudeTree, home: Path
) -> None:
    grow_and_rewrite(claude_tree, home)
    store = open_test_store(home)
    try:
        store.read_models.reset(list(PROJECTIONS))
        log = store.app.recorder
        page = log.select_notifications(None, 5)
        ops: list[RowChange] = []
        with store.read_models.source_lines() as lines:
            for n in page:
                event = store._catch_up.decode(n.state)
                event["originator_id"] = str(n.originator_id)
                event["originator_version"] = n.originator_version
                for projection in PROJECTIONS.values():
                    if n.topic in projection.topics:
                        ops.extend(projection.changes(n.topic, event, n.id, lines))
        positions = dict.fromkeys(PROJECTIONS, page[-1].id)
        store.read_models.apply(ops, positions)
        once = all_rows(home)

        with pytest.raises(IntegrityError):
            store.read_models.apply(ops, positions)

        assert all_rows(home) == once
    finally:
        store.close()


def test_project_follow_keeps_read_models_current_and_stops_cleanly_on_sigterm(
    claude_tree: ClaudeTree, home: Path
) -> None:
    first, *rest = claude_tree.sessions
    import_ok(first.path, home, "--no-index")
    follower = subprocess.Popen(
        cli_command("project", "--follow", "--interval", "0.1"),
        cwd=REPO,
        env=cli_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for session in rest:
            # Write the events without indexing them: the follower must.
            assert run_cli("import", session.path, "--no-index", home=home).returncode == 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            indexed = query(home, "SELECT count(DISTINCT thread_id) FROM search_items")[0][0]
            if indexed == len(claude_tree.sessions):
                break
            time.sleep(0.1)
        assert indexed == len(claude_tree.sessions)
        follower.send_signal(signal.SIGTERM)
        _, stderr = follower.communicate(timeout=30)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()

    assert follower.returncode == 0, stderr
    assert "stopped" in stderr or "read models up to date" in stderr
    assert "Traceback" not in stderr


def test_project_follow_stops_on_sigint_too(home: Path, claude_tree: ClaudeTree) -> None:
    import_ok(claude_tree.claude_home, home, "--no-index")  # the follower has search to do
    follower = subprocess.Popen(
        cli_command("project", "--follow", "--interval", "0.1"),
        cwd=REPO,
        env=cli_env(home),
        stderr=subprocess.PIPE,
        text=True,
    )
    assert follower.stderr is not None
    assert "projected" in follower.stderr.readline()  # running, with its handlers installed
    follower.send_signal(signal.SIGINT)
    _, stderr = follower.communicate(timeout=30)
    assert follower.returncode == 0, stderr


def test_rebuild_shows_a_progress_bar_on_a_terminal_only(
    claude_tree: ClaudeTree, home: Path
) -> None:
    import os
    import pty

    import_ok(claude_tree.claude_home, home)
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            cli_command("rebuild"),
            cwd=REPO,
            env=cli_env(home, {"COLUMNS": "100", "TERM": "xterm"}),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=terminal,
            timeout=60,
            check=False,
        )
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(controller)

    assert done.returncode == 0
    assert b"rebuilding" in shown
    assert b"rebuilt threads, history, ledger, usage, search" in shown
    piped = run_cli("rebuild", home=home)
    assert "rebuilding" not in piped.stderr


class OtherCatchUpFirst:
    """The read-model store, with another catch-up run to the end just before this one's
    first write: two processes catching up at once, in the order that makes them meet."""

    def __init__(self, store: Any, other: CatchUp) -> None:
        self.store = store
        self.other: CatchUp | None = other

    def positions(self) -> dict[str, int]:
        positions: dict[str, int] = self.store.positions()
        return positions

    def apply(self, ops: list[RowChange], positions: dict[str, int]) -> None:
        if self.other is not None:
            other, self.other = self.other, None
            other.run(["ledger"])
        self.store.apply(ops, positions)

    def reset(self, names: Any) -> None:
        self.store.reset(names)

    def source_lines(self) -> Any:
        return self.store.source_lines()


def test_two_catch_ups_meeting_only_events_they_do_not_follow_both_end_at_the_end(
    claude_tree: ClaudeTree, home: Path
) -> None:
    import_ok(claude_tree.claude_home, home)
    thread_id = uuid.UUID(query(home, "SELECT thread_id FROM threads")[0][0])
    store = open_test_store(home)
    try:
        # Events the ledger does not follow: its catch-up's page is empty.
        for _ in range(2):
            store.app.archive_thread(thread_id)
            store.app.unarchive_thread(thread_id)
        end = store.app.recorder.max_notification_id()
        assert store.read_models.positions()["ledger"] < end

        def catch_up(read_models: Any) -> CatchUp:
            return CatchUp(log=store.app.recorder, decode=store._catch_up.decode, store=read_models)

        racing = catch_up(OtherCatchUpFirst(store.read_models, catch_up(store.read_models)))
        racing.run(["ledger"])

        assert store.read_models.positions()["ledger"] == end
    finally:
        store.close()
