"""The MCP connection manager: every configured server over stdio, through the ``mcp`` SDK.

Each server runs in its own task, which owns its ``stdio_client`` and
``ClientSession`` from start to stop (the SDK's context managers must be
entered and left by one task). Start-up — spawn, ``initialize``, then every
page of ``tools/list`` — has the server's own timeout. A server that fails is
reported the moment it fails, never raised; its process is stopped in the
background, and ``stop`` waits for every server task, so no child process
outlives the manager.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Mapping
from typing import Any, TextIO

import anyio

from threadline.application.sessions import McpServerConfig, McpStartup

SEPARATOR = "__"
"""Tools are qualified as ``server__tool``."""


class McpConnectionManager:
    def __init__(self, errlog: TextIO | None = None) -> None:
        self._errlog = errlog
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.sessions: dict[str, Any] = {}
        """Server name -> its initialised ``mcp.ClientSession``."""
        self.pids: dict[str, int] = {}

    async def start(self, servers: Mapping[str, McpServerConfig]) -> McpStartup:
        loop = asyncio.get_running_loop()
        if servers:
            # Importing the SDK takes most of a second: off the event loop, so the
            # other start-up tasks go on meanwhile.
            await asyncio.to_thread(_import_sdk)
        outcomes: dict[str, asyncio.Future[list[str]]] = {}
        for name, config in servers.items():
            outcomes[name] = loop.create_future()
            self._tasks.append(
                loop.create_task(self._serve(name, config, outcomes[name]), name=f"mcp:{name}")
            )
        tools: list[str] = []
        failures: dict[str, str] = {}
        for name, outcome in outcomes.items():
            try:
                tools.extend(await outcome)
            except Exception as exc:
                failures[name] = describe(exc)
        return McpStartup(tools=tools, failures=failures)

    async def call_tool(self, tool: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        server, _, name = tool.partition(SEPARATOR)
        session = self.sessions.get(server)
        if session is None or not name:
            raise LookupError(f"no MCP tool {tool!r}")
        result = await session.call_tool(name, dict(arguments))
        return {
            "is_error": bool(result.is_error),
            "content": [block.model_dump(mode="json") for block in result.content],
            "structured_content": result.structured_content,
        }

    async def stop(self) -> None:
        """Stop every server and wait until each process is gone."""
        self._stop.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self.sessions.clear()

    async def _serve(
        self, name: str, config: McpServerConfig, outcome: asyncio.Future[list[str]]
    ) -> None:
        from mcp import ClientSession, StdioServerParameters, stdio_client

        params = StdioServerParameters(
            command=config.command,
            args=list(config.args),
            env=dict(config.env) or None,
        )
        errlog = self._errlog or _stderr_file()
        try:
            with anyio.fail_after(config.startup_timeout_sec) as deadline:
                async with (
                    stdio_client(params, errlog=errlog) as (read, write),
                    ClientSession(read, write) as session,
                ):
                    try:
                        await session.initialize()
                        listed = await _list_tools(session)
                    except BaseException as exc:
                        # Report now; the process is stopped on the way out.
                        failure: BaseException = exc
                        if deadline.cancel_called:
                            failure = TimeoutError()
                        elif errlog is not self._errlog:
                            failure = _with_stderr(exc, errlog)
                        _fail(outcome, failure, config)
                        raise
                    deadline.deadline = float("inf")
                    self.sessions[name] = session
                    outcome.set_result([f"{name}{SEPARATOR}{tool}" for tool in listed])
                    await self._stop.wait()
        except BaseException as exc:
            _fail(outcome, exc, config)
            if not isinstance(exc, Exception):
                raise
        finally:
            self.sessions.pop(name, None)
            if errlog is not self._errlog:
                errlog.close()


def _import_sdk() -> None:
    import mcp
    import mcp.types  # noqa: F401


async def _list_tools(session: Any) -> list[str]:
    from mcp.types import PaginatedRequestParams

    names: list[str] = []
    cursor: str | None = None
    while True:
        params = PaginatedRequestParams(cursor=cursor) if cursor else None
        result = await session.list_tools(params=params)
        names.extend(tool.name for tool in result.tools)
        cursor = result.next_cursor
        if not cursor:
            return names


def _fail(outcome: asyncio.Future[list[str]], exc: BaseException, config: McpServerConfig) -> None:
    if outcome.done():
        return
    if isinstance(exc, TimeoutError):
        exc = TimeoutError(f"timed out after {config.startup_timeout_sec:g} s")
    elif not isinstance(exc, Exception):
        exc = RuntimeError(f"stopped: {type(exc).__name__}")
    outcome.set_exception(exc)


def describe(exc: BaseException) -> str:
    """One line for an error, looking inside exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0] if text else type(exc).__name__


def _stderr_file() -> TextIO:
    """Where a server's stderr goes, so that a failure can quote its last line."""
    return tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")


def _with_stderr(exc: BaseException, errlog: TextIO) -> BaseException:
    """``exc`` with the last line the server wrote to stderr, if any."""
    try:
        errlog.flush()
        errlog.seek(0)
        lines = [line.strip() for line in errlog.read()[-4096:].splitlines() if line.strip()]
    except (OSError, ValueError):
        return exc
    if not lines:
        return exc
    return RuntimeError(f"{describe(exc)} (stderr: {lines[-1][:200]})")
