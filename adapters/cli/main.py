"""``threadline``: import agent transcripts, then read threads, history and the ledger.

Exit status: 0 when all went well; 1 when some sources had problems (each is
reported with file:line); 2 for a usage error; 3 when nothing could be done
(e.g. the store cannot be opened). Heavy modules are imported per command, so
that a quick command starts quickly.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_FAILED = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="threadline",
        description="An event-sourced store for coding-agent sessions.",
    )
    parser.add_argument(
        "--home", help="Threadline home (default: $THREADLINE_HOME or ~/.threadline)"
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="a shared PostgreSQL store, postgresql://user@host:port/dbname "
        "(default: $THREADLINE_DATABASE_URL, else the SQLite file in the home)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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

    p = sub.add_parser("show", help="show a thread's history")
    p.add_argument("thread_id", metavar="THREAD_ID", help="a thread id (a unique prefix is enough)")
    p.add_argument("--from", dest="start", type=int, default=0, help="first position (default 0)")
    p.add_argument("--limit", type=int, default=None, help="at most this many items")
    p.add_argument("--full", action="store_true", help="tool calls and results in full")
    p.add_argument("--json", action="store_true")
    p.add_argument("--markdown", action="store_true", help="export as Markdown")

    p = sub.add_parser("search", help="full-text search across every thread's history")
    p.add_argument("query", metavar="QUERY", help="words to find (all of them)")
    p.add_argument("--cwd", action="append", default=[], help="only threads in this directory")
    p.add_argument("--source", action="append", default=[], help="only threads from this agent")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("ledger", help="which version of each source is in which thread")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("rebuild", help="drop and replay read models from the event store")
    p.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="threads, history, ledger, usage, search (default all)",
    )

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
    from threadline.adapters.cli.session_commands import add_session_parser

    add_session_parser(sub)
    from threadline.adapters.cli.mcp_command import add_mcp_parser
    from threadline.adapters.cli.usage_command import add_usage_parser

    add_usage_parser(sub)
    add_mcp_parser(sub)
    return parser


def log_warnings() -> None:
    """Warnings (a store retry) as one plain line each; never a record's content.

    Called by the commands that open the store: an unchanged re-import, which only
    reads the ledger, does not pay for importing ``logging``.
    """
    import logging

    logging.basicConfig(level=logging.WARNING, format="threadline: %(message)s")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "session":
        from threadline.adapters.cli.session_commands import cmd_session

        return cmd_session(args)
    from threadline.adapters.cli.common import UserError, location_for
    from threadline.adapters.home import StoreUnavailableError

    if args.command == "import":
        from threadline.adapters.cli.import_command import cmd_import as command
    elif hasattr(args, "handler"):
        command = args.handler
    else:
        from threadline.adapters.cli import commands

        command = getattr(commands, f"cmd_{args.command}")
    try:
        return int(command(args))
    except StoreUnavailableError as exc:
        print(f"threadline: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except UserError as exc:
        print(f"threadline: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        print("threadline: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        if not _is_store_error(exc):
            raise
        from threadline.application.importing import store_error_reason

        where = location_for(args).where
        print(
            f"threadline: the store in {where} failed: {store_error_reason(exc)}", file=sys.stderr
        )
        return EXIT_FAILED


def _is_store_error(exc: Exception) -> bool:
    """The library's persistence errors, or the read side's own SQLite errors (only loaded
    modules can have raised one: nothing is imported to ask)."""
    kinds = [
        getattr(sys.modules.get(module), name, None)
        for module, name in (
            ("eventsourcing.persistence", "PersistenceError"),
            ("sqlite3", "Error"),
            ("psycopg", "Error"),
        )
    ]
    return any(kind is not None and isinstance(exc, kind) for kind in kinds)


if __name__ == "__main__":
    sys.exit(main())
