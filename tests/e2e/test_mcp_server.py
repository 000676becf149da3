"""``threadline mcp`` answers the official SDK's client: a real server process on a real
store (both stores), over stdio and over streamable HTTP."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import (
    REPO,
    ClaudeTree,
    Conversation,
    cli_command,
    cli_env,
    long_text,
    run_cli,
    session_uuid,
    slug,
)

pytestmark = pytest.mark.both_stores

HUGE_CHARS = 300_000
TOOLS = {"search", "list_threads", "read_thread", "usage"}


def store_with_a_huge_item(tree: ClaudeTree, home: Path) -> str:
    conv = Conversation(session_uuid("huge"))
    conv.user("Run the whole test suite")
    conv.tool_turn("Bash", {"command": "pytest -q"}, long_text("zanzibar", HUGE_CHARS))
    conv.assistant("All green.")
    conv.write(tree.projects / slug(conv.cwd or "") / f"{conv.session_id}.jsonl")
    result = run_cli("import", tree.claude_home, "--json", home=home)
    assert result.returncode == 0, result.stderr
    threads = run_cli("threads", "--json", home=home).json()
    return next(t["thread_id"] for t in threads if t["source_session_id"] == conv.session_id)


@asynccontextmanager
async def stdio_session(home: Path) -> AsyncIterator[Any]:
    from mcp import ClientSession, StdioServerParameters, stdio_client

    command = cli_command("mcp")
    params = StdioServerParameters(
        command=command[0], args=command[1:], env=cli_env(home), cwd=str(REPO)
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def call(session: Any, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, result.content
    data: dict[str, Any] = result.structured_content or json.loads(result.content[0].text)
    return data


async def error(session: Any, tool: str, arguments: dict[str, Any]) -> str:
    result = await session.call_tool(tool, arguments)
    assert result.is_error, f"{tool}({arguments}) should have failed: {result.content}"
    return str(result.content[0].text)


def test_every_tool_over_stdio(claude_tree: ClaudeTree, home: Path) -> None:
    huge_thread = store_with_a_huge_item(claude_tree, home)
    cli_threads = run_cli("threads", "--json", home=home).json()
    cli_usage = run_cli("usage", "--json", home=home).json()

    async def scenario() -> None:
        async with stdio_session(home) as s:
            listed = (await s.list_tools()).tools
            assert {t.name for t in listed} == TOOLS
            for tool in listed:
                assert tool.description and len(tool.description) > 80
                props = tool.input_schema["properties"]
                assert all(p.get("description") for p in props.values()), tool.name

            # list_threads: small pages, followed by cursor to the end, the CLI's threads.
            seen, cursor = [], None
            while True:
                page = await call(s, "list_threads", {"limit": 2, "cursor": cursor})
                assert len(page["threads"]) <= 2
                seen += [t["thread_id"] for t in page["threads"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            assert seen == [t["thread_id"] for t in cli_threads]

            # search: the hit names its thread and position.
            found = await call(s, "search", {"query": "zanzibar", "limit": 3})
            assert [(h["thread_id"], h["role"]) for h in found["results"]] == [
                (huge_thread, "tool_result")
            ]
            assert "**zanzibar**" in found["results"][0]["snippet"]
            position = found["results"][0]["position"]

            # read_thread: a page by position; the huge output cut, with its full size.
            page = await call(
                s, "read_thread", {"thread_id": huge_thread[:8], "start": position, "limit": 1}
            )
            [item] = page["items"]
            assert (item["position"], item["type"]) == (position, "tool_result")
            assert item["size"] == HUGE_CHARS and item["truncated"] is True
            assert len(item["text"]) == page["max_chars"] == 2000
            assert page["next_start"] == position + 1
            wider = await call(
                s,
                "read_thread",
                {"thread_id": huge_thread, "start": position, "limit": 1, "max_chars": 50_000},
            )
            assert len(wider["items"][0]["text"]) == 50_000
            rest = await call(s, "read_thread", {"thread_id": huge_thread, "start": position + 1})
            assert rest["next_start"] is None and rest["items"][-1]["text"] == "All green."

            # usage: the CLI's report.
            report = await call(s, "usage", {"report": "daily", "limit": 1})
            assert report["totals"] == cli_usage["totals"]
            assert len(report["rows"]) == 1 and report["rows_total"] == len(cli_usage["rows"])
            assert report["rows"][0] == cli_usage["rows"][-1]

            # Bad arguments: a tool error each, and the server keeps answering.
            assert "limit" in await error(s, "list_threads", {"limit": 0})
            assert "no thread" in await error(s, "read_thread", {"thread_id": "ffffffff"})
            assert "past the end" in await error(
                s, "read_thread", {"thread_id": huge_thread, "start": 10_000}
            )
            assert "since" in await error(s, "search", {"query": "x", "since": "last tuesday"})
            assert "no words" in await error(s, "search", {"query": "!!!"})
            assert "cursor" in await error(s, "list_threads", {"cursor": "nonsense"})
            assert "time zone" in await error(s, "usage", {"timezone": "Mars/Base"})
            assert "report" in await error(s, "usage", {"report": "hourly"})
            assert (await call(s, "list_threads", {"limit": 1}))["threads"]

    anyio.run(scenario)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_streamable_http_on_localhost(claude_tree: ClaudeTree, home: Path) -> None:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    huge_thread = store_with_a_huge_item(claude_tree, home)
    port = free_port()
    server = subprocess.Popen(
        cli_command("mcp", "--http", str(port)),
        cwd=REPO,
        env=cli_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "the server did not listen"
            time.sleep(0.2)

        async def scenario() -> None:
            url = f"http://127.0.0.1:{port}/mcp"
            async with (
                streamable_http_client(url) as (read, write),
                ClientSession(read, write) as s,
            ):
                await s.initialize()
                assert {t.name for t in (await s.list_tools()).tools} == TOOLS
                page = await call(s, "read_thread", {"thread_id": huge_thread, "limit": 2})
                assert [i["position"] for i in page["items"]] == [0, 1]
                assert "no thread" in await error(s, "read_thread", {"thread_id": "nope"})

        anyio.run(scenario)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_bad_port_is_a_usage_error(home: Path) -> None:
    assert run_cli("mcp", "--http", "70000", home=home).returncode == 2


def test_the_server_on_a_store_not_made_yet(home: Path) -> None:
    async def scenario() -> None:
        async with stdio_session(home) as s:
            assert (await call(s, "list_threads", {}))["threads"] == []
            assert (await call(s, "search", {"query": "anything"}))["results"] == []
            report = await call(s, "usage", {})
            assert report["rows"] == []

    anyio.run(scenario)
