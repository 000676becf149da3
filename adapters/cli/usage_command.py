"""``threadline usage``: tokens and estimated cost by day, week, month, thread, model or project.

Reads the usage read model (caught up first if an import left it behind), counts each
API response once (``application/usage.py``), prices it from the shipped table or
``THREADLINE_HOME/pricing.json``, and prints a table with a totals row, or ``--json``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from threadline.adapters.home import StoreLocation
    from threadline.application.usage import (
        PriceTable,
        ReportKind,
        ReportRow,
        Totals,
        UsageReport,
    )

REPORT_KINDS = ("daily", "weekly", "monthly", "session", "model", "project")
"""``application.usage.REPORT_KINDS``, spelt out here: every command builds the parser, and
only ``usage`` should pay for importing that module."""


def add_usage_parser(sub: Any) -> None:
    p = sub.add_parser(
        "usage", help="tokens and estimated cost by day, week, month, thread, model or project"
    )
    p.add_argument(
        "report",
        nargs="?",
        choices=REPORT_KINDS,
        default="daily",
        help="how to group (default daily; session = a top-level thread with its sub-agents)",
    )
    p.add_argument("--since", help="a date (2026-10-05, whole local day), a time, or an age (7d)")
    p.add_argument("--until", help="a date (inclusive), a time, or an age")
    p.add_argument("--source", action="append", default=[], help="only threads from this agent")
    p.add_argument("--cwd", action="append", default=[], help="only threads in this directory")
    p.add_argument("--timezone", help="IANA zone for days, weeks, months (default: local)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_usage)


def prices_for(home: str) -> PriceTable:
    """The shipped price table, with ``HOME/pricing.json``'s models added or replaced."""
    from threadline.application.usage import PRICES_FILE, SHIPPED_PRICES, load_prices

    override_path = os.path.join(home, PRICES_FILE)
    override = None
    if os.path.exists(override_path):
        with open(override_path, encoding="utf-8") as f:
            override = f.read()
    with open(SHIPPED_PRICES, encoding="utf-8") as f:
        shipped = f.read()
    return load_prices(shipped, override, override_path)


def usage_report(
    location: StoreLocation,
    kind: ReportKind = "daily",
    *,
    since: str | None = None,
    until: str | None = None,
    sources: tuple[str, ...] = (),
    cwds: tuple[str, ...] = (),
    timezone: str | None = None,
) -> UsageReport:
    """The report over the store at ``location`` (read models caught up first if behind).

    Raises ``BadUsageQueryError`` for a bad date or zone, ``BadPriceTableError`` for a
    broken ``pricing.json``, ``StoreNotFoundError`` when there is no store."""
    from contextlib import closing

    from threadline.adapters.persistence.sqlite_queries import StoreNotFoundError
    from threadline.adapters.persistence.usage_tables import read_usage
    from threadline.adapters.queries import open_queries
    from threadline.application.usage import build_report, date_range, zone_named

    dates = date_range(since, until)
    zone = zone_named(timezone)
    prices = prices_for(location.home)
    by_thread = kind in ("session", "project")
    try:
        _catch_up(location)
        with closing(open_queries(location)) as queries:
            try:
                buckets, threads = read_usage(queries.conn, cwds, sources, by_thread)
            except Exception as exc:
                if not _missing_table(exc):
                    raise
                rebuild = True
            else:
                rebuild = False
        if rebuild:
            # Tables of an older usage read model, or none (dropped by hand): made anew.
            _catch_up(location, rebuild=True)
            with closing(open_queries(location)) as queries:
                buckets, threads = read_usage(queries.conn, cwds, sources, by_thread)
    except StoreNotFoundError:
        buckets, threads = [], {}
    return build_report(kind, buckets, threads, prices, zone, dates)


def _catch_up(location: StoreLocation, rebuild: bool = False) -> None:
    from contextlib import closing

    from threadline.adapters.queries import open_queries
    from threadline.application.usage import NAME

    with closing(open_queries(location)) as probe:
        behind = probe.is_behind([NAME])
    if behind or rebuild:
        from threadline.adapters.store import open_store

        store = open_store(location)
        try:
            if rebuild:
                store.rebuild(names=[NAME])
            else:
                store.catch_up(names=[NAME])
        finally:
            store.close()


def _missing_table(exc: Exception) -> bool:
    import sqlite3

    if isinstance(exc, sqlite3.OperationalError):
        return "no such table" in str(exc)
    return type(exc).__name__ == "UndefinedTable"  # psycopg.errors.UndefinedTable


def cmd_usage(args: argparse.Namespace) -> int:
    from threadline.adapters.cli.common import UserError, location_for, print_json
    from threadline.application.usage import BadPriceTableError, BadUsageQueryError

    location = location_for(args)
    try:
        report = usage_report(
            location,
            args.report,
            since=args.since,
            until=args.until,
            sources=tuple(args.source),
            cwds=tuple(os.path.abspath(os.path.expanduser(c)) for c in args.cwd),
            timezone=args.timezone,
        )
    except (BadUsageQueryError, BadPriceTableError) as exc:
        raise UserError(str(exc)) from exc
    if args.json:
        print_json(report.as_dict())
        return 0
    if not report.rows:
        print("no usage matches", file=sys.stderr)
        return 0
    usage_table(report)
    return 0


# -- the table ---------------------------------------------------------------------------

_FIRST = {
    "daily": "date",
    "weekly": "week of",
    "monthly": "month",
    "session": "thread",
    "model": "model",
    "project": "cwd",
}
_NUMBERS = ("input", "output", "cache write", "cache read", "reasoning", "total", "cost")


def usage_table(report: UsageReport, stream: TextIO | None = None) -> None:
    """One line per row and a totals line, numbers right-aligned, fitted to the terminal."""
    import shutil

    stream = stream or sys.stdout
    width = shutil.get_terminal_size((100, 24)).columns
    first = _FIRST[report.kind]
    label = {"session": "title", "model": "messages"}.get(report.kind, "models")
    columns = [first, label, *_NUMBERS]
    cells = [_cells(report.kind, r.key, r.totals, r, first, label) for r in report.rows]
    total = _cells(report.kind, "total", report.totals, None, first, label)
    widths = {c: max([len(c), *(len(r[c]) for r in [*cells, total])]) for c in columns}
    flexible_columns = ((first, 10),) if report.kind == "model" else ((label, 12), (first, 10))
    for flexible, least in flexible_columns:
        others = sum(widths[c] + 2 for c in columns if c != flexible)
        widths[flexible] = max(min(widths[flexible], width - others), least)
    rule = "  ".join("─" * widths[c] for c in columns)
    left = first if report.kind == "model" else label  # the model report's label is a count
    lines = [_line({c: c for c in columns}, columns, widths, first, left), rule]
    lines.extend(_line(r, columns, widths, first, left) for r in cells)
    lines += [rule, _line(total, columns, widths, first, left)]
    stream.write("\n".join(lines) + "\n")
    from threadline.application.usage import PRICES_FILE

    notes = [f"prices: {report.prices.taken} (USD per million tokens; cost is an estimate)"]
    if report.totals.unpriced:
        unknown = ", ".join(
            f"{m} ({n:,} tokens)" for m, n in sorted(report.totals.unpriced.items())
        )
        notes.append(
            f"unpriced (cost marked +?, not counted): {unknown};"
            f" add them to THREADLINE_HOME/{PRICES_FILE}"
        )
    stream.write("\n".join(notes) + "\n")


def _cells(
    kind: str, key: str, t: Totals, row: ReportRow | None, first: str, label: str
) -> dict[str, str]:
    if kind == "session" and row is not None:
        key = key[:8]
    second = ""
    if row is not None:
        if kind == "session":
            second = " ".join((row.thread.title if row.thread else "").split())
        elif kind == "model":
            second = f"{t.messages:,}"
        else:
            second = ", ".join(_short_model(m) for m in sorted(row.models))
    elif kind == "model":
        second = f"{t.messages:,}"
    cost = (f"${t.cost:,.2f}" if t.cost >= 0.01 or not t.cost else f"${t.cost:.4f}") + (
        " +?" if t.unpriced else ""
    )
    return {
        first: key,
        label: second,
        "input": f"{t.tokens['input']:,}",
        "output": f"{t.tokens['output']:,}",
        "cache write": f"{t.tokens['cache_creation']:,}",
        "cache read": f"{t.tokens['cache_read']:,}",
        "reasoning": f"{t.tokens['reasoning']:,}",
        "total": f"{t.total_tokens:,}",
        "cost": cost,
    }


def _short_model(model: str) -> str:
    import re

    return re.sub(r"-\d{8}$", "", model.removeprefix("claude-"))


def _line(
    cells: dict[str, str], columns: list[str], widths: dict[str, int], first: str, label: str
) -> str:
    out = []
    for c in columns:
        text = cells[c]
        if len(text) > widths[c]:
            text = ("…" + text[-(widths[c] - 1) :]) if c == first else text[: widths[c] - 1] + "…"
        out.append(text.ljust(widths[c]) if c in (first, label) else text.rjust(widths[c]))
    return "  ".join(out).rstrip()
