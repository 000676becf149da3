"""``threadline``: import agent transcripts, then read threads, history and the ledger.

Exit status: 0 when all went well; 1 when some sources had problems (each is
reported with file:line); 2 for a usage error; 3 when nothing could be done
(e.g. the store cannot be opened). Heavy modules are imported per command, so
that a quick command starts quickly.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from typing import Any

from threadline.adapters.cli.common import EXIT_FAILED, EXIT_OK, UserError, location_for

COMMANDS = {
    "import": "import_command",
    "threads": "commands",
    "show": "commands",
    "search": "commands",
    "ledger": "commands",
    "rebuild": "commands",
    "project": "commands",
    "rename": "names_command",
    "archive": "names_command",
    "unarchive": "names_command",
    "session": "session_commands",
    "usage": "usage_command",
    "mcp": "mcp_command",
    "serve": "serve_command",
    "export": "export_command",
    "restore": "restore_command",
    "vacuum": "vacuum_command",
}
"""Each command, and the module in ``adapters/cli`` that adds its sub-parser, in the
order ``--help`` lists them."""


class Parser(argparse.ArgumentParser):
    """argparse's parser, its help as wide as the terminal, measured as ``shutil`` does.

    argparse makes a help formatter for every argument added (to check its metavar), and
    each measures the terminal with ``shutil.get_terminal_size``: importing ``shutil`` (it
    loads bz2, lzma and zlib) cost ~2 ms of a run that prints no help (ADR 0004). The
    sub-parsers are of this class too (``add_subparsers`` makes them of the parser's own)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _help_formatter)
        super().__init__(*args, **kwargs)


def _help_formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.HelpFormatter(prog, width=terminal_columns() - 2)


def terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``: ``$COLUMNS``, else the terminal's, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    if sys.__stdout__ is None:
        return 80
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
    except (ValueError, OSError):  # closed, detached or not a terminal
        return 80


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The global options and the sub-commands: only ``command``'s when it is known (all
    seventeen take ~2 ms more to build, ADR 0004), else every command's."""
    parser = Parser(
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
    modules = [COMMANDS[command]] if command in COMMANDS else dict.fromkeys(COMMANDS.values())
    for name in modules:  # not importlib.import_module: -X importtime does not list those
        module = __import__(f"threadline.adapters.cli.{name}", fromlist=["add_parsers"])
        module.add_parsers(sub)
    return parser


def command_in(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names after the global options, if plain to see: None for
    anything else first (``--help``, an abbreviated or unknown option, no command)."""
    words = iter(argv)
    for word in words:
        if word in ("--home", "--database-url"):
            next(words, None)
        elif not word.startswith(("--home=", "--database-url=")):
            return word if word in COMMANDS else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: the program's own); its exit status.

    Run as the program (no ``argv``), what is still alive when it returns is frozen
    (``gc.freeze``): the process ends, and the interpreter's last collection would look
    at every object in it for nothing (~4 ms of CPU on an unchanged re-import, ADR 0004).
    A caller that passes ``argv`` (the tests) goes on living: nothing is frozen for it."""
    try:
        return run(sys.argv[1:] if argv is None else argv)
    finally:
        if argv is None:
            gc.freeze()


def run(argv: Sequence[str]) -> int:
    args = build_parser(command_in(argv)).parse_args(argv)
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
