"""Where Threadline keeps its store."""

from __future__ import annotations

import os

DEFAULT_HOME = "~/.threadline"


def resolve_home(home: str | None = None) -> str:
    """``--home``, else ``$THREADLINE_HOME``, else ``~/.threadline``; absolute."""
    chosen = home or os.environ.get("THREADLINE_HOME") or DEFAULT_HOME
    return os.path.abspath(os.path.expanduser(chosen))


class StoreUnavailableError(Exception):
    """The store cannot be opened or created; nothing can be done."""
