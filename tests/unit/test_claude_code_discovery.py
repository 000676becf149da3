"""Finding Claude Code's transcripts: each under its canonical path, however it is reached."""

from __future__ import annotations

import os
from pathlib import Path

from threadline.adapters.claude_code.discovery import discover

SESSION = "0b9f5a7e-2c1d-4e8f-9a3b-5c6d7e8f9a0b"


def write(path: Path, text: str = '{"type":"user"}\n') -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_sources_reached_through_symbolic_links_are_found_under_their_canonical_paths(
    tmp_path: Path,
) -> None:
    elsewhere = tmp_path / "elsewhere"
    projects = tmp_path / "home" / ".claude" / "projects"
    plain = write(projects / "-work-a" / f"{SESSION}.jsonl")
    agent = write(projects / "-work-a" / SESSION / "subagents" / "agent-a1.jsonl")
    linked_file = write(elsewhere / "moved.jsonl", "{}\n{}\n")
    (projects / "-work-a" / "linked.jsonl").symlink_to(linked_file)
    linked_agent = write(elsewhere / "agent-b2.jsonl", "{}\n")
    (projects / "-work-a" / SESSION / "subagents" / "agent-b2.jsonl").symlink_to(linked_agent)
    real_project = write(elsewhere / "project" / "kept.jsonl").parent
    (projects / "-work-b").symlink_to(real_project, target_is_directory=True)
    (projects / "-work-a" / "dangling.jsonl").symlink_to(tmp_path / "nowhere.jsonl")
    (projects / "-work-a" / "folder.jsonl").mkdir()

    found, problems = discover([str(tmp_path / "home" / ".claude")])

    expected = [plain, agent, linked_file, linked_agent, real_project / "kept.jsonl"]
    assert sorted((s.path, s.size, s.mtime_ns) for s in found) == sorted(
        (os.path.realpath(p), p.stat().st_size, p.stat().st_mtime_ns) for p in expected
    )
    assert {s.agent for s in found} == {"claude-code"}
    assert sorted((p.path, p.reason) for p in problems) == [
        (str(projects / "-work-a" / "dangling.jsonl"), "cannot read: No such file or directory"),
        (str(projects / "-work-a" / "folder.jsonl"), "not a regular file"),
    ]
