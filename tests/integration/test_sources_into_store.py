"""The Codex, OpenCode and Gemini CLI readers through today's import use case.

Each agent's real fixtures are imported with ``TranscriptImporter`` (the one the
CLI runs for Claude Code) into a real SQLite store: every conversation becomes one
thread with all its items and a ledger entry, a second run writes nothing, and a
Codex rollout that grows is appended to, not imported again. This is what the
wiring of issue #13 (a source port, ``import --agent``) will build on.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from threadline.adapters.codex.reader import CodexReader
from threadline.adapters.gemini.reader import GeminiReader
from threadline.adapters.opencode.reader import OpenCodeReader
from threadline.adapters.store import open_store
from threadline.application.import_transcripts import import_transcripts
from threadline.application.importing import TranscriptImporter
from threadline.domain.session import Session

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CASES: list[tuple[str, Any, str, int]] = [
    ("codex", CodexReader(), "codex/real/exec", 4),
    ("codex-public", CodexReader(), "codex/public/claude-code-log", 5),
    ("opencode", OpenCodeReader(), "opencode/real", 3),
    ("gemini", GeminiReader(), "gemini/real", 3),
]


@pytest.mark.parametrize(("name", "reader", "fixture", "threads"), CASES, ids=[c[0] for c in CASES])
def test_each_conversation_is_one_thread_and_a_second_run_writes_nothing(
    tmp_path: Path, name: str, reader: Any, fixture: str, threads: int
) -> None:
    source = tmp_path / "source"
    shutil.copytree(FIXTURES / fixture, source)
    store = open_store(str(tmp_path / "home"))
    try:
        importer = TranscriptImporter(store.app, reader, store.blobs, concurrency=1)
        first = import_transcripts([str(source)], reader.discover, lambda: importer)
        assert [s.outcome for s in first.sources] == ["imported"] * threads, first.sources
        found, _ = reader.discover([str(source)])
        for src in found:
            read = reader.read(src, None, store.blobs)
            assert read.main is not None
            session = store.app.repository.get(store.app.thread_id_for(src))
            assert isinstance(session, Session)
            assert session.item_count == len(read.main.items) > 0
        second = import_transcripts([str(source)], reader.discover, lambda: importer)
        assert {s.outcome for s in second.sources} == {"skipped"}
    finally:
        store.close()


def test_a_grown_rollout_is_appended_to(tmp_path: Path) -> None:
    source = tmp_path / "codex"
    shutil.copytree(FIXTURES / "codex/real/exec", source)
    rollout = next(
        p
        for p in sorted(source.rglob("rollout-*.jsonl"))
        if b"Please run the tests" in p.read_bytes()
    )
    lines = rollout.read_bytes().splitlines(keepends=True)
    # The first turn only, as if the import ran while Codex was still writing.
    cut = next(i for i, raw in enumerate(lines) if b'"Thanks. Summarise' in raw) - 4
    full = rollout.read_bytes()
    rollout.write_bytes(b"".join(lines[:cut]))
    store = open_store(str(tmp_path / "home"))
    try:
        importer = TranscriptImporter(store.app, CodexReader(), store.blobs, concurrency=1)
        import_transcripts([str(rollout)], CodexReader().discover, lambda: importer)
        src = CodexReader().discover([str(rollout)])[0][0]
        before = store.app.repository.get(store.app.thread_id_for(src)).item_count
        rollout.write_bytes(full)
        os.utime(rollout, None)
        (report,) = import_transcripts(
            [str(rollout)], CodexReader().discover, lambda: importer
        ).sources
        assert report.outcome == "appended", report
        after = store.app.repository.get(store.app.thread_id_for(src)).item_count
        src = CodexReader().discover([str(rollout)])[0][0]
        whole = CodexReader().read(src, None, store.blobs)
        assert whole.main is not None and after == len(whole.main.items) > before
        turns = [orjson.loads(raw) for raw in full.splitlines()]
        assert any(t["payload"].get("type") == "task_started" for t in turns)
    finally:
        store.close()
