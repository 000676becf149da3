"""The CLI's read and maintenance commands: their arguments, the use case each runs
(``application.views``), and its result rendered.

Read commands (threads, show, ledger, search) query the read models over a
plain connection (read-only SQLite, or PostgreSQL), and load the event-sourcing
stack only when the read models must first catch up with the events.
``import`` is in ``import_command``, ``session`` in ``session_commands``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from threadline.adapters.cli.common import (
    EXIT_OK,
    EXIT_PROBLEMS,
    UserError,
    location_for,
    log_warnings,
    print_json,
    store_for,
)
from threadline.application import views

if TYPE_CHECKING:
    from threadline.application.read_queries import ThreadQuery
    from threadline.application.views import ReadModels


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("threads", help="list threads, newest first")
    p.add_argument("--cwd", action="append", default=[], help="only threads in this directory")
    p.add_argument("--source", action="append", default=[], help="only threads from this agent")
    p.add_argument("--since", help="an ISO date or datetime, or an age (30m, 12h, 7d, 2w)")
    p.add_argument("--until", help="an ISO date or datetime, or an age (30m, 12h, 7d, 2w)")
    p.add_argument("--sort", choices=("created", "updated"), default="updated")
    p.add_argument("--order", choices=("asc", "desc"), default="desc")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--cursor", help="continue after this row (from a previous page)")
    p.add_argument("--archived", action="store_true", help="archived threads only")
    p.add_argument("--all", action="store_true", help="archived threads too")
    p.add_argument("--parent", help="only the sub-agent threads of this thread")
    p.add_argument("--top-level", action="store_true", help="only threads without a parent")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_threads)

    p = sub.add_parser("show", help="show a thread's history")
    p.add_argument("thread_id", metavar="THREAD_ID", help="a thread id (a unique prefix is enough)")
    p.add_argument("--from", dest="start", type=int, default=0, help="first position (default 0)")
    p.add_argument("--limit", type=int, default=None, help="at most this many items")
    p.add_argument("--full", action="store_true", help="tool calls and results in full")
    p.add_argument("--json", action="store_true")
    p.add_argument("--markdown", action="store_true", help="export as Markdown")
    p.set_defaults(run=cmd_show)

    p = sub.add_parser("search", help="full-text search across every thread's history")
    p.add_argument("query", metavar="QUERY", help="words to find (all of them)")
    p.add_argument("--cwd", action="append", default=[], help="only threads in this directory")
    p.add_argument("--source", action="append", default=[], help="only threads from this agent")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_search)

    p = sub.add_parser("ledger", help="which version of each source is in which thread")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_ledger)

    p = sub.add_parser("rebuild", help="drop and replay read models from the event store")
    p.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="threads, history, ledger, usage, search (default all)",
    )
    p.set_defaults(run=cmd_rebuild)

    p = sub.add_parser("project", help="catch the read models up with the event store")
    p.add_argument(
        "--follow",
        action="store_true",
        help="keep them current until interrupted (PostgreSQL: woken by every save)",
    )
    p.add_argument(
        "--interval",
        type=float,
        default=1.0,
        help="seconds between catch-ups (PostgreSQL: at most, between saves) (default 1)",
    )
    p.set_defaults(run=cmd_project)


@contextmanager
def read_models_for(
    args: argparse.Namespace, names: Sequence[str] | None = None
) -> Iterator[ReadModels]:
    """Up-to-date read models (the eager ones unless ``names`` says): caught up first,
    with a progress bar on a terminal, if a write left them behind."""
    from threadline.adapters.queries import open_queries
    from threadline.application.read_queries import EAGER_PROJECTIONS

    location = location_for(args)
    opened = views.up_to_date(
        lambda: open_queries(location),
        catch_up_for(args),
        EAGER_PROJECTIONS if names is None else names,
    )
    with closing(opened) as read_models, user_errors():
        yield read_models


def catch_up_for(
    args: argparse.Namespace, rebuild: bool = False
) -> Callable[[Sequence[str]], None]:
    """Catches the named read models up (``rebuild``: replays them from the start), with a
    progress bar on a terminal: indexing a large import for search takes seconds."""

    def catch_up(names: Sequence[str]) -> None:
        from threadline.adapters import queries
        from threadline.adapters.cli import render

        log_warnings()
        label = "rebuilding" if rebuild else "catching up"
        with render.EventProgress.start(label) as progress:
            queries.catch_up(location_for(args), names, rebuild=rebuild, progress=progress.update)

    return catch_up


@contextmanager
def user_errors() -> Iterator[None]:
    """The read side's errors as the CLI's messages and exit codes."""
    from threadline.application.read_queries import BadQueryError

    try:
        yield
    except views.ThreadNotFoundError as exc:
        raise UserError(str(exc), EXIT_PROBLEMS) from exc
    except (views.AmbiguousThreadError, BadQueryError) as exc:
        raise UserError(str(exc)) from exc


def thread_query(args: argparse.Namespace, read_models: ReadModels) -> ThreadQuery:
    from threadline.application.read_queries import Cursor, ThreadQuery, parse_moment

    return ThreadQuery(
        cwds=tuple(_directory(c) for c in args.cwd),
        sources=tuple(args.source),
        since=parse_moment(args.since) if args.since else None,
        until=parse_moment(args.until) if args.until else None,
        archived=None if args.all else args.archived,
        parent=views.resolve_thread(read_models, args.parent) if args.parent else None,
        top_level=args.top_level,
        sort=args.sort,
        direction=args.order,
        limit=args.limit,
        after=Cursor.decode(args.cursor) if args.cursor else None,
    )


def _directory(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path))


TABLE_PAGE = 50
"""Threads in the table when no --limit is given; the rest are a --cursor away."""


def cmd_threads(args: argparse.Namespace) -> int:
    from threadline.application.read_queries import ThreadQuery

    if args.limit is None and not args.json:
        args.limit = TABLE_PAGE
    with read_models_for(args) as read_models:
        query = thread_query(args, read_models)
        page = views.list_threads(read_models, query)
    rows = page["threads"]
    if args.json:
        print_json(rows)
    elif not rows:
        filtered = query != ThreadQuery(limit=query.limit)
        empty = "no threads match" if filtered else "no threads yet: try `threadline import`"
        print(empty, file=sys.stderr)
    else:
        from threadline.adapters.cli.table import threads_table

        threads_table(rows)
    if page["next_cursor"] and not args.json:
        print(
            f"more: threadline threads --cursor {page['next_cursor']} (and the same options)",
            file=sys.stderr,
        )
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    if args.start < 0 or (args.limit is not None and args.limit < 1):
        raise UserError("--from must be at least 0 and --limit at least 1")
    if args.json and args.markdown:
        raise UserError("choose one of --json and --markdown")
    with read_models_for(args) as read_models:
        shown = views.show_thread(read_models, args.thread_id, args.start, args.limit)
    thread, items, next_position = shown["thread"], shown["items"], shown["next_position"]
    if args.json:
        print_json(shown)
    elif args.markdown:
        from threadline.adapters.cli import render

        sys.stdout.write(render.markdown(thread, items, full=args.full))
    else:
        from threadline.adapters.cli import render

        render.history(thread, items, full=args.full)
        if next_position is not None and args.limit is not None:
            short = thread["thread_id"][:8]
            print(f"more: threadline show {short} --from {next_position}", file=sys.stderr)
    return EXIT_OK


SEARCH_LIMIT = 20


def cmd_search(args: argparse.Namespace) -> int:
    from threadline.application.read_queries import SEARCH_PROJECTIONS, SearchQuery
    from threadline.application.views import MARK_END, MARK_START

    with user_errors():
        query = SearchQuery(
            args.query,
            cwds=tuple(_directory(c) for c in args.cwd),
            sources=tuple(args.source),
            limit=SEARCH_LIMIT if args.limit is None else args.limit,
        )
    with read_models_for(args, SEARCH_PROJECTIONS) as read_models:
        rows = views.search(read_models, query)
    if args.json:
        for row in rows:
            row["snippet"] = row["snippet"].replace(MARK_START, "**").replace(MARK_END, "**")
        print_json(rows)
    else:
        from threadline.adapters.cli import render

        render.search_results(rows, MARK_START, MARK_END)
    return EXIT_OK


def cmd_ledger(args: argparse.Namespace) -> int:
    with read_models_for(args) as read_models:
        rows = views.ledger(read_models)
    if args.json:
        print_json(rows)
    else:
        from threadline.adapters.cli import render

        render.ledger_table(rows)
    return EXIT_OK


def _known_names(names: Sequence[str]) -> list[str]:
    from threadline.application.read_queries import ALL_PROJECTIONS

    unknown = [n for n in names if n not in ALL_PROJECTIONS]
    if unknown:
        raise UserError(
            f"no read model named {', '.join(unknown)} (known: {', '.join(ALL_PROJECTIONS)})"
        )
    return list(names or ALL_PROJECTIONS)


def cmd_rebuild(args: argparse.Namespace) -> int:
    from threadline.adapters.cli import render

    names = _known_names(args.names)
    with store_for(args) as store, render.EventProgress.start("rebuilding") as progress:
        seen = store.rebuild(names=names, progress=progress.update)
    print(f"rebuilt {', '.join(names)} from {seen} events", file=sys.stderr)
    return EXIT_OK


class _Stopped(Exception):
    pass


def cmd_project(args: argparse.Namespace) -> int:
    """Catch every read model up; with ``--follow``, keep them current until SIGINT or SIGTERM:
    on PostgreSQL woken by each save's NOTIFY, on SQLite every ``--interval`` seconds."""
    import signal
    import threading

    if args.interval <= 0:
        raise UserError("--interval must be more than 0")
    stop = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        stop.set()

    if args.follow:
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)

    def between_pages(position: int, end: int) -> None:
        # Each page is committed before this is called: stopping here loses nothing.
        if stop.is_set():
            raise _Stopped

    from threadline.application.read_queries import ALL_PROJECTIONS

    total = 0
    with (
        store_for(args) as store,
        store.listening() if args.follow else nullcontext() as wait,
    ):
        while True:
            try:
                seen = store.catch_up(names=list(ALL_PROJECTIONS), progress=between_pages)
            except _Stopped:
                break
            total += seen
            if seen and args.follow:
                print(f"projected {seen} events", file=sys.stderr, flush=True)
            if wait is None:  # not following
                break
            wait(args.interval, stop)
            if stop.is_set():
                break
    done = "stopped" if stop.is_set() else "read models up to date"
    print(f"{done} ({total} events projected)", file=sys.stderr)
    return EXIT_OK
