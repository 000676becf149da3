"""Starting and resuming live sessions on a real SQLite store with real MCP servers."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from conftest import event_topics, store_described
from session_support import (
    child_pids,
    config,
    everything_server,
    exiting_server,
    hanging_server,
    is_running,
    notes_server,
    read_pid,
    slowed,
)

from threadline.adapters.sessions import session_services
from threadline.adapters.sessions.history import PromptLog
from threadline.application.sessions import LiveSession, ResumeFailedError, SessionConfig, Sessions
from threadline.domain.items import UserMessage
from threadline.domain.session import CwdNotAbsoluteError

pytestmark = pytest.mark.both_stores

TOPIC = "threadline.domain.session:Session."


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def start(home: Path, cfg: SessionConfig) -> LiveSession:
    return await Sessions(session_services(str(home))).start_session(cfg)


async def resume(home: Path, thread_id: UUID, cfg: SessionConfig) -> LiveSession:
    return await Sessions(session_services(str(home))).resume_session(thread_id, cfg)


def started_and_stopped(home: Path, cfg: SessionConfig, prompts: tuple[str, ...] = ()) -> Any:
    async def go() -> LiveSession:
        live = await start(home, cfg)
        for prompt in prompts:
            await live.submit_prompt(prompt)
        await live.shutdown()
        return live

    return run(go())


# -- new sessions -------------------------------------------------------------


def test_a_new_session_announces_session_configured_and_records_its_initial_context(
    home: Path,
) -> None:
    live = started_and_stopped(home, config(), prompts=("Bonjour",))

    [configured] = live.events
    assert configured["type"] == "SessionConfigured"
    assert configured["session_id"] == str(live.id)
    assert configured["model"] == "gpt-5-codex"
    assert configured["resumed"] is False
    assert configured["stored_in"] == store_described(home)
    assert configured["mcp_tools"] == []
    assert configured["history_entry_count"] == 0
    assert "initial_messages" not in configured
    assert event_topics(home, str(live.id)) == [
        TOPIC + "SessionConfigured",
        TOPIC + "ItemsRecorded",  # the initial context, one batch
        TOPIC + "ItemsRecorded",  # the prompt
    ]


def test_the_initial_context_is_one_batch_of_instructions_and_environment(home: Path) -> None:
    live = started_and_stopped(home, config(cwd="/srv/app", sandbox_policy="read-only"))

    app = session_services(str(home)).open_store()
    try:
        events = list(app.app.events.get(live.id))
    finally:
        app.close()
    created, context = events
    assert created.settings.cwd == "/srv/app"
    instructions, environment = context.items
    assert instructions.type == "user" and instructions.meta
    assert instructions.parts == ["Answer in French."]
    assert environment.subtype == "environment_context"
    assert environment.data == {
        "cwd": "/srv/app",
        "approval_policy": "on-request",
        "sandbox_policy": "read-only",
        "shell": live.shell.kind,
    }


def test_a_relative_cwd_is_refused_before_any_task_starts(home: Path) -> None:
    with pytest.raises(CwdNotAbsoluteError, match="absolute"):
        run(start(home, config(servers={"notes": notes_server()}, cwd="relative/dir")))
    assert not home.exists()


def test_a_store_that_cannot_be_opened_leaves_the_session_running_unpersisted(
    tmp_path: Path,
) -> None:
    home = tmp_path / "a-file"
    home.write_text("not a directory")

    async def go() -> LiveSession:
        live = await start(home, config())
        await live.submit_prompt("still works")
        await live.shutdown()
        return live

    live = run(go())

    configured, error, log_error = live.events
    assert configured["type"] == "SessionConfigured"
    assert configured["stored_in"] is None
    assert error["type"] == "Error"
    assert error["message"].startswith("failed to initialize rollout recorder: ")
    assert "not a directory" in error["message"]
    assert log_error["message"].startswith("failed to append to the prompt log: ")
    assert not live.persisted


# -- resume ---------------------------------------------------------------------


def test_a_resumed_session_keeps_its_id_and_restores_its_messages(home: Path) -> None:
    first = started_and_stopped(home, config(), prompts=("one", "two"))

    async def go() -> LiveSession:
        live = await resume(home, first.id, config(model="o3"))
        await live.submit_prompt("three")
        await live.shutdown()
        return live

    live = run(go())

    [configured] = live.events
    assert configured["session_id"] == str(first.id)
    assert configured["resumed"] is True
    assert configured["model"] == "o3"
    assert configured["history_entry_count"] == 2
    assert [m["parts"] for m in configured["initial_messages"]] == [
        ["Answer in French."],
        ["one"],
        ["two"],
    ]
    assert event_topics(home, str(first.id)) == [
        TOPIC + "SessionConfigured",
        TOPIC + "ItemsRecorded",
        TOPIC + "ItemsRecorded",
        TOPIC + "RolloutResumed",
        TOPIC + "ItemsRecorded",  # the initial context again, one batch
        TOPIC + "ItemsRecorded",
    ]


def test_resuming_a_missing_thread_is_a_clear_error_that_records_nothing(home: Path) -> None:
    started_and_stopped(home, config())
    before = child_pids()
    missing = uuid4()

    with pytest.raises(ResumeFailedError) as failed:
        run(resume(home, missing, config(servers={"notes": notes_server()})))

    assert str(failed.value) == f"failed to resume thread {missing}: no such thread in the store"
    assert event_topics(home, str(missing)) == []
    assert child_pids() <= before  # the MCP server it started is gone


def test_resuming_from_a_store_that_cannot_be_opened_is_a_clear_error(tmp_path: Path) -> None:
    home = tmp_path / "a-file"
    home.write_text("not a directory")
    thread_id = uuid4()

    with pytest.raises(ResumeFailedError, match=f"failed to resume thread {thread_id}: "):
        run(resume(home, thread_id, config()))


# -- MCP servers ------------------------------------------------------------------


def test_tools_of_a_server_written_with_the_sdk_are_listed_qualified(home: Path) -> None:
    live = started_and_stopped(home, config(servers={"notes": notes_server()}))

    assert live.events[0]["mcp_tools"] == ["notes__add_note", "notes__list_notes"]
    assert len(live.events) == 1


def test_each_failed_server_is_an_error_after_session_configured(
    home: Path, tmp_path: Path
) -> None:
    servers = {
        "notes": notes_server(),
        "exits": exiting_server(),
        "hangs": hanging_server(tmp_path / "hang.pid", timeout=1.0),
        "missing": notes_server().__class__(command=str(tmp_path / "no-such-command")),
    }
    started = time.perf_counter()
    live = started_and_stopped(home, config(servers=servers))

    configured, *errors = live.events
    assert configured["type"] == "SessionConfigured"
    assert configured["mcp_tools"] == ["notes__add_note", "notes__list_notes"]
    assert [e["type"] for e in errors] == ["Error"] * 3
    messages = [e["message"] for e in errors]
    assert messages[0].startswith("MCP client for `exits` failed to start: ")
    assert messages[0].endswith("(stderr: exits_server: missing API key)")
    assert messages[1] == "MCP client for `hangs` failed to start: timed out after 1 s"
    assert messages[2].startswith("MCP client for `missing` failed to start: ")
    assert "No such file" in messages[2]
    assert not is_running(read_pid(tmp_path / "hang.pid"))
    assert time.perf_counter() - started < 30


def test_a_hanging_server_is_reported_at_its_timeout_not_after_it_is_killed(
    home: Path,
) -> None:
    import mcp.types  # noqa: F401 - importing the SDK (~1 s, once) is not what is timed here

    async def go() -> tuple[float, LiveSession]:
        began = time.perf_counter()
        live = await start(home, config(servers={"hangs": hanging_server(timeout=0.5)}))
        took = time.perf_counter() - began
        await live.shutdown()
        return took, live

    took, live = run(go())

    assert live.events[1]["message"].endswith("timed out after 0.5 s")
    assert took < 1.5  # the SDK gives a server 2 s after stdin closes, then SIGTERM


def test_shutdown_stops_every_mcp_server_and_leaves_no_child_process(
    home: Path, tmp_path: Path
) -> None:
    before = child_pids()
    pid_file = tmp_path / "notes.pid"

    async def go() -> tuple[set[int], LiveSession]:
        live = await start(home, config(servers={"a": notes_server(pid_file), "b": notes_server()}))
        during = child_pids() - before
        await live.shutdown()
        return during, live

    during, live = run(go())

    assert len(during) == 2
    assert live.events[0]["mcp_tools"] == [
        "a__add_note",
        "a__list_notes",
        "b__add_note",
        "b__list_notes",
    ]
    assert child_pids() - before == set()
    assert not is_running(read_pid(pid_file))


def test_server_everything_from_npm_starts_and_lists_its_tools(home: Path) -> None:
    server = everything_server()
    before = child_pids()

    live = started_and_stopped(home, config(servers={"everything": server}))

    [configured] = live.events
    assert "everything__echo" in configured["mcp_tools"]
    assert all(t.startswith("everything__") for t in configured["mcp_tools"])
    assert child_pids() - before == set()


# -- concurrency ------------------------------------------------------------------


def test_the_four_start_up_tasks_run_concurrently(home: Path) -> None:
    delay = 0.4
    services = slowed(session_services(str(home)), delay)

    async def go() -> float:
        began = time.perf_counter()
        live = await Sessions(services).start_session(config())
        took = time.perf_counter() - began
        await live.shutdown()
        return took

    took = run(go())

    assert took >= delay
    assert took < 2 * delay, f"start-up took {took:.2f} s: the four tasks ran one after another"


# -- recording and the prompt log ---------------------------------------------------


def test_recorded_items_are_written_in_batches_and_flushed_at_shutdown(home: Path) -> None:
    async def go() -> LiveSession:
        live = await start(home, config())
        for n in range(5):
            live.record([UserMessage(line=live.next_position, parts=[f"item {n}"])])
        await live.shutdown()
        return live

    live = run(go())

    topics = event_topics(home, str(live.id))
    assert topics == [TOPIC + "SessionConfigured", TOPIC + "ItemsRecorded", TOPIC + "ItemsRecorded"]


def test_submitted_prompts_go_to_an_owner_only_prompt_log(home: Path) -> None:
    live = started_and_stopped(home, config(), prompts=("first", "second"))

    log = home / "history.jsonl"
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["session_id"], e["text"]) for e in entries] == [
        (str(live.id), "first"),
        (str(live.id), "second"),
    ]
    assert all(isinstance(e["ts"], int) for e in entries)
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600
    again = started_and_stopped(home, config())
    assert again.events[0]["history_entry_count"] == 2
    assert again.events[0]["history_log_id"] == PromptLog(str(home)).metadata().log_id


def test_the_prompt_log_id_is_stable_until_the_log_is_replaced(tmp_path: Path) -> None:
    log = PromptLog(str(tmp_path))
    assert (log.metadata().log_id, log.metadata().entry_count) == ("", 0)
    log.append(uuid4(), "one")
    first = log.metadata()
    log.append(uuid4(), "two")
    assert log.metadata() == first.__class__(log_id=first.log_id, entry_count=2)

    replacement = tmp_path / "new.jsonl"
    replacement.write_text('{"text": "x"}\n')
    os.replace(replacement, log.path)
    assert log.metadata().log_id != first.log_id


def test_the_prompt_log_counts_a_million_lines_fast(tmp_path: Path) -> None:
    log = PromptLog(str(tmp_path))
    line = b'{"session_id":"00000000-0000-0000-0000-000000000000","ts":1,"text":"hello"}\n'
    Path(log.path).write_bytes(line * 1_000_000)

    began = time.perf_counter()
    metadata = log.metadata()
    took = time.perf_counter() - began

    assert metadata.entry_count == 1_000_000
    assert took < 1.0


def test_the_prompt_log_count_follows_appends_from_anyone_and_a_trimmed_log(
    tmp_path: Path,
) -> None:
    log = PromptLog(str(tmp_path))
    for text in ("a", "b", "c"):
        log.append(uuid4(), text)
    assert log.metadata().entry_count == 3

    with open(log.path, "ab") as f:  # another writer that keeps no count
        f.write(b'{"text": "d"}\n{"text": "e"}\n')
    assert log.metadata().entry_count == 5
    log.append(uuid4(), "f")
    assert log.metadata().entry_count == 6

    with open(log.path, "r+b") as f:  # trimmed in place
        f.truncate(len(f.readline()))
    assert log.metadata().entry_count == 1


def test_concurrent_appends_to_the_prompt_log_keep_every_line_whole(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    log = PromptLog(str(tmp_path))
    text = "x" * 5000

    def append_many(n: int) -> None:
        for _ in range(50):
            log.append(uuid4(), f"{n}:{text}")
            log.metadata()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(append_many, range(8)))

    lines = Path(log.path).read_text().splitlines()
    assert len(lines) == 400
    assert all(json.loads(line)["text"].endswith(text) for line in lines)
    assert log.metadata().entry_count == 400


def test_a_live_session_calls_the_tools_of_its_mcp_servers(home: Path) -> None:
    async def go() -> tuple[Any, Any, Any]:
        live = await start(home, config(servers={"notes": notes_server()}))
        try:
            first = await live.call_tool("notes__add_note", {"text": "milk"})
            listed = await live.call_tool("notes__list_notes", {})
            with pytest.raises(LookupError):
                await live.call_tool("other__tool", {})
            return first, listed, None
        finally:
            await live.shutdown()

    first, listed, _ = run(go())

    assert first["is_error"] is False
    assert first["content"][0]["text"] == "1"
    assert listed["structured_content"] == {"result": ["milk"]}
