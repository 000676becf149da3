"""``threadline mcp``: an MCP server over the archive, for an agent to look up past work.

Read-only tools over the read models, through the official ``mcp`` SDK (``MCPServer``):
``search``, ``list_threads``, ``read_thread`` and ``usage``. Results are small by default
and paged (a cursor or a next position); a long item's text is cut to a stated number of
characters, with its full size given. A bad argument (out of range, unknown thread, bad
date) is a tool error the client sees, never a crash. Each call catches the read models
up first if an import left them behind, so a long-running server answers from fresh data.

Not to be confused with ``adapters/sessions/mcp.py``, the MCP *client* that live
sessions use to call other servers.
"""

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from typing import TYPE_CHECKING, Annotated, Any, Literal

from threadline.adapters.home import StoreLocation

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from threadline.application.views import ReadModels

SERVER_NAME = "threadline"
INSTRUCTIONS = """\
Threadline is an archive of coding-agent sessions (Claude Code transcripts and more): every \
thread's messages, reasoning, tool calls and tool results, kept in full. Use it to find how \
something was done before, what was decided, which command failed and why, and what the \
sessions cost. Typical flow: `search` for words, then `read_thread` around the position of a \
hit; or `list_threads` for a project (`cwd`) and read the newest. Everything is read-only."""

TEXT_LIMIT = 2000
"""Characters of an item's text ``read_thread`` returns unless asked for more."""
MAX_TEXT_LIMIT = 50_000


class ToolArgumentError(ValueError):
    """A tool argument that cannot be used; the client gets the message as a tool error."""


# -- what each tool does (plain functions over a store location, through the read views) --


def _catch_up(location: StoreLocation, rebuild: bool = False) -> Callable[[Sequence[str]], None]:
    """Catches the named read models up (or rebuilds them) in the store at ``location``."""
    from threadline.adapters import queries

    def run(names: Sequence[str]) -> None:
        queries.catch_up(location, names, rebuild=rebuild)

    return run


def _open(location: StoreLocation) -> "Callable[[], ReadModels]":
    from threadline.adapters.queries import open_queries

    return lambda: open_queries(location)


@contextmanager
def _read_models(
    location: StoreLocation, names: Sequence[str] | None = None
) -> "Iterator[ReadModels]":
    """The read models, caught up first if an import left them behind (the eager ones
    unless ``names`` says)."""
    from threadline.application import views
    from threadline.application.read_queries import EAGER_PROJECTIONS

    opened = views.up_to_date(_open(location), _catch_up(location), names or EAGER_PROJECTIONS)
    with closing(opened) as read_models:
        yield read_models


def _moment(text: str | None, name: str) -> str | None:
    from threadline.application.read_queries import BadQueryError, parse_moment

    if not text:
        return None
    try:
        return parse_moment(text)
    except BadQueryError as exc:
        raise ToolArgumentError(f"{name}: {exc}") from exc


def _directory(path: str | None) -> tuple[str, ...]:
    return (os.path.abspath(os.path.expanduser(path)),) if path else ()


def _one_thread(read_models: "ReadModels", prefix: str) -> str:
    from threadline.application import views

    try:
        if not prefix.strip():
            raise views.ThreadNotFoundError(f"no thread {prefix!r}")
        return views.resolve_thread(read_models, prefix.strip())
    except views.ThreadNotFoundError as exc:
        raise ToolArgumentError(f"{exc}; list_threads or search give thread ids") from exc
    except views.AmbiguousThreadError as exc:
        raise ToolArgumentError(str(exc)) from exc


def _thread_summary(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "thread_id": row["thread_id"],
        "title": row["title"],
        "cwd": row["cwd"],
        "source": row["source_agent"],
        "branch": row["git_branch"],
        "created": row["created_at"],
        "updated": row["updated_at"],
        "items": row["item_count"],
        "parent_thread_id": row["parent_thread_id"],
    }


def search(
    location: StoreLocation,
    query: str,
    limit: int = 10,
    source: str | None = None,
    cwd: str | None = None,
    since: str | None = None,
) -> dict[str, Any]:
    from threadline.application import views
    from threadline.application.read_queries import SEARCH_PROJECTIONS, BadQueryError, SearchQuery

    after = _moment(since, "since")
    try:
        # Ask for more when filtering by date afterwards, so a page is still full.
        wanted = SearchQuery(
            query,
            cwds=_directory(cwd),
            sources=(source,) if source else (),
            limit=limit * 5 if after else limit,
        )
    except BadQueryError as exc:
        raise ToolArgumentError(str(exc)) from exc
    with _read_models(location, SEARCH_PROJECTIONS) as read_models:
        rows = views.search(read_models, wanted)
        threads = {r["thread_id"]: read_models.thread(r["thread_id"]) for r in rows}
    hits = []
    for row in rows:
        thread = threads.get(row["thread_id"]) or {}
        if after and (thread.get("updated_at") or "") < after:
            continue
        snippet = row["snippet"].replace(views.MARK_START, "**").replace(views.MARK_END, "**")
        hits.append(
            {
                "thread_id": row["thread_id"],
                "position": row["position"],
                "role": row["role"],
                "title": thread.get("title"),
                "cwd": thread.get("cwd"),
                "updated": thread.get("updated_at"),
                "snippet": snippet,
            }
        )
    return {"results": hits[:limit], "hint": "read_thread(thread_id, start=position - 2)"}


def list_threads(
    location: StoreLocation,
    cwd: str | None = None,
    source: str | None = None,
    since: str | None = None,
    until: str | None = None,
    parent: str | None = None,
    top_level: bool = False,
    sort: Literal["updated", "created"] = "updated",
    limit: int = 20,
    cursor: str | None = None,
) -> dict[str, Any]:
    from threadline.application import views
    from threadline.application.read_queries import BadQueryError, Cursor, ThreadQuery

    with _read_models(location) as read_models:
        try:
            query = ThreadQuery(
                cwds=_directory(cwd),
                sources=(source,) if source else (),
                since=_moment(since, "since"),
                until=_moment(until, "until"),
                parent=_one_thread(read_models, parent) if parent else None,
                top_level=top_level,
                sort=sort,
                limit=limit,
                after=Cursor.decode(cursor) if cursor else None,
            )
        except BadQueryError as exc:
            raise ToolArgumentError(str(exc)) from exc
        page = views.list_threads(read_models, query)
    return {
        "threads": [_thread_summary(r) for r in page["threads"]],
        "next_cursor": page["next_cursor"],
    }


def read_thread(
    location: StoreLocation,
    thread_id: str,
    start: int = 0,
    limit: int = 10,
    max_chars: int = TEXT_LIMIT,
) -> dict[str, Any]:
    from threadline.application import views

    with _read_models(location) as read_models:
        found = _one_thread(read_models, thread_id)
        shown = views.show_thread(read_models, found, start, limit)
    thread = shown["thread"]
    if start >= thread["item_count"] > 0:
        raise ToolArgumentError(
            f"start {start} is past the end: the thread has {thread['item_count']} items"
            f" (positions 0 to {thread['item_count'] - 1})"
        )
    return {
        "thread": _thread_summary(thread),
        "items": [compact_item(item, max_chars) for item in shown["items"]],
        "next_start": shown["next_position"],
        "max_chars": max_chars,
    }


def compact_item(item: dict[str, Any], max_chars: int) -> dict[str, Any]:
    """An item as a model reads it: its kind, when, and one text cut to ``max_chars``
    (``size`` is the whole text's length in characters, ``truncated`` whether it was cut)."""
    import orjson

    kind = item["type"]
    out: dict[str, Any] = {"position": item["position"], "type": kind}
    if item.get("timestamp"):
        out["timestamp"] = item["timestamp"]
    text = ""
    if kind in ("user", "assistant"):
        text = "\n".join(p if isinstance(p, str) else "" for p in item.get("parts", []))
        if kind == "assistant" and item.get("model"):
            out["model"] = item["model"]
    elif kind == "reasoning":
        text = "[redacted thinking]" if item.get("redacted") else str(item.get("text") or "")
    elif kind == "tool_call":
        out |= {"tool": item.get("name"), "call_id": item.get("call_id")}
        value = item.get("input")
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
    elif kind == "tool_result":
        out |= {"call_id": item.get("call_id"), "is_error": bool(item.get("is_error"))}
        output = item.get("output")
        if isinstance(output, list):
            text = "\n".join(
                str(b.get("text", "")) if b.get("kind") == "text" else f"[{b.get('kind')}]"
                for b in output
                if isinstance(b, dict)
            )
        else:
            text = str(output or "")
    elif kind == "system":
        out["subtype"] = item.get("subtype")
        text = str(item.get("text") or "")
    elif kind == "image":
        image = item.get("image") or {}
        text = f"[image {image.get('media_type')}, {image.get('size')} bytes]"
    else:
        text = f"[{item.get('record_type', kind)} record]"
    out["text"] = text[:max_chars]
    out["size"] = len(text)
    out["truncated"] = len(text) > max_chars
    return out


def usage(
    location: StoreLocation,
    report: Literal["daily", "weekly", "monthly", "session", "model", "project"] = "daily",
    since: str | None = None,
    until: str | None = None,
    source: str | None = None,
    cwd: str | None = None,
    timezone: str | None = None,
    limit: int = 14,
) -> dict[str, Any]:
    from threadline.application import views
    from threadline.application.usage import BadPriceTableError, BadUsageQueryError, prices_for

    try:
        data = views.usage(
            _open(location),
            _catch_up(location),
            _catch_up(location, rebuild=True),
            prices_for(location.home),
            report,
            since=since,
            until=until,
            sources=(source,) if source else (),
            cwds=_directory(cwd),
            timezone=timezone,
        )
    except (BadUsageQueryError, BadPriceTableError) as exc:
        raise ToolArgumentError(str(exc)) from exc
    rows = data["rows"]
    # Periods: the newest `limit`; threads: the most recently used; models, projects: the dearest.
    data["rows"] = (
        rows[-limit:] if report in ("daily", "weekly", "monthly", "session") else rows[:limit]
    )
    data["rows_total"] = len(rows)
    return data


# -- the server ---------------------------------------------------------------------------


def build_server(location: StoreLocation) -> "MCPServer":
    """The MCP server over the store at ``location``: its four read-only tools."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import ToolAnnotations
    from pydantic import Field

    server = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS, log_level="WARNING")
    read_only = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)

    def run(fn: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = fn(location, **kwargs)
        except ToolArgumentError as exc:
            raise ToolError(str(exc)) from exc
        return result

    Since = Annotated[
        str | None,
        Field(
            description="An ISO date or time (2026-10-05, 2026-10-05T09:00) or an age (30m, 12h,"
            " 7d, 2w)."
        ),
    ]
    Cwd = Annotated[
        str | None, Field(description="Only threads whose working directory is exactly this path.")
    ]
    Source = Annotated[
        str | None, Field(description="Only threads from this agent, e.g. 'claude-code'.")
    ]

    @server.tool(annotations=read_only)
    def search(
        query: Annotated[
            str, Field(description="Words to find; an item must contain all of them.")
        ],
        limit: Annotated[int, Field(ge=1, le=50, description="At most this many hits.")] = 10,
        source: Source = None,
        cwd: Cwd = None,
        since: Annotated[
            str | None,
            Field(
                description="Only threads active since then: an ISO date or time"
                " (2026-10-05, 2026-10-05T09:00) or an age (30m, 12h, 7d, 2w)."
            ),
        ] = None,
    ) -> dict[str, Any]:
        """Full-text search over every message, reasoning, tool call and tool result in the
        archive, best match first. Each hit gives the thread id, the item's position in its
        thread, the role, the thread's title and cwd, and a snippet with the matched words in
        **bold**. Follow up with read_thread(thread_id, start=position - 2) to see the context."""
        return run(_tools.search, query=query, limit=limit, source=source, cwd=cwd, since=since)

    @server.tool(annotations=read_only)
    def list_threads(
        cwd: Cwd = None,
        source: Source = None,
        since: Since = None,
        until: Since = None,
        parent: Annotated[
            str | None,
            Field(description="Only the sub-agent threads of this thread (id or prefix)."),
        ] = None,
        top_level: Annotated[bool, Field(description="Leave out sub-agent threads.")] = False,
        sort: Annotated[
            Literal["updated", "created"], Field(description="Newest first by this time.")
        ] = "updated",
        limit: Annotated[int, Field(ge=1, le=100, description="Threads per page.")] = 20,
        cursor: Annotated[
            str | None, Field(description="next_cursor from the previous page, to continue.")
        ] = None,
    ) -> dict[str, Any]:
        """Threads (conversations) newest first, a page at a time: id, title, cwd, agent,
        branch, created and updated times, item count, parent (for sub-agents). since/until
        apply to the sort time. Pass next_cursor back as cursor for the next page (null when
        there is none)."""
        return run(
            _tools.list_threads,
            cwd=cwd,
            source=source,
            since=since,
            until=until,
            parent=parent,
            top_level=top_level,
            sort=sort,
            limit=limit,
            cursor=cursor,
        )

    @server.tool(annotations=read_only)
    def read_thread(
        thread_id: Annotated[str, Field(description="A thread id, or a unique prefix of one.")],
        start: Annotated[int, Field(ge=0, description="Position of the first item (0-based).")] = 0,
        limit: Annotated[int, Field(ge=1, le=100, description="Items per page.")] = 10,
        max_chars: Annotated[
            int,
            Field(
                ge=100,
                le=MAX_TEXT_LIMIT,
                description="Cut each item's text to this many characters (its full size is"
                " given as size, and truncated says whether it was cut).",
            ),
        ] = TEXT_LIMIT,
    ) -> dict[str, Any]:
        """A page of one thread's history by position: user and assistant messages, reasoning,
        tool calls (tool name and input) and tool results (output), system notes, each with
        its position, type, time and text. next_start is the position to continue from (null
        at the end)."""
        return run(
            _tools.read_thread, thread_id=thread_id, start=start, limit=limit, max_chars=max_chars
        )

    @server.tool(annotations=read_only)
    def usage(
        report: Annotated[
            Literal["daily", "weekly", "monthly", "session", "model", "project"],
            Field(
                description="Group by day, week (from Monday), month, top-level thread (with its"
                " sub-agents), model or project (cwd)."
            ),
        ] = "daily",
        since: Annotated[
            str | None,
            Field(description="A date (whole local day, inclusive), a time, or an age (7d)."),
        ] = None,
        until: Annotated[
            str | None, Field(description="A date (inclusive), a time, or an age.")
        ] = None,
        source: Source = None,
        cwd: Cwd = None,
        timezone: Annotated[
            str | None, Field(description="IANA zone for days (default: the server's).")
        ] = None,
        limit: Annotated[
            int,
            Field(
                ge=1,
                le=200,
                description="At most this many rows (the newest periods, the"
                " most recent threads, the dearest models or projects).",
            ),
        ] = 14,
    ) -> dict[str, Any]:
        """Token usage and estimated cost (USD, from Threadline's price table): input, output,
        cache write, cache read and reasoning tokens per row, with per-model breakdowns and a
        totals row over every row matched (not only those returned; rows_total says how many).
        Each API response counts once, however many transcripts repeat it. Models the price
        table does not know are listed in unpriced_models and left out of cost."""
        return run(
            _tools.usage,
            report=report,
            since=since,
            until=until,
            source=source,
            cwd=cwd,
            timezone=timezone,
            limit=limit,
        )

    return server


class _Tools:
    """The plain functions, by name (the server's tool functions shadow them)."""

    search = staticmethod(search)
    list_threads = staticmethod(list_threads)
    read_thread = staticmethod(read_thread)
    usage = staticmethod(usage)


_tools = _Tools()


def serve(location: StoreLocation, http_port: int | None = None) -> None:
    """Serve on stdio, or on streamable HTTP at 127.0.0.1:PORT/mcp."""
    server = build_server(location)
    if http_port is None:
        server.run("stdio")
    else:
        server.run("streamable-http", host="127.0.0.1", port=http_port)
