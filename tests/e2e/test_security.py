"""Transcripts hold secrets: nothing of their content reaches stderr at the default log level,
even on a run that reports problems and retries a busy store; and a source is one source
however it is reached (a symlink, a relative path, ``..``), with its canonical path in the
ledger."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from conftest import (
    REPO,
    Conversation,
    jsonl,
    run_cli,
    session_uuid,
    store_write_lock,
)

SECRET = "sk-ant-api03-SECRETSECRET0123456789"


def secret_transcripts(project: Path) -> list[Path]:
    """The secret in every place a line can hold it, good or bad."""
    project.mkdir(parents=True)
    convo = Conversation(session_uuid("secrets"))
    lines = [
        convo.user(f"my key is {SECRET}"),
        convo.assistant(f"I will not repeat {SECRET}"),
    ]
    convo.tool_turn("Bash", {"command": f"export KEY={SECRET}"}, f"KEY={SECRET}\n")
    bad_shapes = [
        convo.envelope("user", message={"role": "user", "content": {SECRET: SECRET}}),
        convo.envelope("assistant", message={"id": SECRET, "content": SECRET}),
        {**convo.user("a wrong timestamp"), "timestamp": SECRET},
        {**convo.user("a wrong cwd"), "cwd": {"path": SECRET}},
        convo.envelope(SECRET, data=SECRET),  # a record type nobody knows, named by it
        {**convo.user("a wrong uuid"), "uuid": [SECRET]},
    ]
    garbage = (
        f'{{"type": "user", "message": {SECRET}}}\n'.encode()  # invalid JSON
        + f"{SECRET} \xff\n".encode("latin-1")  # invalid UTF-8
        + f"[{SECRET!r}]\n".encode()  # not a record
        + f'{{"type":"user","text":"{SECRET}'.encode()  # torn, then more lines
        + b"\n"
    )
    main = project / f"{convo.session_id}.jsonl"
    main.write_bytes(jsonl(lines + convo.records[2:]) + jsonl(bad_shapes) + garbage)
    torn = project / f"{session_uuid('secret-torn')}.jsonl"
    torn.write_bytes(jsonl(lines[:1]) + f'{{"type":"user","message":"{SECRET}'.encode())
    return [main, torn]


def test_no_transcript_content_reaches_stderr_on_a_run_with_problems_and_retries(
    tmp_path: Path, home: Path
) -> None:
    project = tmp_path / ".claude" / "projects" / "-secrets"
    secret_transcripts(project)
    assert run_cli("threads", home=home).returncode == 0  # the store exists

    with store_write_lock(home) as release:
        threading.Timer(3.0, release).start()
        human = run_cli("import", tmp_path / ".claude", home=home, lock_timeout=1)
    (project / "later.jsonl").write_bytes(b"{" + SECRET.encode() + b"\n")
    machine = run_cli("import", tmp_path / ".claude", "--json", home=home)

    assert human.returncode == 1, human.stderr
    assert "retry 1 of" in human.stderr  # a retry was logged
    assert "problem(s):" in human.stderr  # and the problems listed
    assert len(machine.json()["problems"]) == 2  # the later file: a torn line, no records
    for run in (human, machine):
        assert "Traceback" not in run.stderr
        assert SECRET not in run.stderr, run.stderr
        assert SECRET[:12] not in run.stderr, run.stderr


def test_one_source_reached_through_a_symlink_a_relative_path_and_dot_dots_is_one_thread(
    tmp_path: Path, home: Path
) -> None:
    convo = Conversation(session_uuid("many-ways"))
    convo.user("one source")
    convo.assistant("however you get to it")
    project = tmp_path / ".claude" / "projects" / "-many-ways"
    real = convo.write(project / f"{convo.session_id}.jsonl")
    (tmp_path / "link-to-project").symlink_to(project, target_is_directory=True)
    (tmp_path / "link.jsonl").symlink_to(real)
    ways = [
        real,
        tmp_path / "link.jsonl",
        tmp_path / "link-to-project" / real.name,
        project / ".." / project.name / real.name,
        Path(os.path.relpath(real, REPO)),  # the CLI runs in REPO
        tmp_path / "link-to-project",
    ]

    together = run_cli("import", *ways, "--json", home=home)
    one_by_one = [run_cli("import", way, "--json", home=home) for way in ways]

    assert together.returncode == 0, together.stderr
    assert [s["path"] for s in together.json()["sources"]] == [str(real)]
    assert together.json()["counts"]["imported"] == 1
    for result in one_by_one:
        assert [s["outcome"] for s in result.json()["sources"]] == ["skipped"]
    ledger = run_cli("ledger", "--json", home=home).json()
    assert [e["source_path"] for e in ledger] == [str(real)]
    threads = run_cli("threads", "--json", home=home).json()
    assert [(t["thread_id"], t["source_path"]) for t in threads] == [
        (together.json()["sources"][0]["thread_id"], str(real))
    ]
