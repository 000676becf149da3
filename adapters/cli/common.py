"""What every command uses: exit codes, user errors, warnings as plain lines, the store's
location, the store itself, JSON output. Imports no other CLI module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from threadline.adapters.home import StoreLocation, resolve_location

if TYPE_CHECKING:
    from threadline.adapters.store import Store

EXIT_OK = 0
EXIT_PROBLEMS = 1
"""Some sources had problems (each reported with file:line), or a thread was not found."""
EXIT_USAGE = 2
EXIT_FAILED = 3
"""Nothing could be done (e.g. the store cannot be opened)."""


class UserError(Exception):
    def __init__(self, message: str, status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.status = status


def log_warnings() -> None:
    """Warnings (a store retry) as one plain line each; never a record's content.

    Called by the commands that open the store: an unchanged re-import, which only
    reads the ledger, does not pay for importing ``logging``.
    """
    import logging

    logging.basicConfig(level=logging.WARNING, format="threadline: %(message)s")


def location_for(args: argparse.Namespace) -> StoreLocation:
    """``--home`` and ``--database-url``, else their environment variables and defaults."""
    return resolve_location(args.home, args.database_url)


@contextmanager
def store_for(args: argparse.Namespace) -> Iterator[Store]:
    from threadline.adapters.store import open_store

    log_warnings()
    store = open_store(location_for(args))
    try:
        yield store
    finally:
        store.close()


def print_json(data: Any) -> None:
    import orjson  # not at the top: an unchanged re-import never needs it

    sys.stdout.buffer.write(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.flush()
