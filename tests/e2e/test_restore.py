"""``threadline restore`` gives the imported source files back, byte for byte.

Every test imports a real tree, takes the files away, restores them and compares
bytes (and sha256 with the ledger's), on the SQLite file and on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import (
    REPO,
    ClaudeTree,
    Conversation,
    append_transcript,
    old_store,
    run_cli,
    session_uuid,
    slug,
)

pytestmark = pytest.mark.both_stores


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (a Claude home), by its path relative to it."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def with_subagent(tree: ClaudeTree, agent_id: str = "a1", meta: bytes | None = None) -> Path:
    """A sub-agent file in the current layout beside the newest session, and its
    ``agent-<id>.meta.json`` when ``meta`` is given (Claude Code 2.1.x writes one)."""
    parent = tree.session("newest").path
    side = Conversation(parent.stem, is_sidechain=True, agent_id=agent_id)
    side.user("Look for every caller of release.sh")
    side.assistant("Found two callers.")
    path = side.write(parent.with_suffix("") / "subagents" / f"agent-{agent_id}.jsonl")
    if meta is not None:
        path.with_name(f"agent-{agent_id}.meta.json").write_bytes(meta)
    return path


def meta_json(agent_id: str) -> bytes:
    """A meta file as Claude Code writes it (its own spacing, no newline at the end)."""
    fields = {
        "agentType": "general-purpose",
        "description": f"Search for callers ({agent_id})",
        "toolUseId": f"toolu_{agent_id}",
        "spawnDepth": 1,
        "model": "claude-sonnet-4-5",
    }
    return json.dumps(fields, indent=2, ensure_ascii=False).encode()


def restore(home: Path, *args: str | Path, env: dict[str, str] | None = None) -> list[dict]:
    done = run_cli("restore", *args, "--json", home=home, env=env)
    assert done.returncode == 0, done.stderr
    return list(done.json())


def test_a_deleted_tree_comes_back_byte_for_byte(
    home: Path, claude_tree: ClaudeTree, tmp_path: Path
) -> None:
    with_subagent(claude_tree)
    before = tree_bytes(claude_tree.claude_home)
    assert run_cli("import", claude_tree.claude_home, home=home).returncode == 0
    shutil.rmtree(claude_tree.claude_home)

    restored = restore(home, "--to", tmp_path / "back")

    assert {r["outcome"] for r in restored} == {"restored"}
    assert tree_bytes(tmp_path / "back") == before
    for r in restored:
        data = Path(r["target"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == r["sha256"]
    # The layout Claude Code reads: projects/<slug>/<session>.jsonl and its subagents/.
    newest = claude_tree.session("newest")
    assert (
        tmp_path / "back" / "projects" / slug(newest.cwd or "") / newest.path.stem / "subagents"
    ).is_dir()


def test_sub_agents_meta_files_come_back_beside_their_transcripts(
    home: Path, claude_tree: ClaudeTree, tmp_path: Path
) -> None:
    with_subagent(claude_tree, "a1", meta_json("a1"))
    with_subagent(claude_tree, "a2", meta_json("a2").replace(b"callers", "appelants é".encode()))
    no_meta = with_subagent(claude_tree, "a3")  # an older build wrote none
    before = tree_bytes(claude_tree.claude_home)
    assert sum(name.endswith(".meta.json") for name in before) == 2
    assert run_cli("import", claude_tree.claude_home, home=home).returncode == 0
    shutil.rmtree(claude_tree.claude_home)

    restored = restore(home, "--to", tmp_path / "back")

    assert tree_bytes(tmp_path / "back") == before
    assert {r["outcome"] for r in restored} == {"restored"}
    metas = [r for r in restored if r["target"].endswith(".meta.json")]
    assert sorted(Path(r["target"]).name for r in metas) == [
        "agent-a1.meta.json",
        "agent-a2.meta.json",
    ]
    for r in metas:  # named by the transcript it belongs to, with its own sha256 and size
        data = Path(r["target"]).read_bytes()
        assert Path(r["source"]).name == Path(r["target"]).name.replace(".meta.json", ".jsonl")
        assert (r["sha256"], r["bytes"]) == (hashlib.sha256(data).hexdigest(), len(data))
    assert not no_meta.with_name("agent-a3.meta.json").exists()


def test_a_meta_file_goes_back_by_the_transcripts_rules(
    home: Path, claude_tree: ClaudeTree, tmp_path: Path
) -> None:
    transcript = with_subagent(claude_tree, "a1", meta_json("a1"))
    meta = transcript.with_name("agent-a1.meta.json")
    assert run_cli("import", claude_tree.claude_home, home=home).returncode == 0
    meta.unlink()

    into_home = restore(home, env={"CLAUDE_CONFIG_DIR": str(claude_tree.claude_home)})

    outcomes = {Path(r["target"]): r["outcome"] for r in into_home}
    assert outcomes[meta] == "restored"
    assert outcomes[transcript] == "present"
    assert meta.read_bytes() == meta_json("a1")

    target = tmp_path / "back"
    restore(home, "--to", target)
    copy = target / meta.relative_to(claude_tree.claude_home)
    copy.write_bytes(b'{"edited": true}')
    refused = run_cli("restore", "--to", target, "--json", home=home)
    assert refused.returncode == 1
    assert {Path(r["target"]): r["outcome"] for r in refused.json()}[copy] == "conflict"
    assert copy.read_bytes() == b'{"edited": true}'
    forced = restore(home, "--to", target, "--force")
    assert {Path(r["target"]): r["outcome"] for r in forced}[copy] == "restored"
    assert copy.read_bytes() == meta_json("a1")


def test_a_meta_file_that_is_not_json_is_reported_and_comes_back_as_it_was(
    home: Path, claude_tree: ClaudeTree, tmp_path: Path
) -> None:
    torn = meta_json("a1")[:40] + b"\xff"
    transcript = with_subagent(claude_tree, "a1", torn)
    meta = transcript.with_name("agent-a1.meta.json")

    imported = run_cli("import", claude_tree.claude_home, "--json", home=home)

    assert imported.returncode == 1  # imported, with a problem
    by_path = {s["path"]: s for s in imported.json()["sources"]}
    assert by_path[str(transcript)]["outcome"] == "imported"
    problems = [(p["path"], p["line"], p["reason"][:8]) for p in imported.json()["problems"]]
    assert problems == [(str(meta), 1, "not JSON")]
    shutil.rmtree(claude_tree.claude_home)
    restored = restore(home, "--to", tmp_path / "back")
    assert (tmp_path / "back" / meta.relative_to(claude_tree.claude_home)).read_bytes() == torn
    assert {r["outcome"] for r in restored} == {"restored"}


def test_a_meta_file_changed_alone_is_recorded_with_the_transcripts_next_version(
    home: Path, claude_tree: ClaudeTree, tmp_path: Path
) -> None:
    transcript = with_subagent(claude_tree, "a1", meta_json("a1"))
    meta = transcript.with_name("agent-a1.meta.json")
    relative = meta.relative_to(claude_tree.claude_home)
    assert run_cli("import", claude_tree.claude_home, home=home).returncode == 0
    meta.write_bytes(meta_json("a1").replace(b"general-purpose", b"Explore"))

    assert run_cli("import", claude_tree.claude_home, home=home).returncode == 0
    restore(home, "--to", tmp_path / "unchanged")
    more = Conversation(session_uuid("newest"), is_sidechain=True, agent_id="a1")
    more.user("And the callers in CI?")
    append_transcript(transcript, more.records)
    assert run_cli("import", claude_tree.claude_home, home=home).returncode == 0
    restore(home, "--to", tmp_path / "appended")
    listed = run_cli("restore", "--list", "--json", home=home).json()

    # The jsonl alone says whether a source changed: the meta's change waits for it.
    assert (tmp_path / "unchanged" / relative).read_bytes() == meta_json("a1")
    assert (tmp_path / "appended" / relative).read_bytes() == meta.read_bytes()
    versions = [v["outcome"] for v in listed if v["source"] == str(transcript)]
    assert versions == ["imported", "appended"]


def test_a_store_imported_before_meta_files_were_recorded_restores_its_transcripts(
    home: Path, tmp_path: Path
) -> None:
    home = old_store(home)  # bfc55ee imported samples/claude, its sub-agent's meta file unread
    samples = REPO / "samples" / "claude"

    restored = restore(home, "--to", tmp_path / "back")

    assert {r["outcome"] for r in restored} == {"restored"}
    back = tree_bytes(tmp_path / "back")
    assert back == {k: v for k, v in tree_bytes(samples).items() if k.endswith(".jsonl")}
    assert any("/subagents/" in name for name in back)


def test_without_to_only_missing_files_go_back_into_the_agents_home(
    home: Path, claude_tree: ClaudeTree
) -> None:
    before = tree_bytes(claude_tree.claude_home)
    assert run_cli("import", claude_tree.claude_home, home=home).returncode == 0
    gone = claude_tree.session("oldest").path
    gone.unlink()
    kept = claude_tree.session("middle").path
    kept.write_bytes(b"the agent rewrote this one\n")
    mtime = os.stat(claude_tree.session("newest").path).st_mtime_ns

    restored = restore(home, env={"CLAUDE_CONFIG_DIR": str(claude_tree.claude_home)})

    outcomes = {Path(r["target"]): r["outcome"] for r in restored}
    assert outcomes[gone] == "restored"
    assert outcomes[kept] == "present"
    assert gone.read_bytes() == before[str(gone.relative_to(claude_tree.claude_home))]
    assert kept.read_bytes() == b"the agent rewrote this one\n"
    # A restored file has its recorded mtime again: the next import skips it.
    assert os.stat(claude_tree.session("newest").path).st_mtime_ns == mtime
    again = run_cli("import", claude_tree.claude_home, "--json", home=home)
    by_path = {s["path"]: s["outcome"] for s in again.json()["sources"]}
    assert by_path[str(gone)] == "skipped"


def test_a_different_file_is_replaced_only_with_force(
    home: Path, claude_tree: ClaudeTree, tmp_path: Path
) -> None:
    assert run_cli("import", claude_tree.claude_home, home=home).returncode == 0
    target = tmp_path / "back"
    restore(home, "--to", target)
    path = target / claude_tree.session("oldest").path.relative_to(claude_tree.claude_home)
    original = path.read_bytes()
    path.write_bytes(b"edited\n")

    refused = run_cli("restore", "--to", target, "--json", home=home)
    assert refused.returncode == 1
    by_target = {Path(r["target"]): r["outcome"] for r in refused.json()}
    assert by_target[path] == "conflict"
    assert set(by_target.values()) == {"conflict", "unchanged"}
    assert path.read_bytes() == b"edited\n"

    forced = restore(home, "--to", target, "--force")
    assert {Path(r["target"]): r["outcome"] for r in forced}[path] == "restored"
    assert path.read_bytes() == original


def test_after_an_append_the_whole_grown_file_comes_back(
    home: Path, claude_tree: ClaudeTree, tmp_path: Path
) -> None:
    assert run_cli("import", claude_tree.claude_home, home=home).returncode == 0
    session = claude_tree.session("middle")
    more = Conversation(session.conversation.session_id, start=session.updated)
    more.parent = session.records[-1]["uuid"]
    more.user("One more thing: log the failures")
    more.assistant("Logged.")
    append_transcript(session.path, more.records)
    imported = run_cli("import", claude_tree.claude_home, "--json", home=home)
    assert "appended" in {s["outcome"] for s in imported.json()["sources"]}
    before = tree_bytes(claude_tree.claude_home)
    shutil.rmtree(claude_tree.claude_home)

    restore(home, "--to", tmp_path / "back")

    assert tree_bytes(tmp_path / "back") == before


def test_after_a_replaced_history_the_newest_comes_back_and_the_older_on_request(
    home: Path, claude_tree: ClaudeTree, tmp_path: Path
) -> None:
    session = claude_tree.session("oldest")
    first = session.path.read_bytes()
    assert run_cli("import", claude_tree.claude_home, home=home).returncode == 0
    rewritten = Conversation(session.conversation.session_id, cwd=session.cwd)
    rewritten.user("A different start altogether")
    rewritten.assistant("Then a different answer.")
    rewritten.write(session.path)
    imported = run_cli("import", claude_tree.claude_home, "--json", home=home)
    assert "replaced" in {s["outcome"] for s in imported.json()["sources"]}
    second = session.path.read_bytes()
    thread = next(s["thread_id"] for s in imported.json()["sources"] if s["outcome"] == "replaced")

    newest = restore(home, thread[:8], "--to", tmp_path / "newest")
    listed = run_cli("restore", thread[:8], "--list", "--json", home=home).json()
    older = restore(home, thread[:8], "--to", tmp_path / "older", "--version", "1")

    relative = session.path.relative_to(claude_tree.claude_home)
    assert [r["outcome"] for r in newest] == ["restored"]
    assert (tmp_path / "newest" / relative).read_bytes() == second
    assert [(v["version"], v["outcome"], v["newest"]) for v in listed] == [
        (1, "imported", False),
        (2, "replaced", True),
    ]
    assert listed[0]["sha256"] == hashlib.sha256(first).hexdigest()
    assert [r["outcome"] for r in older] == ["restored"]
    assert (tmp_path / "older" / relative).read_bytes() == first


def test_a_50_mib_line_and_invalid_utf8_come_back_exactly(home: Path, tmp_path: Path) -> None:
    claude_home = tmp_path / "user" / ".claude"
    convo = Conversation(session_uuid("huge"))
    convo.user("Print the log")
    convo.tool_turn("Bash", {"command": "cat big.log"}, "x" * (50 * 1024 * 1024))
    convo.assistant("That was long.")
    path = convo.write(claude_home / "projects" / slug(convo.cwd or "") / "huge.jsonl")
    with path.open("ab") as f:  # a line that is not UTF-8, then a valid one
        f.write(b'{"type":"user","message":{"content":"caf\xe9 \xff\xfe"}}\n')
        f.write(b'{"type":"summary","summary":"after the bad line"}\n')
    before = path.read_bytes()
    assert run_cli("import", claude_home, home=home).returncode in (0, 1)
    path.unlink()

    restored = restore(home, "--to", tmp_path / "back")

    assert [r["outcome"] for r in restored] == ["restored"]
    back = Path(restored[0]["target"]).read_bytes()
    assert len(back) == len(before)
    assert back == before


def test_threads_agents_and_since_choose_what_is_restored(
    home: Path, claude_tree: ClaudeTree, tmp_path: Path
) -> None:
    imported = run_cli("import", claude_tree.claude_home, "--json", home=home)
    oldest = claude_tree.session("oldest").path
    thread = next(s["thread_id"] for s in imported.json()["sources"] if s["path"] == str(oldest))
    os.utime(oldest, ns=(0, 0))  # an old file, re-imported as touched: its mtime is recorded
    assert run_cli("import", claude_tree.claude_home, home=home).returncode == 0

    one = restore(home, thread[:8], "--to", tmp_path / "one")
    recent = restore(home, "--since", "2000-01-01", "--to", tmp_path / "recent")
    other_agent = restore(home, "--agent", "codex", "--to", tmp_path / "none")

    assert [Path(r["target"]).name for r in one] == [oldest.name]
    assert oldest.name not in {Path(r["target"]).name for r in recent}
    assert len(recent) == len(claude_tree.sessions) - 1
    assert other_agent == []


@pytest.mark.parametrize(
    ("agent_dir", "home_env"), [("codex", "CODEX_HOME"), ("gemini", "GEMINI_CLI_HOME")]
)
def test_other_agents_sources_come_back_in_their_own_layout(
    home: Path, tmp_path: Path, agent_dir: str, home_env: str
) -> None:
    fixtures = Path(__file__).resolve().parent.parent / "fixtures" / agent_dir / "public"
    tree = tmp_path / "agent-home"
    shutil.copytree(next(p for p in fixtures.iterdir() if p.is_dir()), tree)
    root = tree / ".gemini" if agent_dir == "gemini" else tree
    if agent_dir == "gemini":
        (tree / ".gemini").mkdir()
        shutil.move(str(tree / "tmp"), str(tree / ".gemini" / "tmp"))
    before = {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*.json*"))
        if p.is_file()
    }
    env = {home_env: str(tree)}
    import_in_process(home, agent_dir, root)  # the CLI imports Claude Code only, so far

    restored = restore(home, "--agent", agent_dir, "--to", tmp_path / "back", env=env)

    assert restored and {r["outcome"] for r in restored} == {"restored"}
    for r in restored:
        relative = str(Path(r["target"]).relative_to(tmp_path / "back"))
        assert Path(r["target"]).read_bytes() == before[relative]


def import_in_process(home: Path, agent: str, root: Path) -> None:
    from conftest import open_test_store

    from threadline.adapters.codex.reader import CodexReader
    from threadline.adapters.gemini.reader import GeminiReader
    from threadline.application.import_transcripts import import_transcripts
    from threadline.application.importing import TranscriptImporter

    reader = CodexReader() if agent == "codex" else GeminiReader()
    store = open_test_store(home)
    try:
        importer = TranscriptImporter(store.app, reader, store.blobs, catch_up=store.catch_up)
        import_transcripts([str(root)], reader.discover, lambda: importer)
    finally:
        store.close()
