"""``threadline import``: its arguments, and the import use case's result as counts or JSON.

An unchanged re-import (every source's size and mtime as the ledger has them) is
the common case and the one to keep fast (ADR 0004): it reads the ledger over a plain
connection and imports no event-sourcing, pydantic, rich or orjson.
"""

from __future__ import annotations

import argparse
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
    p = sub.add_parser(
        "import", help="import coding-agent transcripts (Claude Code, Codex, OpenCode, Gemini CLI)"
    )
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="an agent's home, a directory in it, or one transcript, recognised by its shape "
        "(default: every agent's home that exists: $CLAUDE_CONFIG_DIR, else ~/.claude and "
        "~/.config/claude; $CODEX_HOME or ~/.codex; $XDG_DATA_HOME/opencode or "
        "~/.local/share/opencode; ~/.gemini)",
    )
    p.add_argument(
        "--agent",
        action="append",
        default=[],
        metavar="NAME",
        help="only this agent's transcripts (repeatable): claude-code, codex, opencode, gemini",
    )
    p.add_argument(
        "-j", "--jobs", type=int, default=5, help="sources in flight at once (default 5)"
    )
    p.add_argument("--json", action="store_true", help="print one machine-readable result")
    p.add_argument("--no-index", action="store_true", help="leave the search index for later")
    p.set_defaults(run=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    from threadline.adapters.cli.summary import import_json, import_summary
    from threadline.adapters.ledger import RecordedVersions
    from threadline.adapters.sources import Sources, UnknownAgentError
    from threadline.application.import_transcripts import import_transcripts

    if args.jobs < 1:
        raise UserError("--jobs must be at least 1")
    try:
        sources = Sources(args.agent)
    except UnknownAgentError as exc:
        raise UserError(str(exc)) from None
    if args.paths:
        roots = [root for path in args.paths for root in sources.roots_of(path)]
    else:
        roots = sources.default_roots()
    if not roots:
        print(
            f"threadline: no transcripts found (looked in {', '.join(sources.looked_in())})",
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
            roots,
            sources.discover,
            worker_processes,
            RecordedVersions(location),
            gone=sources.gone,
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
