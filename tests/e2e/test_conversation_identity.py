"""One conversation, one thread, wherever its file lives (issue #12, ADR 0011).

Real files and the real CLI: a Claude Code tree is written to disk, copied, moved,
backed up and put back, grown differently in two places, and imported from every
location, alone, several at once, and killed while importing. Whatever happens, each
conversation (Claude Code's ``sessionId``, plus the ``agentId`` of a sub-agent) has
exactly one thread, and the ledger lists every location it was found at.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import time
import uuid
from collections import Counter
from datetime import timedelta
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
    count_events,
    make_claude_tree,
    open_test_store,
    run_cli,
    session_uuid,
    slug,
)

pytestmark = pytest.mark.both_stores

SESSION_IMPORTED = "threadline.domain.session:Session.SessionImported"
ITEMS_RECORDED = "threadline.domain.session:Session.ItemsRecorded"
HISTORY_REPLACED = "threadline.domain.session:Session.HistoryReplaced"
REGISTERED = "threadline.domain.conversation:Conversation.ConversationRegistered"


# -- helpers ------------------------------------------------------------------------------


def import_json(*paths: Path | str, home: Path) -> dict[str, Any]:
    result = run_cli("import", *map(str, paths), "--json", home=home)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = result.json()
    return report


def outcomes(report: dict[str, Any]) -> Counter[str]:
    return Counter(s["outcome"] for s in report["sources"])


def by_path(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["path"]: s for s in report["sources"]}


def threads(home: Path) -> dict[str, dict[str, Any]]:
    listed = run_cli("threads", "--json", "--all", home=home)
    assert listed.returncode == 0, listed.stderr
    return {t["thread_id"]: t for t in listed.json()}


def ledger(home: Path) -> dict[str, dict[str, Any]]:
    listed = run_cli("ledger", "--json", home=home)
    assert listed.returncode == 0, listed.stderr
    return {e["source_path"]: e for e in listed.json()}


def items(home: Path, thread_id: str) -> list[dict[str, Any]]:
    shown = run_cli("show", thread_id, "--json", home=home)
    assert shown.returncode == 0, shown.stderr
    result: list[dict[str, Any]] = shown.json()["items"]
    return result


def copy_tree(tree: ClaudeTree, to: Path) -> Path:
    """A copy of the tree's Claude home (files only: new modification times)."""
    shutil.copytree(tree.claude_home, to)
    return to


def located(tree: ClaudeTree, home_copy: Path, path: Path) -> Path:
    """``path`` (a file of the tree) in the copy of its Claude home at ``home_copy``."""
    return home_copy / path.relative_to(tree.claude_home)


def grow(convo: Conversation, path: Path, prompt: str) -> int:
    """Append one exchange to a transcript; how many records were appended."""
    before = len(convo.records)
    convo.user(prompt)
    convo.assistant(f"Answer to {prompt}.")
    append_transcript(path, convo.records[before:])
    return len(convo.records) - before


def fork_of(convo: Conversation) -> Conversation:
    """The same conversation so far, to be grown in another place."""
    return Conversation(
        convo.session_id,
        cwd=convo.cwd,
        git_branch=convo.git_branch,
        start=convo.start,
        step=convo.step,
        records=[dict(r) for r in convo.records],
        parent=convo.parent,
        _n=convo._n,
    )


# -- copies and moves ---------------------------------------------------------------------


def test_a_copied_tree_adds_no_thread_and_the_ledger_lists_both_locations(
    claude_tree: ClaudeTree, tmp_path: Path, home: Path
) -> None:
    first = import_json(claude_tree.claude_home, home=home)
    before = threads(home)
    copy = copy_tree(claude_tree, tmp_path / "elsewhere" / ".claude")

    again = import_json(copy, home=home)

    assert outcomes(first) == {"imported": 3}
    assert outcomes(again) == {"known": 3}
    assert threads(home) == before
    assert count_events(home, SESSION_IMPORTED) == 3
    entries = ledger(home)
    for session in claude_tree.sessions:
        original, copied = (
            entries[str(session.path)],
            entries[str(located(claude_tree, copy, session.path))],
        )
        assert original["thread_id"] == copied["thread_id"]
        assert copied["outcome"] == "known"
        assert (
            by_path(again)[str(located(claude_tree, copy, session.path))]["thread_id"]
            == (original["thread_id"])
        )


def test_a_moved_tree_adds_no_thread_and_reads_only_what_grew_after_it_moved(
    claude_tree: ClaudeTree, tmp_path: Path, home: Path
) -> None:
    with claude_tree.session("middle").path.open("ab") as f:
        f.write(b"not a record\n")  # reported whenever this line is parsed
    first = run_cli("import", claude_tree.claude_home, "--json", home=home)
    assert [p["line"] for p in first.json()["problems"]] == [
        len(claude_tree.session("middle").records) + 1
    ]
    before = threads(home)
    events_before = count_events(home, ITEMS_RECORDED)
    moved = tmp_path / "new-laptop" / ".claude"
    moved.parent.mkdir()
    shutil.move(claude_tree.claude_home, moved)

    again = import_json(moved, home=home)

    assert outcomes(again) == {"known": 3}
    assert again["problems"] == []  # the moved bytes were hashed, not parsed again
    assert threads(home) == before
    assert count_events(home, ITEMS_RECORDED) == events_before  # nothing recorded twice
    session = claude_tree.session("middle")
    path = located(claude_tree, moved, session.path)
    appended = grow(session.conversation, path, "One more step after the move")

    report = import_json(moved, home=home)
    grown = by_path(report)[str(path)]

    assert grown["outcome"] == "appended"
    assert report["problems"] == []
    thread = before[grown["thread_id"]]
    after = items(home, grown["thread_id"])
    assert len(after) == thread["item_count"] + appended
    assert [i["uuid"] for i in after[-appended:]] == [
        r["uuid"] for r in session.records[-appended:]
    ]
    assert count_events(home, SESSION_IMPORTED) == 3


def test_a_backup_put_back_beside_the_newer_file_changes_nothing(
    claude_tree: ClaudeTree, tmp_path: Path, home: Path
) -> None:
    backup = copy_tree(claude_tree, tmp_path / "backup" / ".claude")
    session = claude_tree.session("newest")
    grow(session.conversation, session.path, "Grown after the backup was taken")
    newer = import_json(claude_tree.claude_home, home=home)
    thread_id = by_path(newer)[str(session.path)]["thread_id"]
    newest_items = items(home, thread_id)

    older = import_json(backup, home=home)

    entry = by_path(older)[str(located(claude_tree, backup, session.path))]
    assert entry["outcome"] == "behind"
    assert entry["thread_id"] == thread_id
    assert outcomes(older) == {"behind": 1, "known": 2}
    assert items(home, thread_id) == newest_items
    assert len(threads(home)) == 3


def test_a_backup_imported_first_is_continued_by_the_newer_file(
    claude_tree: ClaudeTree, tmp_path: Path, home: Path
) -> None:
    backup = copy_tree(claude_tree, tmp_path / "backup" / ".claude")
    session = claude_tree.session("newest")
    appended = grow(session.conversation, session.path, "Grown after the backup was taken")
    older = import_json(backup, home=home)
    thread_id = by_path(older)[str(located(claude_tree, backup, session.path))]["thread_id"]
    count = threads(home)[thread_id]["item_count"]

    newer = import_json(claude_tree.claude_home, home=home)

    assert by_path(newer)[str(session.path)]["outcome"] == "appended"
    assert outcomes(newer) == {"appended": 1, "known": 2}
    assert threads(home)[thread_id]["item_count"] == count + appended
    assert count_events(home, SESSION_IMPORTED) == 3


# -- divergence ---------------------------------------------------------------------------


def two_diverged_copies(
    claude_tree: ClaudeTree, tmp_path: Path
) -> tuple[Path, Path, Conversation, Conversation]:
    """The newest session at two locations, each grown its own way; the original's
    last line is written later than the copy's."""
    session = claude_tree.session("newest")
    copy = copy_tree(claude_tree, tmp_path / "other-machine" / ".claude")
    copied_path = located(claude_tree, copy, session.path)
    here, there = session.conversation, fork_of(session.conversation)
    there.step = timedelta(seconds=1)  # its new lines are written sooner
    grow(there, copied_path, "Grown on the other machine")
    here.step = timedelta(hours=1)
    grow(here, session.path, "Grown here, later")
    return session.path, copied_path, here, there


def test_diverged_copies_keep_the_newer_content_and_the_older_stays_in_the_history(
    claude_tree: ClaudeTree, tmp_path: Path, home: Path
) -> None:
    newer_path, older_path, newer, older = two_diverged_copies(claude_tree, tmp_path)
    first = by_path(import_json(older_path, home=home))[str(older_path)]
    thread_id = first["thread_id"]

    second = by_path(import_json(newer_path, home=home))[str(newer_path)]

    assert (first["outcome"], second["outcome"]) == ("imported", "diverged_newer")
    assert second["thread_id"] == thread_id
    assert [i["uuid"] for i in items(home, thread_id)][-2:] == [
        r["uuid"] for r in newer.records[-2:]
    ]
    assert count_events(home, HISTORY_REPLACED) == 1
    assert count_events(home, SESSION_IMPORTED) == 1
    # The older version's lines are still in the thread's events.
    older_uuids = {r["uuid"] for r in older.records[-2:]}
    stored = run_cli("ledger", "--json", home=home).json()
    assert {e["outcome"] for e in stored} == {"imported", "diverged_newer"}
    assert older_uuids <= recorded_uuids(home, thread_id)


def test_a_diverged_copy_that_ends_sooner_leaves_the_thread_as_it_is(
    claude_tree: ClaudeTree, tmp_path: Path, home: Path
) -> None:
    newer_path, older_path, _, _ = two_diverged_copies(claude_tree, tmp_path)
    first = by_path(import_json(newer_path, home=home))[str(newer_path)]
    before = items(home, first["thread_id"])

    second = by_path(import_json(older_path, home=home))[str(older_path)]

    assert second["outcome"] == "diverged_older"
    assert second["thread_id"] == first["thread_id"]
    assert items(home, first["thread_id"]) == before
    assert count_events(home, HISTORY_REPLACED) == 0
    entries = ledger(home)
    assert entries[str(older_path)]["outcome"] == "diverged_older"
    assert entries[str(newer_path)]["outcome"] == "imported"


def recorded_uuids(home: Path, thread_id: str) -> set[str]:
    """Every item uuid in the thread's stored ItemsRecorded events, replaced ones too."""
    store = open_test_store(home)
    try:
        uuids = set()
        for event in store.app.events.get(uuid.UUID(thread_id)):
            for item in getattr(event, "items", []):
                if item.uuid:
                    uuids.add(item.uuid)
        return uuids
    finally:
        store.close()


# -- importers at once, and killed ---------------------------------------------------------


def test_importers_of_copies_of_one_tree_at_once_make_one_thread_per_conversation(
    claude_tree: ClaudeTree, tmp_path: Path, home: Path
) -> None:
    rng = random.Random(12)
    copies = [claude_tree.claude_home] + [
        copy_tree(claude_tree, tmp_path / f"copy-{i}" / ".claude") for i in range(3)
    ]
    for count in (2, 4, 3):
        chosen = rng.sample(copies, count)
        procs = [
            subprocess.Popen(
                cli_command("import", str(path), "--json"),
                cwd=REPO,
                env=cli_env(home),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for path in chosen
        ]
        reports = []
        for proc in procs:
            out, err = proc.communicate(timeout=180)
            assert proc.returncode == 0 and "Traceback" not in err, err[-2000:]
            reports.append(json.loads(out))
        session = claude_tree.session("middle")
        for path in copies:  # grow every copy the same way for the next round
            grow(fork_of(session.conversation), located(claude_tree, path, session.path), "x")
        session.conversation.user("x")
        session.conversation.assistant("Answer to x.")

        assert count_events(home, SESSION_IMPORTED) == 3
        assert count_events(home, REGISTERED) == 3
        assert len(threads(home)) == 3
    imported = [s for r in reports for s in r["sources"]]
    assert {s["outcome"] for s in imported} <= {"imported", "known", "appended", "skipped"}
    assert len(ledger(home)) >= 3 * 3


def test_an_import_of_a_copy_killed_at_random_points_leaves_one_thread_per_conversation(
    claude_tree: ClaudeTree, tmp_path: Path, home: Path, new_home: Any
) -> None:
    import_json(claude_tree.claude_home, home=home)
    copy = copy_tree(claude_tree, tmp_path / "copy" / ".claude")
    for session in claude_tree.sessions:  # the copy holds more than the thread
        convo = fork_of(session.conversation)
        for i in range(40):
            grow(convo, located(claude_tree, copy, session.path), f"more {i} " + "x" * 2000)
    rng = random.Random(7)
    for _ in range(6):
        proc = subprocess.Popen(
            cli_command("import", str(copy), "--json"),
            cwd=REPO,
            env=cli_env(home),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.05, 1.2))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)

    final = import_json(copy, home=home)

    assert {s["outcome"] for s in final["sources"]} <= {"appended", "skipped"}
    assert count_events(home, SESSION_IMPORTED) == 3
    assert count_events(home, REGISTERED) == 3
    listed = threads(home)
    assert len(listed) == 3
    entries = ledger(home)
    clean = new_home("clean")  # the copy imported once, into a store of its own
    import_json(copy, home=clean)
    clean_entries = ledger(clean)
    for session in claude_tree.sessions:
        copied = located(claude_tree, copy, session.path)
        assert entries[str(copied)]["thread_id"] == entries[str(session.path)]["thread_id"]
        shown = items(home, entries[str(copied)]["thread_id"])
        expected = items(clean, clean_entries[str(copied)]["thread_id"])
        assert [(i["uuid"], i["type"]) for i in shown] == [
            (i["uuid"], i["type"]) for i in expected
        ], "an item was lost or recorded twice"


# -- sessions Claude Code names on its own ------------------------------------------------


def test_a_transcript_named_by_no_session_id_is_a_conversation_of_its_own(
    tmp_path: Path, home: Path
) -> None:
    convo = Conversation(session_uuid("anonymous"))
    convo.user("hello")
    a = convo.write(tmp_path / "a" / slug("/x") / "exported.jsonl")
    b = tmp_path / "b" / "exported.jsonl"
    b.parent.mkdir()
    shutil.copyfile(a, b)

    report = import_json(a, b, home=home)

    # The lines name the session: both files are that one conversation.
    assert outcomes(report) == {"imported": 1, "known": 1}
    assert len(threads(home)) == 1


def test_threads_have_ids_of_their_conversation_whatever_the_location(
    tmp_path: Path, home: Path, new_home: Any
) -> None:
    tree_a = make_claude_tree(tmp_path / "a")
    tree_b = make_claude_tree(tmp_path / "b")
    other = new_home("other-home")

    ids_a = {t["source_session_id"]: t["thread_id"] for t in _imported(tree_a, home)}
    ids_b = {t["source_session_id"]: t["thread_id"] for t in _imported(tree_b, other)}

    assert ids_a == ids_b  # two stores, two paths: the same ids


def _imported(tree: ClaudeTree, home: Path) -> list[dict[str, Any]]:
    import_json(tree.claude_home, home=home)
    return list(threads(home).values())
