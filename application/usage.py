"""Token usage and its estimated cost: which items carry it, what counts once, how it adds up.

Pure (standard library only): plain event dicts in, typed row changes out (the usage
projection); bucket rows in, a report out (``build_report``; ``views.usage`` reads the
rows). ADR 0014 has the reasons.

- **What carries usage**: an ``assistant`` item with a ``usage`` object (the importer merged
  a response's streamed fragments, which share one ``message.id``, into one item carrying
  the usage of its last fragment). An item without a timestamp, or whose usage is all
  zeros, adds nothing and gets no row.
- **What counts once** (``copy_key``; ``count_once`` applies it when a report is read):
  all the rows of one ``message_id``, in any thread, are copies of one API response (a
  resumed or forked session repeating earlier lines, a sub-agent transcript replaying
  its parent's messages, the same file found at two locations, fragments an appended
  import saw apart). One copy counts: a copy in a top-level thread before one in a
  sub-agent thread (a sidechain replays its parent, never the other way round, as
  ccusage), then the largest total, then the earliest. A row without a message id
  is its own response.
- **Buckets**: the projection adds every row up by thread, UTC quarter-hour (``slot``) and
  model as it writes it, and counts the rows of each message id; a report reads those few
  bucket rows and the rows of the message ids that have more than one (a partial index
  lists them), and takes the copies that do not count out of their buckets. Every time
  zone's offset is a whole number of quarter-hours, so the buckets fall into local days,
  weeks and months exactly, in any zone.
- **Cost**: per model from the price table (``pricing.json``, per million tokens; input,
  output, cache write, cache read, and for some models a dearer rate for the tokens of
  one request past 200k; one-hour cache writes at their own rate, twice the input price
  unless the table says); a model not in the table is reported as unpriced, never as 0.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Literal, NamedTuple

from threadline.application.row_changes import (
    AddToUsageBucket,
    ClearUsage,
    ClearUsageBuckets,
    CountMessageId,
    InsertUsage,
    InsertUsageThread,
    RowChange,
    UncountMessageIds,
    UpdateUsageThread,
)

NAME = "usage"
"""The projection's name (its tracking row, ``rebuild usage``)."""

TIER_TOKENS = 200_000
"""Tokens of one request past this many are priced at a model's ``above_200k`` rate."""

TOKEN_KINDS = ("input", "output", "cache_creation", "cache_read", "reasoning")
PRICED_KINDS = ("input", "output", "cache_creation", "cache_read")
_USAGE_KEYS = {
    "input": "input_tokens",
    "output": "output_tokens",
    "cache_creation": "cache_creation_input_tokens",
    "cache_read": "cache_read_input_tokens",
    "reasoning": "reasoning_output_tokens",
}
_PRICE_KEYS = {
    "input": "input",
    "output": "output",
    "cache_creation": "cache_write",
    "cache_read": "cache_read",
}

MESSAGE_COLUMNS = InsertUsage._fields
"""One row per item that carries usage (``usage_messages``): where and when, then the
``N`` numbers: tokens by kind (``TOKEN_KINDS``), the tokens past 200k by priced kind
(``PRICED_KINDS``), and the cache-creation tokens written to a one-hour cache."""
N = len(MESSAGE_COLUMNS) - 6
BUCKET_COLUMNS = AddToUsageBucket._fields
"""Every row of a thread, UTC quarter-hour and model added up (``usage_buckets``): what a
report reads, corrected for the message ids that have more than one row (``count_once``)."""
THREAD_COLUMNS = InsertUsageThread._fields
"""One row per thread (``usage_threads``): what a report groups and filters by."""

UNKNOWN_MODEL = "<unknown>"
"""The model of an item that names none."""


# -- the projection: events -> row changes -------------------------------------------


def _topics(*names: str) -> frozenset[str]:
    """The session events' topics, as stored now and as stores written before the layers
    were installed as the ``threadline`` package hold them (ADR 0010)."""
    return frozenset(
        t
        for n in names
        for t in (f"threadline.domain.session:Session.{n}", f"domain.session:Session.{n}")
    )


T_IMPORTED = _topics("SessionImported")
T_CONFIGURED = _topics("SessionConfigured")
T_ITEMS = _topics("ItemsRecorded")
T_APPENDED = _topics("TranscriptAppended")
T_REPLACED = _topics("HistoryReplaced")
T_RENAMED = _topics("Renamed")


class UsageProjection:
    """Rows for the usage read model: each usage-carrying item, and each thread's details."""

    name = NAME
    topics = T_IMPORTED | T_CONFIGURED | T_ITEMS | T_APPENDED | T_REPLACED | T_RENAMED

    def changes(
        self, topic: str, event: dict[str, Any], notification_id: int, lines: object
    ) -> list[RowChange]:
        thread_id = event["originator_id"]
        if topic in T_ITEMS:
            first = event["first_position"]
            rows = [
                row
                for i, item in enumerate(event["items"])
                if item["type"] == "assistant"
                and (row := message_row(thread_id, first + i, item)) is not None
            ]
            ops: list[RowChange] = [*rows, *bucket_rows(rows)]
            ops.extend(CountMessageId(row.message_id) for row in rows if row.message_id)
            return ops
        if topic in T_IMPORTED:
            source = event["source"]
            parent = event.get("parent_thread_id")
            summary = event["summary"]
            sidechain = parent is not None or source.get("agent_id") is not None
            return [
                InsertUsageThread(
                    thread_id,
                    source["agent"],
                    summary.get("cwd"),
                    summary.get("title") or "",
                    parent,
                    int(sidechain),
                )
            ]
        if topic in T_CONFIGURED:
            cwd = event["settings"]["cwd"]
            return [InsertUsageThread(thread_id, "threadline", cwd, "", None, 0)]
        if topic in T_RENAMED:  # the user's name (later summaries keep it)
            return [UpdateUsageThread(None, event["title"], thread_id)]
        summary = event["summary"]
        ops = [UpdateUsageThread(summary.get("cwd"), summary.get("title") or "", thread_id)]
        if topic in T_REPLACED:
            ops += [
                UncountMessageIds(thread_id),
                ClearUsage(thread_id),
                ClearUsageBuckets(thread_id),
            ]
        return ops


def message_row(thread_id: str, position: int, item: Mapping[str, Any]) -> InsertUsage | None:
    """The usage row of an item, or None when it carries no usage."""
    if item.get("type") != "assistant":
        return None
    usage = item.get("usage")
    stamp = item.get("timestamp")
    if not isinstance(usage, dict) or not stamp:
        return None
    tokens = [_count(usage.get(_USAGE_KEYS[k])) for k in TOKEN_KINDS]
    if not any(tokens):
        return None
    if len(stamp) >= 20 and stamp[-1] == "Z" and stamp[10] == "T" and stamp[19] in ".Z":
        # The stored form (UTC, ``2026-10-05T14:02:10.500000Z``): cut, not parsed.
        when = f"{stamp[:19]}.{(stamp[20:-1] + '000')[:3]}Z"
        slot = f"{stamp[:14]}{int(stamp[14:16]) // 15 * 15:02d}"
    else:
        moment = datetime.fromisoformat(stamp).astimezone(UTC)
        when = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        slot = slot_of(moment)
    above = [max(0, n - TIER_TOKENS) for n in tokens[:4]]
    split = usage.get("cache_creation")
    hour = _count(split.get("ephemeral_1h_input_tokens")) if isinstance(split, dict) else 0
    return InsertUsage._make(
        (
            thread_id,
            position,
            item.get("message_id"),
            when,
            slot,
            item.get("model") or UNKNOWN_MODEL,
            *tokens,
            *above,
            min(hour, tokens[2]),
        )
    )


def bucket_rows(rows: Iterable[InsertUsage]) -> list[AddToUsageBucket]:
    """``message_row`` rows added up by thread, UTC quarter-hour and model: the increments
    of ``usage_buckets``."""
    sums: dict[tuple[str, str, str], list[Any]] = {}
    for row in rows:
        key = (row[0], row[4], row[5])
        numbers = row[6 : 6 + N]
        found = sums.get(key)
        if found is None:
            sums[key] = [*numbers, 1, row[3], row[3]]
        else:
            for i, n in enumerate(numbers):
                found[i] += n
            found[N] += 1
            found[N + 1] = min(found[N + 1], row[3])
            found[N + 2] = max(found[N + 2], row[3])
    return [AddToUsageBucket(*key, *values) for key, values in sums.items()]


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0


def slot_of(moment: datetime) -> str:
    """The UTC quarter-hour a moment is in: ``2026-10-05T14:45``."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H}:{moment.minute - moment.minute % 15:02d}"


def copy_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """Which copy of a response counts: the least by this key (a copy in a top-level
    thread, then the largest total, then the earliest)."""
    total = sum(row[f"{k}_tokens"] for k in PRICED_KINDS)
    return (row["sidechain"], -total, row["timestamp"], row["thread_id"], row["position"])


def counted(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows that count, one per response."""
    best: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        key = row["message_id"] or f"{row['thread_id']}#{row['position']}"
        if key not in best or copy_key(row) < copy_key(best[key]):
            best[key] = row
    return sorted(best.values(), key=lambda r: (r["timestamp"], r["thread_id"], r["position"]))


def count_once(
    buckets: list[Bucket], copies: Iterable[Mapping[str, Any]], by_thread: bool = True
) -> list[Bucket]:
    """The buckets without the copies that do not count.

    ``buckets`` add up every row; ``copies`` are the rows (``MESSAGE_COLUMNS`` and
    ``sidechain``) of each message id that has more than one. The copies that lose
    (``counted``) are taken out of their buckets; a bucket left with no message goes.
    Its first and last times may still be a lost copy's (the same thread, quarter-hour
    and model as a counted message). Without ``by_thread``, the buckets are every
    thread's (their ``thread_id`` is ``""``)."""
    copies = list(copies)
    keep = {(r["thread_id"], r["position"]) for r in counted(copies)}
    lost: dict[tuple[str, str, str], list[int]] = {}
    for r in copies:
        if (r["thread_id"], r["position"]) in keep:
            continue
        thread = r["thread_id"] if by_thread else ""
        sums = lost.setdefault((r["slot"], thread, r["model"]), [0] * (N + 1))
        for i, column in enumerate(MESSAGE_COLUMNS[6:]):
            sums[i] += r[column]
        sums[N] += 1
    if not lost:
        return buckets
    out = []
    for b in buckets:
        minus = lost.get((b.slot, b.thread_id, b.model))
        if minus is None:
            out.append(b)
        elif b.messages > minus[N]:
            tokens = {k: b.tokens[k] - minus[i] for i, k in enumerate(TOKEN_KINDS)}
            above = {k: b.above[k] - minus[5 + i] for i, k in enumerate(PRICED_KINDS)}
            out.append(
                Bucket(
                    b.slot,
                    b.thread_id,
                    b.model,
                    tokens,
                    above,
                    b.messages - minus[N],
                    b.first,
                    b.last,
                    b.cache_1h - minus[9],
                )
            )
    return out


# -- prices ------------------------------------------------------------------------------

SHIPPED_PRICES = os.path.join(os.path.dirname(__file__), "pricing.json")
PRICES_FILE = "pricing.json"
"""A file of this name in THREADLINE_HOME adds models to the shipped table or replaces
their prices (the same shape as the shipped file)."""


class Price(NamedTuple):
    """Dollars per million tokens, by kind; ``above`` for the tokens of one request past 200k;
    ``cache_write_1h`` for cache writes that live an hour (``cache_creation`` is the
    5-minute price)."""

    rates: Mapping[str, float]
    above: Mapping[str, float] | None = None
    cache_write_1h: float | None = None

    def cost(self, tokens: Mapping[str, int], above: Mapping[str, int], cache_1h: int = 0) -> float:
        total = sum(tokens[k] * self.rates[k] for k in PRICED_KINDS)
        if self.above:
            total += sum(above[k] * (self.above[k] - self.rates[k]) for k in PRICED_KINDS)
        if cache_1h:
            hour = self.cache_write_1h
            if hour is None:  # Anthropic's rule: twice the input price
                hour = 2 * self.rates["input"]
            total += cache_1h * (hour - self.rates["cache_creation"])
        return total / 1_000_000


class PriceTable(NamedTuple):
    models: Mapping[str, Price]
    taken: str
    sources: tuple[str, ...]

    def find(self, model: str) -> Price | None:
        """The model's price: its name, or its name without a trailing ``-YYYYMMDD``."""
        price = self.models.get(model)
        if price is None:
            price = self.models.get(re.sub(r"-\d{8}$", "", model))
        return price


class BadPriceTableError(ValueError):
    pass


def load_prices(shipped: str, override: str | None = None, override_name: str = "") -> PriceTable:
    """The shipped table, with the override's models added or replaced."""
    base = _parse_table(shipped, "the shipped price table")
    if override is None:
        return base
    extra = _parse_table(override, override_name or PRICES_FILE)
    return PriceTable(
        models={**base.models, **extra.models},
        taken=f"{base.taken}; {override_name or PRICES_FILE} {extra.taken}",
        sources=base.sources + extra.sources,
    )


def _parse_table(text: str, name: str) -> PriceTable:
    import json

    try:
        data = json.loads(text)
        models = {m: _price(p) for m, p in data["models"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadPriceTableError(f"{name}: not a price table ({exc})") from exc
    return PriceTable(models, str(data.get("taken", "undated")), (str(data.get("source", name)),))


def _price(entry: Mapping[str, Any]) -> Price:
    def rates(values: Mapping[str, Any]) -> dict[str, float]:
        out = {k: float(values[_PRICE_KEYS[k]]) for k in PRICED_KINDS}
        if any(v < 0 for v in out.values()):
            raise ValueError("a negative price")
        return out

    above = entry.get("above_200k")
    hour = entry.get("cache_write_1h")
    if hour is not None and float(hour) < 0:
        raise ValueError("a negative price")
    return Price(
        rates(entry), rates(above) if above else None, None if hour is None else float(hour)
    )


# -- reports: buckets -> rows --------------------------------------------------------------

ReportKind = Literal["daily", "weekly", "monthly", "session", "model", "project"]
REPORT_KINDS: tuple[ReportKind, ...] = ("daily", "weekly", "monthly", "session", "model", "project")


class Bucket(NamedTuple):
    """Usage of one thread (or of all: ``thread_id`` ``""``) and model in one UTC
    quarter-hour: a ``usage_buckets`` row, or their sum."""

    slot: str
    thread_id: str
    model: str
    tokens: Mapping[str, int]
    above: Mapping[str, int]
    messages: int
    first: str
    last: str
    cache_1h: int = 0
    """Of ``tokens["cache_creation"]``, those written to a one-hour cache."""


class ThreadInfo(NamedTuple):
    agent: str
    cwd: str | None
    title: str
    parent_thread_id: str | None


class Totals:
    """Tokens by kind, their estimated cost, and the messages they came from. ``unpriced``:
    the tokens of models the price table does not know, by model (not in ``cost``)."""

    __slots__ = ("cost", "messages", "tokens", "unpriced")

    def __init__(self) -> None:
        self.tokens: dict[str, int] = dict.fromkeys(TOKEN_KINDS, 0)
        self.cost = 0.0
        self.messages = 0
        self.unpriced: dict[str, int] = {}

    def add(self, bucket: Bucket, price: Price | None) -> None:
        for k in TOKEN_KINDS:
            self.tokens[k] += bucket.tokens[k]
        self.messages += bucket.messages
        if price is None:
            n = sum(bucket.tokens[k] for k in PRICED_KINDS)
            self.unpriced[bucket.model] = self.unpriced.get(bucket.model, 0) + n
        else:
            self.cost += price.cost(bucket.tokens, bucket.above, bucket.cache_1h)

    @property
    def total_tokens(self) -> int:
        return sum(self.tokens[k] for k in PRICED_KINDS)

    def as_dict(self) -> dict[str, Any]:
        return {
            **{f"{k}_tokens": v for k, v in self.tokens.items()},
            "total_tokens": self.total_tokens,
            "cost": round(self.cost, 6),
            "unpriced_models": sorted(self.unpriced),
            "messages": self.messages,
        }


class ReportRow:
    """One row of a report: its key (a period, thread, model or cwd), totals, and totals by
    model; the first and last message's time; the thread's details (``session``)."""

    __slots__ = ("first", "key", "last", "models", "thread", "totals")

    def __init__(self, key: str, thread: ThreadInfo | None, first: str, last: str) -> None:
        self.key = key
        self.thread = thread
        self.first = first
        self.last = last
        self.totals = Totals()
        self.models: dict[str, Totals] = {}

    def as_dict(self, kind: ReportKind) -> dict[str, Any]:
        out: dict[str, Any] = {KEY_NAMES[kind]: self.key}
        if self.thread is not None:
            out |= {"title": self.thread.title, "cwd": self.thread.cwd, "source": self.thread.agent}
        if kind in ("session", "project", "model"):
            out |= {"first": self.first, "last": self.last}
        out |= self.totals.as_dict()
        out["models"] = [
            {"model": m, **t.as_dict()} for m, t in sorted(self.models.items()) if kind != "model"
        ]
        if kind == "model":
            del out["models"]
        return out


KEY_NAMES: dict[str, str] = {
    "daily": "date",
    "weekly": "week",
    "monthly": "month",
    "session": "thread_id",
    "model": "model",
    "project": "cwd",
}
"""What each report's rows name their key."""


class DateRange(NamedTuple):
    """``since``/``until``: a local date (inclusive, as ccusage) or a moment (UTC)."""

    since_date: date | None = None
    until_date: date | None = None
    since: datetime | None = None
    until: datetime | None = None

    def keeps(self, local: datetime, start: datetime) -> bool:
        day = local.date()
        if self.since_date and day < self.since_date:
            return False
        if self.until_date and day > self.until_date:
            return False
        if self.since and start + timedelta(minutes=15) <= self.since:
            return False
        return not (self.until and start > self.until)


class UsageReport:
    __slots__ = ("kind", "prices", "rows", "timezone", "totals")

    def __init__(
        self,
        kind: ReportKind,
        rows: list[ReportRow],
        totals: Totals,
        timezone: str,
        prices: PriceTable,
    ) -> None:
        self.kind = kind
        self.rows = rows
        self.totals = totals
        self.timezone = timezone
        self.prices = prices

    def as_dict(self) -> dict[str, Any]:
        unpriced: dict[str, int] = dict(self.totals.unpriced)
        return {
            "report": self.kind,
            "timezone": self.timezone,
            "rows": [r.as_dict(self.kind) for r in self.rows],
            "totals": self.totals.as_dict(),
            "unpriced_models": [{"model": m, "tokens": n} for m, n in sorted(unpriced.items())],
            "prices": {"taken": self.prices.taken, "sources": list(self.prices.sources)},
        }


def build_report(
    kind: ReportKind,
    buckets: Iterable[Bucket],
    threads: Mapping[str, ThreadInfo],
    prices: PriceTable,
    zone: tzinfo | None = None,
    dates: DateRange | None = None,
) -> UsageReport:
    """Add the buckets up by period (local dates in ``zone``, else the local time zone),
    top-level thread (a sub-agent's usage counts in the thread that spawned it), model or
    project (the thread's cwd). Rows in order: periods oldest first, threads by last use,
    models and projects by cost."""
    dates = dates or DateRange()
    # Sum the buckets by row and model first (a few thousand buckets, a few dozen sums),
    # then price each sum once.
    sums: dict[tuple[str, str], list[Any]] = {}
    infos: dict[str, ThreadInfo | None] = {}
    slots: dict[str, tuple[datetime, datetime] | None] = {}
    keys: dict[tuple[str, str], str] = {}
    for b in buckets:
        if b.slot not in slots:
            start = datetime.fromisoformat(b.slot).replace(tzinfo=UTC)
            local = start.astimezone(zone)
            slots[b.slot] = (start, local) if dates.keeps(local, start) else None
        moment = slots[b.slot]
        if moment is None:
            continue
        if kind == "model":
            key = b.model
        elif (key := keys.get((b.slot, b.thread_id), "")) == "":
            key, infos[key] = _key(kind, b, moment[1], threads)
            keys[(b.slot, b.thread_id)] = key
        acc = sums.get((key, b.model))
        if acc is None:
            acc = sums[(key, b.model)] = [*(0 for _ in range(10)), b.first, b.last, 0]
        t, a = b.tokens, b.above
        acc[0] += t["input"]
        acc[1] += t["output"]
        acc[2] += t["cache_creation"]
        acc[3] += t["cache_read"]
        acc[4] += t["reasoning"]
        acc[5] += a["input"]
        acc[6] += a["output"]
        acc[7] += a["cache_creation"]
        acc[8] += a["cache_read"]
        acc[9] += b.messages
        acc[10], acc[11] = min(acc[10], b.first), max(acc[11], b.last)
        acc[12] += b.cache_1h
    rows: dict[str, ReportRow] = {}
    totals = Totals()
    for (key, model), acc in sums.items():
        merged = Bucket(
            "",
            "",
            model,
            dict(zip(TOKEN_KINDS, acc[:5], strict=True)),
            dict(zip(PRICED_KINDS, acc[5:9], strict=True)),
            acc[9],
            acc[10],
            acc[11],
            acc[12],
        )
        row = rows.get(key)
        if row is None:
            row = rows[key] = ReportRow(key, thread=infos.get(key), first=acc[10], last=acc[11])
        price = prices.find(model)
        row.totals.add(merged, price)
        row.models.setdefault(model, Totals()).add(merged, price)
        row.first, row.last = min(row.first, acc[10]), max(row.last, acc[11])
        totals.add(merged, price)
    ordered = list(rows.values())
    if kind in ("daily", "weekly", "monthly"):
        ordered.sort(key=lambda r: r.key)
    elif kind == "session":
        ordered.sort(key=lambda r: (r.last, r.key))
    else:
        ordered.sort(key=lambda r: (-r.totals.cost, -r.totals.total_tokens, r.key))
    return UsageReport(kind, ordered, totals, _zone_name(zone), prices)


def _key(
    kind: ReportKind, b: Bucket, local: datetime, threads: Mapping[str, ThreadInfo]
) -> tuple[str, ThreadInfo | None]:
    if kind == "daily":
        return local.date().isoformat(), None
    if kind == "weekly":
        monday = local.date() - timedelta(days=local.weekday())
        return monday.isoformat(), None
    if kind == "monthly":
        return f"{local:%Y-%m}", None
    if kind == "model":
        return b.model, None
    if kind == "project":
        info = threads.get(b.thread_id)
        return (info.cwd if info and info.cwd else "(no cwd)"), None
    root = top_level(b.thread_id, threads)
    return root, threads.get(root)


def top_level(thread_id: str, threads: Mapping[str, ThreadInfo]) -> str:
    """The thread at the top of a sub-agent's chain of parents (itself if it has none)."""
    seen = {thread_id}
    while (info := threads.get(thread_id)) is not None and info.parent_thread_id:
        if info.parent_thread_id in seen:
            break
        thread_id = info.parent_thread_id
        seen.add(thread_id)
    return thread_id


def _zone_name(zone: tzinfo | None) -> str:
    if zone is None:
        return datetime.now().astimezone().tzname() or "local"
    return str(getattr(zone, "key", None) or zone)


def bucket_from_row(row: Sequence[Any]) -> Bucket:
    """A ``usage_buckets`` row (``AddToUsageBucket``'s columns) as a bucket."""
    thread_id, slot, model, *numbers = row[: 3 + N]
    tokens = dict(zip(TOKEN_KINDS, (int(n) for n in numbers[:5]), strict=True))
    above = dict(zip(PRICED_KINDS, (int(n) for n in numbers[5:9]), strict=True))
    messages, first, last = row[3 + N : 6 + N]
    return Bucket(
        slot, thread_id, model, tokens, above, int(messages), first, last, int(numbers[9])
    )


_DAY = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")


def date_range(since: str | None, until: str | None) -> DateRange:
    """``--since``/``--until``: a date (``2026-10-05`` or ``20261005``: a whole local day,
    inclusive, as ccusage), else a time or an age (``2026-10-05T09:00``, ``12h``, ``7d``)."""
    bounds: dict[str, Any] = {}
    for name, text in (("since", since), ("until", until)):
        if not text:
            continue
        day = _DAY.match(text.strip())
        if day:
            try:
                bounds[f"{name}_date"] = date(int(day[1]), int(day[2]), int(day[3]))
            except ValueError as exc:
                raise BadUsageQueryError(f"not a date: {text!r}") from exc
        else:
            from threadline.application.read_queries import parse_moment

            try:
                bounds[name] = datetime.fromisoformat(parse_moment(text))
            except ValueError as exc:
                raise BadUsageQueryError(str(exc)) from exc
    return DateRange(**bounds)


class BadUsageQueryError(ValueError):
    pass


def zone_named(name: str | None) -> tzinfo | None:
    """An IANA time zone (``Europe/Paris``, ``UTC``); None for the local one."""
    if not name:
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadUsageQueryError(f"no time zone named {name!r}") from exc


def prices_for(home: str) -> PriceTable:
    """The shipped price table, with ``HOME/pricing.json``'s models added or replaced."""
    override_path = os.path.join(home, PRICES_FILE)
    override = None
    if os.path.exists(override_path):
        with open(override_path, encoding="utf-8") as f:
            override = f.read()
    with open(SHIPPED_PRICES, encoding="utf-8") as f:
        shipped = f.read()
    return load_prices(shipped, override, override_path)
