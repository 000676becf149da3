"""``threadline export THREAD --format codex``: a Claude Code thread, exported through the
CLI on each store, is listed and read by the real Codex CLI 0.169.0; exporting it again
writes and records nothing; importing the Codex home afterwards makes no second thread.

The Codex binary comes from ``tests/codex_app_server.py`` (under ``CI=true`` its
absence fails the tests that need it).
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from codex_app_server import AppServer, message_texts, require_codex
from conftest import REPO, event_topics, open_test_store, run_cli

pytestmark = pytest.mark.both_stores

SAMPLES = REPO / "samples" / "claude"
TITLE = "Fix stale forecast cache after midnight"
CODEX_IMPORT = REPO / "tests" / "fixtures" / "codex" / "real" / "claude-import"


@pytest.fixture
def codex() -> str:
    return require_codex()


def _imported(home: Path) -> dict[str, Any]:
    assert run_cli("import", SAMPLES, home=home).returncode == 0
    rows = run_cli("threads", "--all", "--json", home=home).json()
    return next(r for r in rows if r["title"] == TITLE)


def _export(home: Path, thread_id: str, codex_home: Path) -> dict[str, Any]:
    done = run_cli(
        *("export", thread_id[:8], "--format", "codex", "--codex-home", codex_home, "--json"),
        home=home,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = done.json()
    return result


def _files(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _exported_events(home: Path, thread_id: str) -> int:
    return sum(t.endswith("Session.Exported") for t in event_topics(home, thread_id))


def _utc(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_real_codex_lists_and_reads_a_thread_exported_through_the_cli(
    home: Path, tmp_path: Path, codex: str
) -> None:
    row = _imported(home)
    codex_home = tmp_path / "codex-home"
    result = _export(home, row["thread_id"], codex_home)
    assert result["written"] and result["recorded"]
    created, updated = _utc(row["created_at"]), _utc(row["updated_at"])
    assert f"/sessions/{created:%Y/%m/%d}/rollout-" in result["path"]

    server = AppServer(codex, codex_home)
    try:
        listed = server.request("thread/list", {"limit": 50})["result"]["data"]
        (entry,) = [t for t in listed if t["id"] == result["codex_thread_id"]]
        assert (entry["name"], entry["cwd"]) == (TITLE, row["cwd"])
        assert entry["createdAt"] == int(created.timestamp())
        assert entry["updatedAt"] == int(updated.timestamp())
        read = server.request(
            "thread/read", {"threadId": result["codex_thread_id"], "includeTurns": True}
        )
        turns = read["result"]["thread"]["turns"]
    finally:
        server.close()

    items = run_cli("show", row["thread_id"], "--json", home=home).json()["items"]
    expected = [
        ("user" if i["type"] == "user" else "agent", "\n\n".join(i["parts"]))
        for i in items
        if i["type"] in ("user", "assistant") and not i.get("meta") and any(i["parts"])
    ]
    assert message_texts(turns) == expected
    # Tool calls stay calls, each with its output, in the thread's order.
    lines = [json.loads(line) for line in Path(result["path"]).read_text().splitlines()]
    calls = [
        (p["type"], p["call_id"])
        for line in lines
        if line["type"] == "response_item"
        and (p := line["payload"])["type"] in ("function_call", "function_call_output")
    ]
    assert calls == [
        ("function_call" if i["type"] == "tool_call" else "function_call_output", i["call_id"])
        for i in items
        if i["type"] in ("tool_call", "tool_result")
    ]
    messages = [p for line in lines if (p := line["payload"]).get("type") == "message"]
    assert calls and not any("function_call" in json.dumps(m["content"]) for m in messages)


def test_exporting_again_writes_and_records_nothing(home: Path, tmp_path: Path) -> None:
    row = _imported(home)
    codex_home = tmp_path / "codex-home"
    first = _export(home, row["thread_id"], codex_home)
    files = _files(codex_home)
    assert _exported_events(home, row["thread_id"]) == 1
    again = _export(home, row["thread_id"], codex_home)
    assert (again["written"], again["recorded"], again["path"]) == (False, False, first["path"])
    assert _files(codex_home) == files
    assert _exported_events(home, row["thread_id"]) == 1
    store = open_test_store(home)
    try:
        session = store.app.repository.get(UUID(row["thread_id"]))
    finally:
        store.close()
    assert list(session.exports) == [(str(codex_home), first["codex_thread_id"])]


def test_importing_the_codex_home_afterwards_adds_no_thread(home: Path, tmp_path: Path) -> None:
    row = _imported(home)
    codex_home = tmp_path / "codex-home"
    _export(home, row["thread_id"], codex_home)
    before = run_cli("threads", "--all", "--json", home=home).json()

    done = run_cli("import", codex_home, "--json", home=home)
    assert done.returncode == 0, done.stderr
    (source,) = done.json()["sources"]
    assert (source["agent"], source["outcome"]) == ("codex", "known")
    assert source["thread_id"] == row["thread_id"]
    assert run_cli("threads", "--all", "--json", home=home).json() == before


def test_what_codex_adds_to_an_exported_rollout_is_a_thread_of_its_own(
    home: Path, tmp_path: Path
) -> None:
    row = _imported(home)
    codex_home = tmp_path / "codex-home"
    rollout = Path(_export(home, row["thread_id"], codex_home)["path"])
    assert run_cli("import", codex_home, home=home).returncode == 0
    prompt = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "now in Celsius"}],
    }
    with rollout.open("ab") as f:
        line = {"timestamp": "2026-10-05T16:00:00.000Z", "type": "response_item", "payload": prompt}
        f.write(json.dumps(line).encode() + b"\n")

    assert run_cli("import", codex_home, home=home).returncode == 0
    rows = {r["thread_id"]: r for r in run_cli("threads", "--all", "--json", home=home).json()}
    assert rows[row["thread_id"]]["item_count"] == row["item_count"]
    (added,) = [r for r in rows.values() if r["source_agent"] == "codex"]
    assert added["continued_from"] == row["thread_id"]
    shown = run_cli("show", added["thread_id"][:8], "--json", home=home).json()
    assert [i["type"] for i in shown["items"]] == ["user"]


def test_a_rollout_codex_imported_from_a_claude_session_continues_that_sessions_thread(
    home: Path, tmp_path: Path
) -> None:
    """Codex's own importer (0.169, from the same sample session) wrote this rollout; it
    names the Claude conversation, whose thread the store's index gives (ADR 0011)."""
    codex_home = tmp_path / "codex-home"
    shutil.copytree(CODEX_IMPORT, codex_home)
    assert run_cli("import", SAMPLES, home=home).returncode == 0
    assert run_cli("import", codex_home, home=home).returncode == 0

    rows = run_cli("threads", "--all", "--json", home=home).json()
    (made,) = [r for r in rows if r["source_agent"] == "codex"]
    claude = next(r for r in rows if r["thread_id"] == made["continued_from"])
    assert claude["source_agent"] == "claude-code"
    assert Path(claude["source_path"]).stem == claude["source_session_id"]


def test_an_unknown_thread_or_an_unwritable_home_is_a_clear_error(
    home: Path, tmp_path: Path
) -> None:
    row = _imported(home)
    missing = run_cli(
        "export", "ffffffff", "--format", "codex", "--codex-home", tmp_path, home=home
    )
    assert missing.returncode == 1 and "ffffffff" in missing.stderr
    assert "Traceback" not in missing.stderr
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    codex_home = blocker / "codex"
    done = run_cli(
        "export", row["thread_id"], "--format", "codex", "--codex-home", codex_home, home=home
    )
    assert done.returncode == 3, done.stderr
    assert f"cannot write to {codex_home}" in done.stderr and "Traceback" not in done.stderr
    assert _exported_events(home, row["thread_id"]) == 0


def test_a_rollout_codex_went_on_with_is_not_written_over(home: Path, tmp_path: Path) -> None:
    row = _imported(home)
    codex_home = tmp_path / "codex-home"
    path = Path(_export(home, row["thread_id"], codex_home)["path"])
    added = {"timestamp": "2026-10-03T10:00:00.000Z", "type": "event_msg", "payload": {}}
    with path.open("a") as f:
        f.write(json.dumps(added) + "\n")
    os.utime(path, (0, 0))
    kept = path.read_bytes()
    done = run_cli(
        "export", row["thread_id"], "--format", "codex", "--codex-home", codex_home, home=home
    )
    assert done.returncode == 1 and "not written over" in done.stderr
    assert "Traceback" not in done.stderr
    assert path.read_bytes() == kept
