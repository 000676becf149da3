"""What a reader asks of the read models, independent of the database.

Kept light (standard library only): the read commands import this before they
know whether the event-sourcing stack is needed at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

EAGER_PROJECTIONS = ("threads", "history", "ledger")
"""Caught up after every command that writes (an import waits for them)."""
LAZY_PROJECTIONS = ("search",)
"""Caught up when read (``search``), by ``project`` and by ``rebuild``: indexing text
is the slow part of reading events, and an import should not wait for it."""
ALL_PROJECTIONS = EAGER_PROJECTIONS + LAZY_PROJECTIONS

SortKey = Literal["created", "updated"]
Direction = Literal["asc", "desc"]


class BadQueryError(ValueError):
    pass


@dataclass(frozen=True)
class Cursor:
    """Where a page of the thread list ended: the last row's sort value and id.

    Keyset paging: the next page is the rows strictly after this one in the
    order, so threads that arrive meanwhile never shift or repeat a page.
    """

    sort: SortKey
    direction: Direction
    value: str
    thread_id: str

    def encode(self) -> str:
        # Plain text, cheap to make for every row: ``updated~desc~<value>~<thread id>``.
        return f"{self.sort}~{self.direction}~{self.value}~{self.thread_id}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        parts = text.split("~", 3)
        if len(parts) != 4 or parts[0] not in ("created", "updated"):
            raise BadQueryError(f"not a thread-list cursor: {text!r}")
        sort, direction, value, thread_id = parts
        if direction not in ("asc", "desc") or not thread_id:
            raise BadQueryError(f"not a thread-list cursor: {text!r}")
        return cls(sort, direction, value, thread_id)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ThreadQuery:
    """Filters, order and page of the thread list (Codex's ``thread/list``, and more)."""

    cwds: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    since: str | None = None
    """Inclusive lower bound of the sort timestamp (UTC, ISO 8601)."""
    until: str | None = None
    """Exclusive upper bound of the sort timestamp."""
    archived: bool | None = False
    """False: live threads only; True: archived only; None: both."""
    parent: str | None = None
    """Only the children of this thread."""
    top_level: bool = False
    """Only threads without a parent."""
    sort: SortKey = "updated"
    direction: Direction = "desc"
    limit: int | None = None
    after: Cursor | None = None

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise BadQueryError("--limit must be at least 1")
        if self.after is not None and (self.after.sort, self.after.direction) != (
            self.sort,
            self.direction,
        ):
            raise BadQueryError(
                f"the cursor is for --sort {self.after.sort} --order {self.after.direction}"
            )


@dataclass(frozen=True)
class SearchQuery:
    text: str
    cwds: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    limit: int = 20
    terms: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise BadQueryError("--limit must be at least 1")
        terms = tuple(t for t in re.findall(r"\w+", self.text, re.UNICODE))
        if not terms:
            raise BadQueryError("the search query has no words in it")
        object.__setattr__(self, "terms", terms)

    def fts(self) -> str:
        """The query for FTS5 (and, with ``&``, for tsquery): every word, as a phrase."""
        return " ".join('"' + t.replace('"', '""') + '"' for t in self.terms)


_RELATIVE = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_moment(text: str, now: datetime | None = None) -> str:
    """A bound for ``--since``/``--until``: an ISO date or datetime, or an age (30m, 12h, 7d, 2w),
    as UTC text that sorts with the stored timestamps."""
    text = text.strip()
    match = _RELATIVE.match(text)
    if match:
        amount, unit = int(match[1]), _UNITS[match[2]]
        moment = (now or datetime.now(UTC)) - timedelta(**{unit: amount})
    else:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise BadQueryError(
                f"not a date, time or age: {text!r} (try 2025-03-01, 2025-03-01T09:00, 7d)"
            ) from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def row_cursor(query: ThreadQuery, row: dict[str, Any]) -> str:
    value = row["created_at"] if query.sort == "created" else row["updated_at"]
    other = row["updated_at"] if query.sort == "created" else row["created_at"]
    return Cursor(query.sort, query.direction, value or other or "", row["thread_id"]).encode()
