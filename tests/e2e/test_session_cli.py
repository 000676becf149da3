"""``threadline session start|resume`` as a user runs it: a subprocess, stdin, JSON lines."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from conftest import REPO, ClaudeTree, cli_command, cli_env, event_topics, run_cli
from session_support import SERVERS, is_running, read_pid

from threadline.adapters.claude_code.reader import AGENT
from threadline.domain.identity import conversation_thread_id

pytestmark = pytest.mark.both_stores


def session(home: Path, *args: str, stdin: str = "") -> tuple[int, list[dict[str, Any]], str]:
    done = subprocess.run(
        cli_command("session", *args),
        cwd=REPO,
        env=cli_env(home),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    events = [json.loads(line) for line in done.stdout.splitlines()]
    return done.returncode, events, done.stderr


def write_config(home: Path, tmp_path: Path) -> Path:
    pid_file = tmp_path / "notes.pid"
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        f"""model = "o3"
user_instructions = "Be brief."

[mcp_servers.notes]
command = "{sys.executable}"
args = ["{SERVERS / "notes_server.py"}"]
env = {{ PID_FILE = "{pid_file}" }}

[mcp_servers.broken]
command = "{sys.executable}"
args = ["{SERVERS / "exits_server.py"}"]
"""
    )
    return pid_file


def test_session_start_prints_events_records_stdin_prompts_and_shuts_down(
    home: Path, tmp_path: Path
) -> None:
    pid_file = write_config(home, tmp_path)

    status, events, _ = session(home, "start", "--cwd", "/srv/app", stdin="hello\nsecond\n")

    assert status == 0
    assert [e["type"] for e in events] == ["SessionConfigured", "Error", "ShutdownComplete"]
    configured = events[0]
    assert configured["model"] == "o3"
    assert configured["mcp_tools"] == ["notes__add_note", "notes__list_notes"]
    assert events[1]["message"].startswith("MCP client for `broken` failed to start: ")
    log = [json.loads(line) for line in (home / "history.jsonl").read_text().splitlines()]
    assert [(e["session_id"], e["text"]) for e in log] == [
        (configured["session_id"], "hello"),
        (configured["session_id"], "second"),
    ]
    assert not is_running(read_pid(pid_file))
    assert event_topics(home, configured["session_id"]) == [
        "threadline.domain.session:Session.SessionConfigured",
        "threadline.domain.session:Session.ItemsRecorded",
        "threadline.domain.session:Session.ItemsRecorded",
    ]


def test_session_resume_continues_the_thread_with_its_messages(home: Path, tmp_path: Path) -> None:
    write_config(home, tmp_path)
    _, first, _ = session(home, "start", "--cwd", "/srv/app", stdin="hello\n")
    thread_id = first[0]["session_id"]

    status, events, _ = session(home, "resume", thread_id, "--cwd", "/srv/app", stdin="again\n")

    assert status == 0
    configured = events[0]
    assert (configured["type"], configured["session_id"]) == ("SessionConfigured", thread_id)
    assert configured["resumed"] is True
    assert configured["history_entry_count"] == 1
    assert [m["parts"] for m in configured["initial_messages"]] == [["Be brief."], ["hello"]]


def test_resuming_a_missing_thread_fails_clearly_and_prints_no_events(home: Path) -> None:
    missing = str(uuid4())

    status, events, stderr = session(home, "resume", missing, "--cwd", "/srv/app")

    assert status == 3
    assert events == []
    assert stderr.strip() == (
        f"threadline: failed to resume thread {missing}: no such thread in the store"
    )


def test_a_relative_cwd_is_a_usage_error(home: Path) -> None:
    status, events, stderr = session(home, "start", "--cwd", "somewhere")

    assert (status, events) == (2, [])
    assert "invalid `cwd`: must be an absolute path" in stderr


def test_invalid_config_is_a_usage_error_naming_the_key(home: Path) -> None:
    home.mkdir(parents=True)
    (home / "config.toml").write_text('[mcp_servers.x]\ncommand = "c"\nstartup_timeout_sec = "a"\n')

    status, _, stderr = session(home, "start", "--cwd", "/srv/app")

    assert status == 2
    assert "invalid `mcp_servers.x.startup_timeout_sec`" in stderr


def test_sigterm_ends_a_waiting_session_cleanly_and_stops_its_servers(
    home: Path, tmp_path: Path
) -> None:
    pid_file = write_config(home, tmp_path)
    proc = subprocess.Popen(
        cli_command("session", "start", "--cwd", "/srv/app"),
        cwd=REPO,
        env=cli_env(home),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        first = json.loads(proc.stdout.readline())
        assert first["type"] == "SessionConfigured"
        proc.stdin.write("before the signal\n")
        proc.stdin.flush()
        server = read_pid(pid_file)
        assert is_running(server)
        time.sleep(0.5)

        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert proc.returncode == 128 + signal.SIGTERM
    assert json.loads(out.splitlines()[-1])["type"] == "ShutdownComplete"
    assert not is_running(server)
    log = (home / "history.jsonl").read_text()
    assert "before the signal" in log


def test_an_imported_claude_code_thread_can_be_resumed_live(
    home: Path, claude_tree: ClaudeTree
) -> None:
    assert run_cli("import", claude_tree.projects, home=home).returncode == 0
    imported = claude_tree.session("oldest")
    thread_id = str(conversation_thread_id(AGENT, imported.conversation.session_id))

    status, events, _ = session(home, "resume", thread_id, "--cwd", "/srv/app", stdin="go on\n")

    assert status == 0
    configured = events[0]
    assert (configured["session_id"], configured["resumed"]) == (thread_id, True)
    messages = configured["initial_messages"]
    assert messages[0]["parts"] == ["Fix the flaky date test"]
    topics = event_topics(home, thread_id)
    assert topics[0] == "threadline.domain.session:Session.SessionImported"
    assert topics[-3:] == [
        "threadline.domain.session:Session.RolloutResumed",
        "threadline.domain.session:Session.ItemsRecorded",
        "threadline.domain.session:Session.ItemsRecorded",
    ]
