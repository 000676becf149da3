"""Start-up failure rules on in-memory ports: what is fatal, what is an event, in what order."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import pytest

from threadline.adapters.persistence.codec import CODEC_ENV
from threadline.application.sessions import (
    HistoryMetadata,
    McpServerConfig,
    McpStartup,
    ResumeFailedError,
    SessionConfig,
    Sessions,
    SessionServices,
    Shell,
)
from threadline.application.threadline import Threadline
from threadline.domain.session import SessionSettings

SETTINGS = SessionSettings(
    model="gpt-5-codex",
    provider="openai",
    cwd="/srv/app",
    approval_policy="on-request",
    sandbox_policy="workspace-write",
)
SERVERS = {"a": McpServerConfig(command="a"), "b": McpServerConfig(command="b")}


@dataclass
class InMemoryStore:
    app: Threadline = field(default_factory=lambda: Threadline(env=dict(CODEC_ENV)))
    location: str = "memory"

    def close(self) -> None:
        pass


@dataclass
class FakeMcp:
    failures: dict[str, str] = field(default_factory=dict)
    stopped: bool = False

    async def start(self, servers: Mapping[str, McpServerConfig]) -> McpStartup:
        tools = [f"{n}__tool" for n in servers if n not in self.failures]
        return McpStartup(tools=tools, failures=dict(self.failures))

    async def call_tool(self, tool: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        raise LookupError(tool)

    async def stop(self) -> None:
        self.stopped = True


@dataclass
class FakeHistory:
    lines: list[tuple[UUID, str]] = field(default_factory=list)

    def metadata(self) -> HistoryMetadata:
        return HistoryMetadata(log_id="log-1", entry_count=len(self.lines))

    def append(self, session_id: UUID, text: str) -> None:
        self.lines.append((session_id, text))


def unavailable() -> InMemoryStore:
    raise OSError("disk on fire")


def broken_manager() -> FakeMcp:
    raise RuntimeError("no event loop for you")


def services(store: Any = None, mcp: Any = None) -> SessionServices:
    """``store``: a function that opens the store (default: a new in-memory one)."""
    memory = InMemoryStore()
    return SessionServices(
        open_store=store or (lambda: memory),
        mcp=mcp or FakeMcp,
        discover_shell=lambda: Shell(kind="zsh", path="/bin/zsh", rc_file=None),
        prompt_history=FakeHistory(),
    )


def start(svc: SessionServices, servers: Mapping[str, McpServerConfig] = SERVERS) -> Any:
    async def go() -> Any:
        live = await Sessions(svc).start_session(SessionConfig(SETTINGS, servers))
        await live.shutdown()
        return live

    return asyncio.run(go())


def test_session_configured_comes_first_then_the_errors_in_order() -> None:
    manager = FakeMcp(failures={"a": "boom", "b": "bang"})
    live = start(services(store=unavailable, mcp=lambda: manager))

    assert [e["type"] for e in live.events] == ["SessionConfigured", "Error", "Error", "Error"]
    assert [e["message"] for e in live.events[1:]] == [
        "failed to initialize rollout recorder: disk on fire",
        "MCP client for `a` failed to start: boom",
        "MCP client for `b` failed to start: bang",
    ]
    assert manager.stopped


def test_a_manager_that_cannot_be_created_is_an_error_and_an_empty_manager() -> None:
    live = start(services(mcp=broken_manager))

    configured, error = live.events
    assert configured["mcp_tools"] == []
    assert error == {
        "type": "Error",
        "message": "failed to create the MCP connection manager: no event loop for you",
    }
    assert live.persisted


def test_session_configured_carries_what_the_start_up_tasks_found() -> None:
    live = start(services())

    [configured] = live.events
    assert configured == {
        "type": "SessionConfigured",
        "session_id": str(live.id),
        "model": "gpt-5-codex",
        "resumed": False,
        "history_log_id": "log-1",
        "history_entry_count": 0,
        "stored_in": "memory",
        "mcp_tools": ["a__tool", "b__tool"],
        "shell": {"kind": "zsh", "path": "/bin/zsh", "rc_file": None},
    }


def test_a_failed_resume_stops_the_mcp_servers_it_started_and_raises() -> None:
    manager = FakeMcp()
    svc = services(mcp=lambda: manager)
    missing = uuid4()

    with pytest.raises(ResumeFailedError, match=f"failed to resume thread {missing}: "):
        asyncio.run(Sessions(svc).resume_session(missing, SessionConfig(SETTINGS, SERVERS)))
    assert manager.stopped


@dataclass
class FailingMcp(FakeMcp):
    """A manager whose start fails after it has started something."""

    async def start(self, servers: Mapping[str, McpServerConfig]) -> McpStartup:
        raise RuntimeError("lost the servers")


def test_a_manager_whose_start_fails_is_stopped_and_reported() -> None:
    manager = FailingMcp()
    live = start(services(mcp=lambda: manager))

    assert live.events[1]["message"] == (
        "failed to create the MCP connection manager: lost the servers"
    )
    assert manager.stopped
