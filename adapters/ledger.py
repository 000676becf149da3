"""The import's cheap skip reads the ledger here: over a plain connection to the read
models, without the event-sourcing stack (standard library and the driver only)."""

from __future__ import annotations

from contextlib import closing

from threadline.adapters.home import StoreLocation
from threadline.adapters.queries import open_queries
from threadline.application.views import StoreNotFoundError


class RecordedVersions:
    """A ``LedgerReader`` over the store at ``location``; creates the store on first use."""

    def __init__(self, location: StoreLocation) -> None:
        self.location = location

    def recorded_versions(self) -> dict[str, tuple[int, int, str | None]]:
        try:
            with closing(open_queries(self.location)) as queries:
                return queries.recorded_versions()
        except StoreNotFoundError:
            from threadline.adapters.store import open_store

            open_store(self.location).close()
            return {}
        except Exception:  # tables not there yet (SQLite or PostgreSQL): nothing recorded
            return {}
