"""The events that give a conversation one thread wherever it lives (ADR 0011), as a snapshot.

A session is imported, copied, grown on both sides in different ways (a divergence),
backed up, resumed in a new session, and renamed and archived; the backup is deleted; a
sub-agent is known from its parent's progress lines and then from its own file. The
snapshot holds, in store order, every event of the conversation index and of the user's
names and lineage, and the ledger's outcomes. Ids are numbered by first appearance (so
it shows which event names which thread), hashes and the times the events were written
are normalised, paths are relative to the test's directory. Update on purpose with
``pytest --snapshot-update``.
"""

from __future__ import annotations

import re
import shutil
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from conftest import (
    Conversation,
    append_transcript,
    open_test_store,
    query,
    run_cli,
    session_uuid,
)

from threadline.adapters.persistence.compression import decode_state

CWD = "/nonexistent-threadline-tests/app"
UUID_RE = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")
SHA256_RE = re.compile(r"[0-9a-f]{64}")
SHOWN = (
    ":Conversation.",
    ":ConversationStart.",
    ":IdentityUpgrade.",
    "Session.Renamed",
    "Session.Archived",
    "Session.Unarchived",
    "Session.LineageRecorded",
    "Session.HistoryReplaced",
    "Import.LedgerRecorded",
    "Import.SourceGone",
)
LEDGER_KEYS = ("outcome", "conversation_id", "divergence", "thread_id", "path")


class Names:
    """Numbers ids and hashes by first appearance; paths relative to the test dir."""

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self.seen: dict[str, str] = {}

    def __call__(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {self(k): self(v, k) for k, v in sorted(value.items())}
        if isinstance(value, list):
            return [self(v, key) for v in value]
        if key in ("timestamp", "mtime_ns"):
            return f"<{key}>"
        if isinstance(value, str):
            if value.startswith(self.root):
                return "<tmp>" + value[len(self.root) :]
            for label, pattern in (("id", UUID_RE), ("sha", SHA256_RE)):
                if pattern.fullmatch(value):
                    canonical = value.replace("-", "")
                    n = sum(1 for v in self.seen.values() if v.startswith(f"<{label}"))
                    return self.seen.setdefault(canonical, f"<{label}-{n + 1}>")
        return value


def import_ok(path: Path, home: Path) -> dict[str, Any]:
    result = run_cli("import", path, "--json", home=home)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = result.json()
    return report


def identity_events(home: Path, root: Path) -> list[dict[str, Any]]:
    names = Names(root)
    shown = []
    for originator, version, topic, state in query(
        home,
        "SELECT originator_id, originator_version, topic, state FROM stored_events ORDER BY rowid",
    ):
        payload = decode_state(bytes(state))
        if not any(part in topic for part in SHOWN):
            names(originator)  # number it anyway: the numbers follow the store's order
            continue
        if topic.endswith("Import.LedgerRecorded"):
            payload = {k: payload.get(k) for k in LEDGER_KEYS}
        if topic.endswith("Session.HistoryReplaced"):
            payload = {"reason": payload["reason"], "title": payload["summary"]["title"]}
        shown.append(
            {
                "topic": topic.split(":")[1],
                "originator": names(originator),
                "version": version,
                "payload": names(payload),
            }
        )
    return shown


def test_the_identity_events_of_a_conversation_that_moves_diverges_and_is_resumed(
    tmp_path: Path, snapshot: Any
) -> None:
    home = tmp_path / "home"
    here = tmp_path / "here" / ".claude" / "projects" / "-app"
    convo = Conversation(session_uuid("identity"), cwd=CWD)
    convo.user("Tidy the release script")
    call = "toolu_task"
    convo.assistant(
        "Asking a sub-agent.", {"type": "tool_use", "id": call, "name": "Task", "input": {}}
    )
    sub = Conversation(convo.session_id, cwd=CWD, is_sidechain=True, agent_id="a1")
    sub.user("Read the script")
    for record in sub.records:
        inner = {k: record[k] for k in ("type", "message", "uuid", "timestamp")}
        convo.envelope(
            "progress",
            data={"type": "agent_progress", "agentId": "a1", "message": inner},
            parentToolUseID=call,
        )
    convo.tool_result(call, "Read it.")
    path = convo.write(here / f"{convo.session_id}.jsonl")
    import_ok(tmp_path / "here" / ".claude", home)  # imported, with a mirrored sub-agent
    backup = tmp_path / "backup"
    shutil.copytree(tmp_path / "here", backup)
    import_ok(backup / ".claude", home)  # known
    there = tmp_path / "there"
    shutil.copytree(tmp_path / "here", there)
    copied = there / path.relative_to(tmp_path / "here")
    theirs = Conversation(convo.session_id, cwd=CWD, start=convo.start)
    theirs.parent, theirs._n = convo.parent, len(convo.records) + 50
    theirs.user("Grown on the other machine")
    append_transcript(copied, theirs.records)
    import_ok(there / ".claude", home)  # appended
    convo.step = timedelta(hours=1)
    convo.user("Grown here, later")
    append_transcript(path, convo.records[-1:])
    import_ok(tmp_path / "here" / ".claude", home)  # diverged_newer
    import_ok(backup / ".claude", home)  # behind (unchanged files are skipped by size and mtime)
    sub.write(here / convo.session_id / "subagents" / "agent-a1.jsonl")
    import_ok(tmp_path / "here" / ".claude", home)  # the sub-agent's own file replaces the mirror
    resumed = Conversation(session_uuid("identity-resumed"), cwd=CWD, start=convo.start)
    resumed.records = [{**r, "sessionId": resumed.session_id} for r in convo.records]
    resumed.parent, resumed._n = convo.parent, 200
    resumed.user("Resumed in a new session")
    resumed.write(here / f"{resumed.session_id}.jsonl")
    import_ok(tmp_path / "here" / ".claude", home)  # continued_from
    store = open_test_store(home)
    try:
        thread = uuid.UUID(str(store.app.thread_of_conversation("claude-code", convo.session_id)))
        store.app.rename_thread(thread, "Release script, tidied")
        store.app.archive_thread(thread)
        store.app.unarchive_thread(thread)
        backed_up = backup / path.relative_to(tmp_path / "here")
        store.app.record_gone("claude-code", str(backed_up))  # the backup was deleted
    finally:
        store.close()

    assert identity_events(home, tmp_path) == snapshot
