"""The CLI's read and maintenance commands: each runs a use case and renders its result.

Read commands (threads, show, ledger, search) query the read models over a
plain connection (read-only SQLite, or PostgreSQL), and load the event-sourcing
stack only when the read models must first catch up with the events.
``import`` is in ``import_command``, ``session`` in ``session_commands``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from threadline.adapters.cli.common import UserError, location_for, print_json, store_for
from threadline.adapters.cli.main import EXIT_OK, EXIT_PROBLEMS
from threadline.adapters.persistence.sqlite_queries import (
    MARK_END,
    MARK_START,
    QueryBlobs,
    StoreNotFoundError,
)
from threadline.adapters.queries import open_queries
from threadline.application.read_queries import (
    ALL_PROJECTIONS,
    EAGER_PROJECTIONS,
    BadQueryError,
    Cursor,
    SearchQuery,
    ThreadQuery,
    parse_moment,
    row_cursor,
)

if TYPE_CHECKING:
    from threadline.adapters.queries import Queries


@contextmanager
def read_models_for(
    args: argparse.Namespace, names: Sequence[str] = EAGER_PROJECTIONS
) -> Iterator[Queries]:
    """Up-to-date read models: caught up first if a write left them behind."""
    location = location_for(args)
    try:
        with closing(open_queries(location)) as probe:
            behind = probe.is_behind(names)
    except StoreNotFoundError:
        behind = True
    if behind:
        from threadline.adapters.cli import render

        # Indexing a large import for search takes seconds: show it on a terminal.
        with store_for(args) as store, render.EventProgress.start("catching up") as progress:
            store.catch_up(names=list(names), progress=progress.update)
    with closing(open_queries(location)) as queries:
        yield queries


def thread_query(args: argparse.Namespace, queries: Queries) -> ThreadQuery:
    try:
        return ThreadQuery(
            cwds=tuple(_directory(c) for c in args.cwd),
            sources=tuple(args.source),
            since=parse_moment(args.since) if args.since else None,
            until=parse_moment(args.until) if args.until else None,
            archived=None if args.all else args.archived,
            parent=_one_thread(queries, args.parent) if args.parent else None,
            top_level=args.top_level,
            sort=args.sort,
            direction=args.order,
            limit=args.limit,
            after=Cursor.decode(args.cursor) if args.cursor else None,
        )
    except BadQueryError as exc:
        raise UserError(str(exc)) from exc


def _directory(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path))


def _one_thread(queries: Queries, prefix: str) -> str:
    matches = queries.find_threads(prefix)
    if not matches:
        raise UserError(f"no thread {prefix!r}", EXIT_PROBLEMS)
    if len(matches) > 1:
        raise UserError(f"{prefix!r} matches more than one thread; give more of the id")
    return matches[0]


TABLE_PAGE = 50
"""Threads in the table when no --limit is given; the rest are a --cursor away."""


def cmd_threads(args: argparse.Namespace) -> int:
    import orjson

    if args.limit is None and not args.json:
        args.limit = TABLE_PAGE
    with read_models_for(args) as queries:
        query = thread_query(args, queries)
        rows = queries.threads(query)
    more = query.limit is not None and len(rows) > query.limit
    rows = rows[: query.limit]
    for row in rows:
        row["models"] = orjson.loads(row["models"])
        row["cursor"] = row_cursor(query, row)
    if args.json:
        print_json(rows)
    elif not rows:
        filtered = query != ThreadQuery(limit=query.limit)
        empty = "no threads match" if filtered else "no threads yet: try `threadline import`"
        print(empty, file=sys.stderr)
    else:
        from threadline.adapters.cli.table import threads_table

        threads_table(rows)
    if more and not args.json:
        print(
            f"more: threadline threads --cursor {rows[-1]['cursor']} (and the same options)",
            file=sys.stderr,
        )
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    import orjson

    from threadline.adapters.persistence.compression import decode_state
    from threadline.application.history import SourceLines, thread_items

    if args.start < 0 or (args.limit is not None and args.limit < 1):
        raise UserError("--from must be at least 0 and --limit at least 1")
    if args.json and args.markdown:
        raise UserError("choose one of --json and --markdown")
    with read_models_for(args) as queries:
        thread_id = _one_thread(queries, args.thread_id)
        thread = queries.thread(thread_id)
        assert thread is not None
        lines = SourceLines(QueryBlobs(queries))
        items = thread_items(queries, decode_state, lines, thread_id, args.start, args.limit)
    thread["models"] = orjson.loads(thread["models"])
    last = items[-1]["position"] if items else args.start - 1
    next_position = last + 1 if last + 1 < thread["item_count"] else None
    if args.json:
        print_json({"thread": thread, "items": items, "next_position": next_position})
    elif args.markdown:
        from threadline.adapters.cli import render

        sys.stdout.write(render.markdown(thread, items, full=args.full))
    else:
        from threadline.adapters.cli import render

        render.history(thread, items, full=args.full)
        if next_position is not None and args.limit is not None:
            print(f"more: threadline show {thread_id[:8]} --from {next_position}", file=sys.stderr)
    return EXIT_OK


SEARCH_LIMIT = 20


def cmd_search(args: argparse.Namespace) -> int:
    try:
        query = SearchQuery(
            args.query,
            cwds=tuple(_directory(c) for c in args.cwd),
            sources=tuple(args.source),
            limit=SEARCH_LIMIT if args.limit is None else args.limit,
        )
    except BadQueryError as exc:
        raise UserError(str(exc)) from exc
    with read_models_for(args, ALL_PROJECTIONS) as queries:
        rows = queries.search(query)
    if args.json:
        for row in rows:
            row["snippet"] = row["snippet"].replace(MARK_START, "**").replace(MARK_END, "**")
            row["score"] = -row.pop("rank")
        print_json(rows)
    else:
        from threadline.adapters.cli import render

        render.search_results(rows, MARK_START, MARK_END)
    return EXIT_OK


def cmd_ledger(args: argparse.Namespace) -> int:
    with read_models_for(args) as queries:
        rows = queries.ledger()
    if args.json:
        print_json(rows)
    else:
        from threadline.adapters.cli import render

        render.ledger_table(rows)
    return EXIT_OK


def _known_names(names: Sequence[str]) -> list[str]:
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
