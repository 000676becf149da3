"""``threadline import``: find the transcripts, skip the unchanged ones, import the rest.

An unchanged re-import (every source's size and mtime as the ledger has them)
is the common case and the one to keep fast, ~40 ms: it reads the ledger over
a plain connection and imports no event-sourcing, pydantic, rich or orjson.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import closing
from typing import TYPE_CHECKING

from threadline.adapters.claude_code.discovery import default_roots, discover
from threadline.adapters.cli.common import UserError, location_for, store_for
from threadline.adapters.cli.main import EXIT_FAILED, EXIT_OK, EXIT_PROBLEMS, log_warnings
from threadline.adapters.cli.summary import import_json, import_summary
from threadline.adapters.persistence.sqlite_queries import StoreNotFoundError
from threadline.adapters.queries import open_queries
from threadline.application.reports import ImportReport, SourceReport

if TYPE_CHECKING:
    from threadline.application.sources import SourceFile


def cmd_import(args: argparse.Namespace) -> int:
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
        import_json(report)
    else:
        import_summary(report)
    if report.store_error:
        saved = sum(report.count(o) for o in ("imported", "appended", "replaced", "rejected"))
        print(
            f"threadline: cannot write to the store in {location_for(args).where}: "
            f"{report.store_error}",
            file=sys.stderr,
        )
        return EXIT_PROBLEMS if saved else EXIT_FAILED
    return EXIT_PROBLEMS if report.all_problems or report.count("failed") else EXIT_OK


def _recorded_versions(args: argparse.Namespace) -> dict[str, tuple[int, int, str | None]]:
    """What the ledger says was imported; creates the store on first use."""
    try:
        with closing(open_queries(location_for(args))) as queries:
            return queries.recorded_versions()
    except StoreNotFoundError:
        with store_for(args):
            return {}
    except Exception:  # tables not there yet (SQLite or PostgreSQL): nothing recorded
        return {}


def _read_models(args: argparse.Namespace) -> tuple[str, ...]:
    """What an import leaves current: every read model, so that the first ``search`` is as
    fast as the next (ADR 0015); without the search index given ``--no-index``."""
    from threadline.application.read_queries import ALL_PROJECTIONS, EAGER_PROJECTIONS

    return EAGER_PROJECTIONS if getattr(args, "no_index", False) else ALL_PROJECTIONS


def _import_changed(
    args: argparse.Namespace, sources: list[SourceFile], report: ImportReport
) -> None:
    from threadline.adapters import import_workers
    from threadline.adapters.cli import render

    log_warnings()
    progress = None if args.json else render.ImportProgress.start()
    try:
        if progress:
            progress.found(sources)
        report.sources.extend(
            import_workers.import_sources(
                location_for(args),
                sources,
                args.jobs,
                on_done=progress.done if progress else None,
                catch_up=_read_models(args),
            )
        )
    finally:
        if progress:
            progress.stop()
    failed = next((s.store_error for s in report.sources if s.store_error), None)
    if failed:
        report.store_error = failed
    if any(s.outcome not in ("skipped", "failed") for s in report.sources):
        from eventsourcing.persistence import PersistenceError

        from threadline.application.importing import store_error_reason, with_store_retries

        try:  # what was saved stays saved; the read models also catch up on the next read
            with store_for(args) as store:
                names = _read_models(args)
                with_store_retries(
                    "catching up the read models", lambda: store.catch_up(names=names)
                )
        except PersistenceError as exc:
            report.store_error = report.store_error or store_error_reason(exc)
