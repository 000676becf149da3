"""A store an earlier release wrote keeps every thread id once conversations are indexed.

``tests/fixtures/store-bfc55ee/threadline.db`` was written by commit bfc55ee: it imported
``samples/claude`` from ``/tmp/threadline-v0.1-store/claude``, so its threads are named
by those paths (``uuid5(agent, path)``). Importing the same conversations from anywhere
else must find those threads (ADR 0011).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import REPO, append_transcript, count_events, run_cli

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "store-bfc55ee" / "threadline.db"
IMPORTED = {
    "54d1a177-dea6-52b3-bf6a-dcc8326de4a5",
    "e7237a54-0d75-5148-8efe-332390ab244f",
    "2fefc63f-07c5-545e-a898-3d0f2298bd40",
}
SAMPLES = REPO / "samples" / "claude"
SESSION = "9a4e7d21-63b0-4f5c-8e12-7c3f0b9d5e84"
REGISTERED = "threadline.domain.conversation:Conversation.ConversationRegistered"


def old_store(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    shutil.copyfile(FIXTURE, home / "threadline.db")
    (home / "threadline.db").chmod(0o600)
    return home


def thread_ids(home: Path) -> set[str]:
    """The imported threads (the old store also holds a live session of its own)."""
    listed = run_cli("threads", "--json", "--all", home=home)
    assert listed.returncode == 0, listed.stderr
    return {t["thread_id"] for t in listed.json() if t["source_agent"] != "threadline"}


def test_the_old_stores_conversations_imported_from_another_path_add_no_thread(
    tmp_path: Path,
) -> None:
    home = old_store(tmp_path)
    copy = tmp_path / "restored" / "claude"
    shutil.copytree(SAMPLES, copy)

    report = run_cli("import", copy, "--json", home=home)

    assert report.returncode == 0, report.stderr
    sources = report.json()["sources"]
    assert {s["outcome"] for s in sources} == {"known"}
    assert {s["thread_id"] for s in sources} == IMPORTED
    assert thread_ids(home) == IMPORTED
    assert count_events(home, REGISTERED) == 3


def test_the_old_stores_thread_takes_what_a_copy_grew(tmp_path: Path) -> None:
    home = old_store(tmp_path)
    copy = tmp_path / "restored" / "claude"
    shutil.copytree(SAMPLES, copy)
    path = next(copy.rglob(f"{SESSION}.jsonl"))
    append_transcript(
        path,
        [
            {
                "type": "user",
                "uuid": "00000000-0000-4000-8000-00000000ffff",
                "parentUuid": None,
                "sessionId": SESSION,
                "cwd": "/home/demo/src/weather-app",
                "timestamp": "2026-10-06T10:00:00.000Z",
                "message": {"role": "user", "content": "One more thing after the upgrade"},
            }
        ],
    )

    report = run_cli("import", copy, "--json", home=home)

    assert report.returncode == 0, report.stderr
    grown = next(s for s in report.json()["sources"] if s["path"] == str(path))
    assert (grown["outcome"], grown["thread_id"]) == (
        "appended",
        "e7237a54-0d75-5148-8efe-332390ab244f",
    )
    assert thread_ids(home) == IMPORTED
    shown = run_cli("show", "e7237a54", "--json", home=home).json()
    assert len(shown["items"]) == 14
