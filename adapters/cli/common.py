"""What every command uses: the store's location, the store itself, JSON output, user errors."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from threadline.adapters.cli.main import EXIT_USAGE, log_warnings
from threadline.adapters.home import StoreLocation, resolve_location

if TYPE_CHECKING:
    from threadline.adapters.store import Store


class UserError(Exception):
    def __init__(self, message: str, status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.status = status


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
