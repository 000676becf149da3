"""``threadline session start|resume``: a live session on the terminal.

Prints the session's events as JSON lines (``SessionConfigured`` first, then
any ``Error``), records each line of standard input as a user prompt (and
appends it to the prompt log) until end of input or SIGINT/SIGTERM, then shuts
down — flushes, stops every MCP server — and prints ``ShutdownComplete``. A store
that fails for good while the session runs ends it at once: an ``Error`` event,
one line on stderr saying how to resume the thread, exit status 3.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from threadline.adapters.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, log_warnings

if TYPE_CHECKING:
    import asyncio
    from uuid import UUID

    from threadline.adapters.home import StoreLocation

# ``main`` builds its parser from this module for every command: heavier modules
# (orjson, uuid) are imported where a session needs them.


def add_parsers(sub: Any) -> None:
    """The ``session`` command and its ``start`` and ``resume`` subcommands."""
    p = sub.add_parser("session", help="run a live session: start a new one or resume a thread")
    actions = p.add_subparsers(dest="session_command", required=True, metavar="ACTION")
    start = actions.add_parser("start", help="start a new session")
    resume = actions.add_parser("resume", help="continue a stored thread")
    resume.add_argument("thread_id", metavar="THREAD_ID", help="the thread's id")
    for q in (start, resume):
        q.add_argument("--cwd", help="the session's working directory (absolute)")
        q.add_argument("--model")
        q.add_argument("--provider", dest="model_provider")
        q.add_argument("--reasoning-effort", dest="model_reasoning_effort")
        q.add_argument("--approval-policy")
        q.add_argument("--sandbox-policy")
        q.add_argument("--instructions", dest="user_instructions", help="user instructions")
    p.set_defaults(run=cmd_session)


def cmd_session(args: argparse.Namespace) -> int:
    from uuid import UUID

    from threadline.adapters.home import StoreUnavailableError, resolve_location
    from threadline.adapters.sessions.config import ConfigError, load_session_config

    try:
        location = resolve_location(args.home, args.database_url)
    except StoreUnavailableError as exc:
        return _fail(str(exc), EXIT_USAGE)
    overrides = {
        key: getattr(args, key)
        for key in (
            "cwd",
            "model",
            "model_provider",
            "model_reasoning_effort",
            "approval_policy",
            "sandbox_policy",
            "user_instructions",
        )
    }
    thread_id: UUID | None = None
    if args.session_command == "resume":
        try:
            thread_id = UUID(args.thread_id)
        except ValueError:
            return _fail(f"not a thread id: {args.thread_id!r}", EXIT_USAGE)
    try:
        config = load_session_config(location.home, overrides)
    except ConfigError as exc:
        return _fail(str(exc), EXIT_USAGE)
    import asyncio

    log_warnings()  # each store retry, as one line
    return asyncio.run(_run(location, config, thread_id))


async def _run(location: StoreLocation, config: Any, thread_id: UUID | None) -> int:
    import asyncio

    from threadline.adapters.sessions import session_services
    from threadline.application.sessions import ResumeFailedError, Sessions

    sessions = Sessions(session_services(location))
    try:
        if thread_id is None:
            live = await sessions.start_session(config)
        else:
            live = await sessions.resume_session(thread_id, config)
    except ResumeFailedError as exc:
        return _fail(str(exc), EXIT_FAILED)
    signalled: list[int] = []
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def announce(event: dict[str, Any]) -> None:
        _emit(event)
        if live.failure is not None:  # the store ended the session: read no more
            lines.put_nowait(None)

    try:
        for event in live.events:
            _emit(event)
        live.on_event = announce
        async for prompt in _stdin_lines(lines, signalled):
            if live.failure is not None:
                break
            if prompt:
                await live.submit_prompt(prompt)
    finally:
        await live.shutdown()
    _emit({"type": "ShutdownComplete", "session_id": str(live.id)})
    if live.failure is not None:
        return _fail(
            f"the session ended: the store in {location.describe()} failed: {live.failure}; "
            f"what was saved is in thread {live.id} (`threadline session resume {live.id}` "
            "continues it)",
            EXIT_FAILED,
        )
    return 128 + signalled[0] if signalled else EXIT_OK


async def _stdin_lines(
    lines: asyncio.Queue[str | None], signalled: list[int]
) -> AsyncIterator[str]:
    """Lines of standard input until its end, SIGINT or SIGTERM, or a None put on ``lines``.

    A daemon thread reads, so that a signal ends the session at once even
    while a read is blocked (and the thread never holds up the exit).
    """
    import asyncio
    import contextlib
    import signal
    import threading

    loop = asyncio.get_running_loop()

    def put(line: str | None) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: the session is over
            loop.call_soon_threadsafe(lines.put_nowait, line)

    def read() -> None:
        for line in sys.stdin:
            put(line.rstrip("\n"))
        put(None)

    def stop(signum: int) -> None:
        signalled.append(signum)
        lines.put_nowait(None)

    threading.Thread(target=read, name="stdin", daemon=True).start()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop, signum)
    try:
        while (line := await lines.get()) is not None:
            yield line
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _emit(event: dict[str, Any]) -> None:
    import orjson

    sys.stdout.write(orjson.dumps(event).decode() + "\n")
    sys.stdout.flush()


def _fail(message: str, status: int) -> int:
    print(f"threadline: {message}", file=sys.stderr)
    return status
