"""The CLI's commands: each runs a use case and renders its result.

Read commands (threads, show, ledger) query the read models over a plain
read-only SQLite connection, and load the event-sourcing stack only when the
read models must first catch up with the events.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import TYPE_CHECKING, Any

import orjson

from adapters.cli.main import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE
from adapters.home import resolve_home
from adapters.persistence.sqlite_queries import QueryBlobs, ReadModelQueries, StoreNotFoundError

if TYPE_CHECKING:
    from adapters.store import Store


class UserError(Exception):
    def __init__(self, message: str, status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.status = status


@contextmanager
def store_for(args: argparse.Namespace) -> Iterator[Store]:
    from adapters.store import open_store

    store = open_store(args.home)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def read_models_for(args: argparse.Namespace) -> Iterator[ReadModelQueries]:
    """Up-to-date read models: caught up first if a write left them behind."""
    home = resolve_home(args.home)
    try:
        with closing(ReadModelQueries(home)) as probe:
            behind = probe.is_behind()
    except StoreNotFoundError:
        behind = True
    if behind:
        with store_for(args) as store:
            store.catch_up()
    with closing(ReadModelQueries(home)) as queries:
        yield queries


def print_json(data: Any) -> None:
    sys.stdout.buffer.write(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.flush()


def cmd_import(args: argparse.Namespace) -> int:
    from adapters.claude_code.reader import ClaudeCodeReader, default_roots
    from adapters.cli import render
    from application.importing import TranscriptImporter

    if args.jobs < 1:
        raise UserError("--jobs must be at least 1")
    paths = args.paths or [root for root in default_roots() if os.path.isdir(root)]
    if not paths:
        print(
            "threadline: no Claude Code transcripts found (looked in "
            f"{', '.join(default_roots())})",
            file=sys.stderr,
        )
        return EXIT_OK
    with store_for(args) as store:
        importer = TranscriptImporter(
            store.app,
            ClaudeCodeReader(),
            store.blobs,
            concurrency=args.jobs,
            catch_up=store.catch_up,
        )
        progress = None if args.json else render.ImportProgress.start()
        try:
            report = importer.run(
                paths,
                on_found=progress.found if progress else None,
                on_done=progress.done if progress else None,
            )
        finally:
            if progress:
                progress.stop()
    if args.json:
        print_json(render.import_report_json(report))
    else:
        render.import_summary(report)
    return EXIT_PROBLEMS if report.all_problems or report.count("failed") else EXIT_OK


def cmd_threads(args: argparse.Namespace) -> int:
    with read_models_for(args) as queries:
        rows = queries.threads(limit=args.limit)
    for row in rows:
        row["models"] = orjson.loads(row["models"])
    if args.json:
        print_json(rows)
    else:
        from adapters.cli import render

        render.threads_table(rows)
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from application.history import SourceLines, thread_items

    with read_models_for(args) as queries:
        matches = queries.find_threads(args.thread_id)
        if not matches:
            raise UserError(f"no thread {args.thread_id!r}", EXIT_PROBLEMS)
        if len(matches) > 1:
            raise UserError(f"{args.thread_id!r} matches more than one thread; give more of the id")
        thread = queries.thread(matches[0])
        assert thread is not None
        lines = SourceLines(QueryBlobs(queries))
        items = thread_items(queries, orjson.loads, lines, matches[0])
    thread["models"] = orjson.loads(thread["models"])
    if args.json:
        print_json({"thread": thread, "items": items})
    else:
        from adapters.cli import render

        render.history(thread, items)
    return EXIT_OK


def cmd_ledger(args: argparse.Namespace) -> int:
    with read_models_for(args) as queries:
        rows = queries.ledger()
    if args.json:
        print_json(rows)
    else:
        from adapters.cli import render

        render.ledger_table(rows)
    return EXIT_OK


def cmd_rebuild(args: argparse.Namespace) -> int:
    from application.projections import PROJECTIONS

    unknown = [n for n in args.names if n not in PROJECTIONS]
    if unknown:
        raise UserError(
            f"no read model named {', '.join(unknown)} (known: {', '.join(PROJECTIONS)})"
        )
    with store_for(args) as store:
        seen = store.rebuild(names=args.names or None)
    print(f"rebuilt {', '.join(args.names or PROJECTIONS)} from {seen} events", file=sys.stderr)
    return EXIT_OK
