"""Threads exported as Codex rollouts, checked by the real Codex CLI 0.169.0.

The sample Claude Code transcripts are imported with the real CLI into a fresh
store, read back as ``show --json`` gives them (the thread row and its items, as
``application/history.py: thread_items`` returns them), exported with
``adapters/codex/export.py``, and then ``codex app-server`` (JSON-RPC over stdio)
must list the thread with its name, cwd and timestamps and read its turns with
the user and agent messages in order (``tests/codex_app_server.py`` finds the binary;
without it these tests are skipped, and under ``CI=true`` they fail).
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from codex_app_server import AppServer, message_texts, require_codex

from threadline.adapters.codex.export import export_thread
from threadline.adapters.codex.reader import CodexReader
from threadline.application.ports import SourceFile
from threadline.domain.items import AssistantMessage, ToolCall, ToolResult, UserMessage

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples" / "claude"


@pytest.fixture
def codex() -> str:
    return require_codex()


# -- a store with the sample threads -------------------------------------------------


def _cli(home: Path, *args: str) -> Any:
    proc = subprocess.run(
        [sys.executable, "-m", "threadline.adapters.cli.main", "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "THREADLINE_DATABASE_URL"},
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout) if "--json" in args else proc.stdout


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[dict[str, Any]]]]:
    home = tmp_path_factory.mktemp("threadline")
    _cli(home, "import", str(SAMPLES))
    rows = _cli(home, "threads", "--all", "--json")
    yield home, rows


def _thread(
    store: tuple[Path, list[dict[str, Any]]], title: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    home, rows = store
    row = next(r for r in rows if r["title"] == title)
    shown = _cli(home, "show", row["thread_id"], "--json")
    return row, shown["items"]


# -- tests -------------------------------------------------------------------------------


def test_export_twice_writes_nothing_new(
    store: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    row, items = _thread(store, "Hourly forecast endpoint")
    codex_home = tmp_path / ".codex"
    first = export_thread(row, items, str(codex_home))
    assert first.written and first.name_written
    before = {
        p: Path(p).read_bytes()
        for p in glob.glob(str(codex_home / "**" / "*"), recursive=True)
        if os.path.isfile(p)
    }
    again = export_thread(row, items, str(codex_home))
    assert (again.written, again.name_written, again.path) == (False, False, first.path)
    after = {
        p: Path(p).read_bytes()
        for p in glob.glob(str(codex_home / "**" / "*"), recursive=True)
        if os.path.isfile(p)
    }
    assert before == after
    created = datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))
    assert f"/sessions/{created:%Y/%m/%d}/rollout-{created:%Y-%m-%dT%H-%M-%S}-" in first.path


def _read(path: str) -> Any:
    st = os.stat(path)
    return CodexReader().read(SourceFile("codex", path, st.st_size, st.st_mtime_ns), None, _Blobs())


def _without_marker(path: str) -> None:
    """The rollout as if another tool had written it: no ``threadline`` field in its meta."""
    first, *rest = Path(path).read_bytes().splitlines(keepends=True)
    record = json.loads(first)
    del record["payload"]["threadline"]
    Path(path).write_bytes(json.dumps(record).encode() + b"\n" + b"".join(rest))


def test_exported_rollout_reads_back_with_structured_tool_calls(
    store: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    row, items = _thread(store, "Fix stale forecast cache after midnight")
    result = export_thread(row, items, str(tmp_path / ".codex"))
    _without_marker(result.path)
    read = _read(result.path)
    assert not read.problems and read.main is not None
    thread = read.main
    assert thread.summary.title == row["title"]  # the session_index.jsonl name
    assert thread.summary.cwd == row["cwd"]
    assert thread.summary.git is not None and thread.summary.git.branch == row["git_branch"]
    assert (
        thread.summary.created_at is not None
        and thread.summary.created_at.isoformat().startswith(row["created_at"][:19])
    )
    calls = [i for i in thread.items if isinstance(i, ToolCall)]
    originals = [i for i in items if i["type"] == "tool_call"]
    assert [(c.call_id, c.name, c.input) for c in calls] == [
        (o["call_id"], o["name"], o["input"]) for o in originals
    ]
    results = [i for i in thread.items if isinstance(i, ToolResult)]
    assert [r.call_id for r in results] == [
        i["call_id"] for i in items if i["type"] == "tool_result"
    ]
    assert [u.parts[0] for u in thread.items if isinstance(u, UserMessage)] == [
        i["parts"][0] for i in items if i["type"] == "user" and not i.get("meta")
    ]
    assert len([a for a in thread.items if isinstance(a, AssistantMessage)]) == len(
        [i for i in items if i["type"] == "assistant" and any(i["parts"])]
    )
    times = [i.timestamp for i in thread.items if i.timestamp is not None]
    assert (
        times == sorted(times)
        and str(times[0])[:19] == items[0]["timestamp"].replace("T", " ")[:19]
    )


def test_real_codex_lists_and_reads_an_exported_claude_thread(
    store: tuple[Path, list[dict[str, Any]]], tmp_path: Path, codex: str
) -> None:
    codex_home = tmp_path / ".codex"
    exports = {}
    for title in ("Hourly forecast endpoint", "Fix stale forecast cache after midnight"):
        row, items = _thread(store, title)
        exports[title] = (row, items, export_thread(row, items, str(codex_home)))
    server = AppServer(codex, codex_home)
    try:
        listed = server.request("thread/list", {"limit": 50})
        assert "result" in listed, listed
        by_id = {t["id"]: t for t in listed["result"]["data"]}
        for title, (row, items, exported) in exports.items():
            entry = by_id[exported.codex_thread_id]
            assert entry["name"] == title
            assert entry["cwd"] == row["cwd"]
            assert (entry.get("gitInfo") or {}).get("branch") == row["git_branch"], entry
            created = datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))
            updated = datetime.fromisoformat(row["updated_at"].replace("Z", "+00:00"))
            assert entry["createdAt"] == int(created.timestamp())
            assert (
                entry["updatedAt"] >= int(created.timestamp())
                and entry["updatedAt"] <= int(updated.timestamp()) + 1
            )
            got = server.request(
                "thread/read", {"threadId": exported.codex_thread_id, "includeTurns": True}
            )
            assert "result" in got, got
            turns = got["result"]["thread"]["turns"]
            expected = []
            for item in items:
                if item["type"] == "user" and not item.get("meta") and any(item["parts"]):
                    expected.append(("user", "\n\n".join(item["parts"])))
                elif item["type"] == "assistant" and any(item["parts"]):
                    expected.append(("agent", "\n\n".join(item["parts"])))
            assert message_texts(turns) == expected
            assert len(turns) == len([e for e in expected if e[0] == "user"])
    finally:
        server.close()


class _Blobs:
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        import hashlib

        key = hashlib.sha256(data).hexdigest()
        self.data[key] = bytes(data)
        return key

    def get(self, key: str) -> bytes:
        return self.data[key]


# -- any agent's thread, from its domain items -----------------------------------------------


def _domain_thread(reader: Any, path: Path) -> tuple[dict[str, Any], list[Any], Any]:
    from threadline.application.history import SourceLines

    blobs = _Blobs()
    (source, *_), _ = reader.discover([str(path)])
    read = reader.read(source, None, blobs)
    assert read.main is not None
    s = read.main.summary
    row = {
        "thread_id": f"{source.agent}:{source.path}",
        "title": s.title,
        "cwd": s.cwd,
        "git_branch": s.git.branch if s.git else None,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
    }
    return row, read.main.items, SourceLines(blobs)


def test_real_codex_reads_threads_exported_from_codex_opencode_and_gemini(
    tmp_path: Path, codex: str
) -> None:
    from threadline.adapters.gemini.reader import GeminiReader
    from threadline.adapters.opencode.reader import OpenCodeReader

    fixtures = REPO / "tests" / "fixtures"
    rollout = next(
        p
        for p in sorted((fixtures / "codex/real/exec").rglob("*.jsonl"))
        if b"Please run the tests" in p.read_bytes()
    )
    db = tmp_path / "opencode.db"
    db.write_bytes((fixtures / "opencode/real/opencode.db").read_bytes())
    cases = {
        "codex": (CodexReader(), rollout),
        "opencode": (OpenCodeReader(), db),
        "gemini": (GeminiReader(), next((fixtures / "gemini/real").rglob("session-*.jsonl"))),
    }
    codex_home = tmp_path / ".codex"
    exported = {}
    for name, (reader, path) in cases.items():
        row, items, lines = _domain_thread(reader, path)
        result = export_thread(row, items, str(codex_home), lines=lines)
        expected = [
            ("user", "\n\n".join(i.parts))
            for i in items
            if isinstance(i, UserMessage) and not i.meta and any(i.parts)
        ]
        exported[name] = (result, row, expected)
    server = AppServer(codex, codex_home)
    try:
        listed = server.request("thread/list", {"limit": 50})
        by_id = {t["id"]: t for t in listed["result"]["data"]}
        for name, (result, row, expected) in exported.items():
            entry = by_id[result.codex_thread_id]
            # Codex shows no name that only repeats the first prompt (its preview).
            assert (entry["name"] or entry["preview"]) == row["title"], name
            got = server.request(
                "thread/read", {"threadId": result.codex_thread_id, "includeTurns": True}
            )
            users = [t for t in message_texts(got["result"]["thread"]["turns"]) if t[0] == "user"]
            assert users == expected, name
    finally:
        server.close()


# -- what our reader makes of an exported rollout --------------------------------------------


def test_an_exported_rollout_is_read_as_a_copy_of_its_thread_and_what_codex_adds_as_its_own(
    store: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    row, items = _thread(store, "Hourly forecast endpoint")
    result = export_thread(row, items, str(tmp_path / ".codex"))
    copy = _read(result.path)
    assert copy.main is None and not copy.problems  # the thread's own lines: no thread

    def line(kind: str, payload: dict[str, Any]) -> bytes:
        stamp = "2026-10-06T08:00:00.000Z"
        return json.dumps({"timestamp": stamp, "type": kind, "payload": payload}).encode() + b"\n"

    with open(result.path, "ab") as f:  # the user went on with the thread in Codex
        f.write(line("event_msg", {"type": "task_started", "turn_id": "t2"}))
        f.write(line("event_msg", {"type": "user_message", "message": "And a daily one?"}))
        f.write(line("event_msg", {"type": "agent_message", "message": "Added /daily."}))
        f.write(line("event_msg", {"type": "task_complete", "turn_id": "t2"}))
    went_on = _read(result.path)
    assert went_on.main is not None and not went_on.problems
    thread = went_on.main
    said = [(type(i).__name__, i.parts[0]) for i in thread.items if hasattr(i, "parts")]
    assert said == [("UserMessage", "And a daily one?"), ("AssistantMessage", "Added /daily.")]
    assert thread.lineage is not None  # type: ignore[attr-defined]
    lineage = thread.lineage  # type: ignore[attr-defined]
    assert (lineage.kind, lineage.agent, lineage.conversation_id) == (
        "imported",
        "claude-code",
        row["source_session_id"],
    )
