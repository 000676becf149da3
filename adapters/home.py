"""Where Threadline keeps its store: a home directory, and the database the events live in."""

import os
from typing import NamedTuple

DEFAULT_HOME = "~/.threadline"
DATABASE_URL_ENV = "THREADLINE_DATABASE_URL"


def resolve_home(home: str | None = None) -> str:
    """``--home``, else ``$THREADLINE_HOME``, else ``~/.threadline``; absolute."""
    chosen = home or os.environ.get("THREADLINE_HOME") or DEFAULT_HOME
    return os.path.abspath(os.path.expanduser(chosen))


class StoreLocation(NamedTuple):
    """The home (config, prompt log, the embedded SQLite file) and, for a shared
    store, the PostgreSQL database that holds the events, blobs and read models.

    A named tuple, and ``urllib`` imported only to redact a URL: an unchanged
    re-import resolves a location and should pay for nothing more."""

    home: str
    database_url: str | None = None

    @property
    def is_postgres(self) -> bool:
        return self.database_url is not None

    @property
    def where(self) -> str:
        """For messages, after "the store in": the home, or the URL without its password."""
        return self.home if self.database_url is None else redact(self.database_url)

    def describe(self) -> str:
        """Where the store is, safe to print: a URL's password is never shown."""
        if self.database_url is None:
            from threadline.adapters.persistence.sqlite_queries import DB_FILENAME

            return os.path.join(self.home, DB_FILENAME)
        return redact(self.database_url)


def resolve_location(home: str | None = None, database_url: str | None = None) -> StoreLocation:
    """``--database-url``, else ``$THREADLINE_DATABASE_URL``, else the SQLite file in the home."""
    url = database_url or os.environ.get(DATABASE_URL_ENV) or None
    if url is not None and not url.startswith(("postgresql://", "postgres://")):
        raise StoreUnavailableError(
            f"not a PostgreSQL URL: {redact(url)} (expected postgresql://user@host:port/dbname)"
        )
    return StoreLocation(resolve_home(home), url)


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    except ValueError:
        return "<unparsable database URL>"
    return urlunsplit(parts._replace(netloc=netloc))


class StoreUnavailableError(Exception):
    """The store cannot be opened or created; nothing can be done."""
