"""What a reader asks of the read models, independent of the database.

Kept light (standard library only): the read commands import this before they
know whether the event-sourcing stack is needed at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any, Literal

from threadline.application.search_words import (
    CJK,
    CJK_RUN,
    TOKEN,
    fold,
    is_prefix,
    split_cjk,
    words,
)

EAGER_PROJECTIONS = ("threads", "history", "ledger")
"""Caught up after every command that writes (an import waits for them)."""
LAZY_PROJECTIONS = ("usage", "search")
"""Caught up when read (``usage``, ``search``), by ``project`` and by ``rebuild``; an
import catches search up too unless told ``--no-index`` (ADR 0015), never usage
(ADR 0014)."""
ALL_PROJECTIONS = EAGER_PROJECTIONS + LAZY_PROJECTIONS
SEARCH_PROJECTIONS = (*EAGER_PROJECTIONS, "search")
"""What a search reads, caught up first: the thread list and the index, not usage."""

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
    words: tuple[str, ...] = field(init=False, default=())
    """The index's words an item must hold (``search_words``): ``cache_key`` is ``cache``
    and ``key``, in any order, ``東京都`` is ``東京`` and ``京都``, and ``京`` is any word
    that starts with it (``is_prefix``); none for a query of separators only, such as ``_``."""

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise BadQueryError("--limit must be at least 1")
        terms = tuple(t for t in re.findall(r"\w+", self.text, re.UNICODE))
        if not terms:
            raise BadQueryError("the search query has no words in it")
        object.__setattr__(self, "terms", terms)
        rest, cjk = split_cjk(" ".join(terms), query=True)
        object.__setattr__(self, "words", tuple(dict.fromkeys(words(rest) + cjk.split())))

    def fts(self) -> str:
        """The query for FTS5: every word, each quoted (FTS5 folds them as the index
        did). The index keeps no positions (ADR 0015), so a word is its tokens, not a
        phrase; one CJK letter is a prefix."""
        rest, cjk = split_cjk(" ".join(self.terms), query=True)
        tokens = [t for t in TOKEN.findall(rest) if fold(t)] + cjk.split()
        return " ".join(f'"{t}"*' if is_prefix(t) else f'"{t}"' for t in tokens)


_SENTENCE_END = re.compile(r"[.:]")
_REGION = 1024
"""A snippet is chosen, as FTS5's snippet() chooses it, from a text up to this many
characters whole, else from this many characters around the place where most of the
query's words are close together (a tool output can be a megabyte)."""


_WORD = re.compile(rf"[{CJK}]+|(?:[^\W_{CJK}]|[\u0300-\u036f])+")
"""A word of a text as a snippet counts it: ``TOKEN``, and a run of CJK letters apart
from the letters around it, as the index knows them (``split_cjk``)."""


def _either(words: set[str]) -> str:
    return "|".join(sorted(map(re.escape, words), key=len, reverse=True))


def _region(text: str, wanted: set[str], runs: set[str]) -> tuple[int, int]:
    if len(text) <= _REGION:
        return 0, len(text)
    plain = wanted - runs  # whole words; CJK words anywhere in a run
    found = [rf"(?<![^\W_{CJK}])(?:{_either(plain)})(?![^\W_{CJK}])"] if plain else []
    finder = re.compile("|".join(found + ([_either(runs)] if runs else [])), re.IGNORECASE)
    hits = [(m.start(), m[0].lower()) for m in islice(finder.finditer(text), 256)]
    if hits:
        # The first hit with the most distinct words within about a snippet's length.
        near = [len({w for at, w in hits[i:] if at < hits[i][0] + 160}) for i in range(len(hits))]
        at = hits[near.index(max(near))][0]
    else:  # a word that matches only with its diacritics folded: the slow way
        hit = next((m for m in _WORD.finditer(text) if fold(m[0]) in wanted), None)
        at = hit.start() if hit else 0
    return max(0, at - _REGION // 4), min(len(text), at + _REGION * 3 // 4)


def snippet(
    text: str, terms: tuple[str, ...], start: str, end: str, ellipsis: str = "…", size: int = 16
) -> str:
    """A window of ``size`` words of ``text`` with the query's words marked, chosen as
    FTS5's ``snippet()`` chooses it: the most distinct words matched, then the most
    matches, centred on them, preferring the start of a sentence. A CJK word of the query
    is found inside the text's runs of CJK letters (no spaces between words there)."""
    runs = {r for term in terms for r in CJK_RUN.findall(term)}
    wanted = {fold(t) for term in terms for t in TOKEN.findall(CJK_RUN.sub(" ", term))} | runs
    lo, hi = _region(text, wanted, runs)
    tokens = _tokens(text, lo, hi, re.compile(_either(runs)) if runs else None)
    if hi < len(text) and tokens and tokens[-1][1] == hi:
        tokens.pop()  # cut in two by the window
    if lo > 0 and tokens and tokens[0][0] == lo:
        tokens.pop(0)
    if not tokens:
        return text[:200]
    count = len(tokens)
    hits = [i for i, t in enumerate(tokens) if t[2] in wanted]
    sentences = [0] + [
        i for i in range(1, count) if _SENTENCE_END.search(text, tokens[i - 1][1], tokens[i][0])
    ]

    def score(first: int) -> tuple[int, int, int]:
        inside = [i for i in hits if first <= i < first + size]
        seen: set[str] = set()
        total = 0
        for i in inside:
            total += 1 if tokens[i][2] in seen else 1000
            seen.add(tokens[i][2])
        return total, inside[0] if inside else first, inside[-1] + 1 if inside else first

    best, best_start = -1, 0
    for i in hits:
        total, first, last = score(i)
        adjusted = max(0, min(first - (size - (last - first)) // 2, count - size))
        sentence = max((j for j in sentences if j <= i), default=0)
        if sentence < i and count > size:
            bonus = score(sentence)[0] + (120 if sentence == 0 else 100)
            if bonus > best:
                best, best_start = bonus, sentence
        if total > best:
            best, best_start = total, adjusted
    window = tokens[best_start : best_start + size]
    at = window[0][0] if best_start > 0 or lo > 0 else lo
    out = [ellipsis] if at > 0 else []
    for token_start, token_end, folded in window:
        out.append(text[at:token_start])
        word = text[token_start:token_end]
        out.append(start + word + end if folded in wanted else word)
        at = token_end
    more = best_start + size < count or (hi < len(text) and _WORD.search(text, at))
    out.append(ellipsis if more else text[at:hi])
    return "".join(out)


def _tokens(
    text: str, lo: int, hi: int, runs: re.Pattern[str] | None
) -> list[tuple[int, int, str]]:
    """The words of ``text[lo:hi]`` (start, end, folded), a CJK word of the query found
    inside a run of CJK letters a word of its own."""
    if runs is None:
        return [(m.start(), m.end(), fold(m[0])) for m in _WORD.finditer(text, lo, hi)]
    found = []
    for m in _WORD.finditer(text, lo, hi):
        at, end = m.span()
        for hit in runs.finditer(text, at, end):
            if hit.start() > at:
                found.append((at, hit.start(), fold(text[at : hit.start()])))
            found.append((hit.start(), hit.end(), hit[0]))
            at = hit.end()
        if at < end:
            found.append((at, end, fold(text[at:end])))
    return found


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
