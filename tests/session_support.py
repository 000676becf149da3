"""Helpers for the live-session tests: real MCP server configs, child processes, slow ports.

Imported by ``tests/**/test_session*.py`` as ``from session_support import ...``
(pytest puts ``tests/`` on ``sys.path`` through its rootdir conftest).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from threadline.application.sessions import (
    HistoryMetadata,
    McpConnections,
    McpServerConfig,
    McpStartup,
    SessionConfig,
    SessionServices,
    SessionStore,
    Shell,
)
from threadline.domain.session import SessionSettings

TESTS = Path(__file__).resolve().parent
SERVERS = TESTS / "session_servers"
EVERYTHING = TESTS.parent / ".ci" / "node_modules" / ".bin" / "mcp-server-everything"

T = TypeVar("T")


def notes_server(
    pid_file: Path | None = None, start_delay: float = 0, timeout: float = 30
) -> McpServerConfig:
    """The MCP server written in the tests with the ``mcp`` SDK."""
    env = {"START_DELAY_SEC": str(start_delay)}
    if pid_file:
        env["PID_FILE"] = str(pid_file)
    return McpServerConfig(
        command=sys.executable,
        args=(str(SERVERS / "notes_server.py"),),
        env=env,
        startup_timeout_sec=timeout,
    )


def exiting_server() -> McpServerConfig:
    return McpServerConfig(command=sys.executable, args=(str(SERVERS / "exits_server.py"),))


def hanging_server(pid_file: Path | None = None, timeout: float = 1.0) -> McpServerConfig:
    env = {"PID_FILE": str(pid_file)} if pid_file else {}
    return McpServerConfig(
        command=sys.executable,
        args=(str(SERVERS / "hang_server.py"),),
        env=env,
        startup_timeout_sec=timeout,
    )


def everything_server() -> McpServerConfig:
    """``@modelcontextprotocol/server-everything``, as ``.ci/run`` installs it."""
    if not EVERYTHING.exists():
        reason = (
            f"{EVERYTHING} is missing: run `npm install --prefix .ci "
            "@modelcontextprotocol/server-everything` (as .ci/run does)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return McpServerConfig(command=str(EVERYTHING), startup_timeout_sec=60)


def settings(cwd: str = "/tmp/project", **changes: Any) -> SessionSettings:
    values: dict[str, Any] = {
        "model": "gpt-5-codex",
        "provider": "openai",
        "reasoning_effort": "medium",
        "cwd": cwd,
        "approval_policy": "on-request",
        "sandbox_policy": "workspace-write",
        "user_instructions": "Answer in French.",
    }
    values.update(changes)
    return SessionSettings(**values)


def config(servers: Mapping[str, McpServerConfig] | None = None, **changes: Any) -> SessionConfig:
    return SessionConfig(settings=settings(**changes), mcp_servers=dict(servers or {}))


def child_pids() -> set[int]:
    """Live (not zombie) processes whose parent is this process."""
    me = str(os.getpid())
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[1] == me and fields[0] != "Z":
            found.add(int(entry))
    return found


def is_running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def read_pid(path: Path, wait: float = 10) -> int:
    deadline = time.monotonic() + wait
    while not path.exists() or not path.read_text():
        if time.monotonic() > deadline:
            raise AssertionError(f"no pid in {path}")
        time.sleep(0.01)
    return int(path.read_text())


# -- ports that take a known time: real adapters behind a delay ----------------


def slow(delay: float, call: Callable[[], T]) -> Callable[[], T]:
    def run() -> T:
        time.sleep(delay)
        return call()

    return run


@dataclass
class SlowHistory:
    delay: float
    inner: Any

    def metadata(self) -> HistoryMetadata:
        time.sleep(self.delay)
        result: HistoryMetadata = self.inner.metadata()
        return result

    def append(self, session_id: Any, text: str) -> None:
        self.inner.append(session_id, text)


@dataclass
class SlowMcp:
    delay: float
    inner: McpConnections

    async def start(self, servers: Mapping[str, McpServerConfig]) -> McpStartup:
        await asyncio.sleep(self.delay)
        return await self.inner.start(servers)

    async def call_tool(self, tool: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        return await self.inner.call_tool(tool, arguments)

    async def stop(self) -> None:
        await self.inner.stop()


def slowed(services: SessionServices, delay: float) -> SessionServices:
    """Every start-up task of ``services`` made to take at least ``delay`` seconds."""
    make_mcp = services.mcp
    return SessionServices(
        open_store=slow(delay, services.open_store),
        mcp=lambda: SlowMcp(delay, make_mcp()),
        discover_shell=slow(delay, services.discover_shell),
        prompt_history=SlowHistory(delay, services.prompt_history),
    )


__all__ = ["SessionStore", "Shell"]
