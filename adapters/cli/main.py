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

from threadline.adapters.cli import (
    commands,
    export_command,
    import_command,
    mcp_command,
    names_command,
    restore_command,
    serve_command,
    session_commands,
    usage_command,
    vacuum_command,
)
from threadline.adapters.cli.common import EXIT_FAILED, EXIT_OK, UserError, location_for


def build_parser() -> argparse.ArgumentParser:
    """The global options; each command module adds its own sub-commands."""
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
    import_command.add_parsers(sub)
    commands.add_parsers(sub)
    names_command.add_parsers(sub)
    session_commands.add_parsers(sub)
    usage_command.add_parsers(sub)
    mcp_command.add_parsers(sub)
    serve_command.add_serve_parser(sub)
    export_command.add_export_parser(sub)
    restore_command.add_parsers(sub)
    vacuum_command.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "session":
        return int(args.run(args))
    from threadline.adapters.home import StoreUnavailableError

    try:
        return int(args.run(args))
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
        from threadline.application.store_faults import store_error_reason

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
