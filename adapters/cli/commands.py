"""The CLI's commands: each runs a use case and renders its result.

Read commands (threads, show, ledger) query the read models over a plain
read-only SQLite connection, and load the event-sourcing stack only when the
read models must first catch up with the events.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
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
    import time

    from adapters.claude_code.discovery import default_roots, discover
    from application.reports import ImportReport, SourceReport

    if args.jobs < 1:
        raise UserError("--jobs must be at least 1")
    started = time.perf_counter()
    paths = args.paths or [root for root in default_roots() if os.path.isdir(root)]
    if not paths:
        print(
            "threadline: no Claude Code transcripts found (looked in "
            f"{', '.join(default_roots())})",
            file=sys.stderr,
        )
        return EXIT_OK
    sources, problems = discover(paths)
    report = ImportReport(problems=problems)
    # The cheap skip, before loading the event store: a source whose size and mtime
    # are those the ledger recorded is unchanged. A ledger behind the events can only
    # make this do more work, never skip a change.
    recorded = _recorded_versions(args)
    changed = []
    for source in sources:
        known = recorded.get(source.path)
        if known is not None and known[:2] == (source.size, source.mtime_ns):
            report.sources.append(SourceReport(source.path, "skipped", known[2]))
        else:
            changed.append(source)
    if changed:
        _import_changed(args, changed, report)
    report.seconds = time.perf_counter() - started
    if args.json:
        print_json(report.as_json())
    else:
        from adapters.cli import render

        render.import_summary(report)
    return EXIT_PROBLEMS if report.all_problems or report.count("failed") else EXIT_OK


def _recorded_versions(args: argparse.Namespace) -> dict[str, tuple[int, int, str | None]]:
    """What the ledger says was imported; creates the store on first use."""
    try:
        with closing(ReadModelQueries(resolve_home(args.home))) as queries:
            return queries.recorded_versions()
    except StoreNotFoundError:
        with store_for(args):
            return {}
    except sqlite3.Error:
        return {}


def _import_changed(args: argparse.Namespace, sources: list[Any], report: Any) -> None:
    from adapters import import_workers
    from adapters.cli import render

    progress = None if args.json else render.ImportProgress.start()
    try:
        if progress:
            progress.found(sources)
        report.sources.extend(
            import_workers.import_sources(
                resolve_home(args.home),
                sources,
                args.jobs,
                on_done=progress.done if progress else None,
            )
        )
    finally:
        if progress:
            progress.stop()
    if any(s.outcome not in ("skipped", "failed") for s in report.sources):
        with store_for(args) as store:
            store.catch_up()


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
