"""``threadline import``: its arguments, and the import use case's result as counts or JSON.

An unchanged re-import (every source's size and mtime as the ledger has them) is
the common case and the one to keep fast, ~40 ms: it reads the ledger over a plain
connection and imports no event-sourcing, pydantic, rich or orjson.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from threadline.adapters.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_PROBLEMS,
    UserError,
    location_for,
    log_warnings,
)

if TYPE_CHECKING:
    from threadline.adapters.cli.render import ImportProgress
    from threadline.application.import_transcripts import ImportExecutor
    from threadline.application.sources import SourceFile


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("import", help="import Claude Code transcripts into the store")
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="a Claude home or projects root, a project directory, or a .jsonl file "
        "(default: every root in $CLAUDE_CONFIG_DIR, else ~/.claude and "
        "~/.config/claude)",
    )
    p.add_argument(
        "-j", "--jobs", type=int, default=5, help="sources in flight at once (default 5)"
    )
    p.add_argument("--json", action="store_true", help="print one machine-readable result")
    p.add_argument("--no-index", action="store_true", help="leave the search index for later")
    p.set_defaults(run=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    from threadline.adapters.claude_code.discovery import default_roots, discover
    from threadline.adapters.cli.summary import import_json, import_summary
    from threadline.adapters.ledger import RecordedVersions
    from threadline.application.import_transcripts import import_transcripts

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
    location = location_for(args)

    def worker_processes() -> ImportExecutor:
        from threadline.adapters.import_workers import WorkerProcesses
        from threadline.application.read_queries import EAGER_PROJECTIONS, SEARCH_PROJECTIONS

        # The search index current when the import ends, so the first search is as fast as
        # the next (ADR 0015); --no-index leaves it to the first search. Usage stays lazy
        # (ADR 0014): the first `usage` fills it.
        read_models = EAGER_PROJECTIONS if args.no_index else SEARCH_PROJECTIONS
        return WorkerProcesses(location, args.jobs, read_models)

    progress: ImportProgress | None = None

    def found(sources: list[SourceFile]) -> None:
        nonlocal progress
        log_warnings()
        if not args.json:
            from threadline.adapters.cli.render import ImportProgress

            progress = ImportProgress.start()
            progress.found(sources)

    try:
        report = import_transcripts(
            paths,
            discover,
            worker_processes,
            RecordedVersions(location),
            on_found=found,
            on_done=lambda source: progress.done(source) if progress else None,
        )
    finally:
        if progress:
            progress.stop()
    if args.json:
        import_json(report)
    else:
        import_summary(report)
    if report.store_error:
        saved = sum(report.count(o) for o in ("imported", "appended", "replaced", "rejected"))
        print(
            f"threadline: cannot write to the store in {location.where}: {report.store_error}",
            file=sys.stderr,
        )
        return EXIT_PROBLEMS if saved else EXIT_FAILED
    return EXIT_PROBLEMS if report.all_problems or report.count("failed") else EXIT_OK
