"""``threadline usage``: tokens and estimated cost by day, week, month, thread, model or project.

Reads the usage read model (caught up first if an import left it behind), counts each
API response once (``application/usage.py``), prices it from the shipped table or
``THREADLINE_HOME/pricing.json``, and prints a table with a totals row, or ``--json``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, TextIO

from threadline.adapters.cli.common import EXIT_OK, UserError, location_for, print_json

REPORT_KINDS = ("daily", "weekly", "monthly", "session", "model", "project")
"""``application.usage.REPORT_KINDS``, spelt out here: every command builds the parser, and
only ``usage`` should pay for importing that module."""


def add_parsers(sub: Any) -> None:
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
    p.set_defaults(run=cmd_usage)


def cmd_usage(args: argparse.Namespace) -> int:
    from threadline.adapters.cli.commands import catch_up_for
    from threadline.adapters.queries import open_queries
    from threadline.application.usage import BadPriceTableError, BadUsageQueryError, prices_for
    from threadline.application.views import usage

    location = location_for(args)
    try:
        report = usage(
            lambda: open_queries(location),
            catch_up_for(args),
            catch_up_for(args, rebuild=True),
            prices_for(location.home),
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
        print_json(report)
    elif not report["rows"]:
        print("no usage matches", file=sys.stderr)
    else:
        usage_table(report)
    return EXIT_OK


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


def usage_table(report: dict[str, Any], stream: TextIO | None = None) -> None:
    """One line per row and a totals line, numbers right-aligned, fitted to the terminal.
    ``report`` is the usage view's (``UsageReport.as_dict``)."""
    import shutil

    from threadline.application.usage import KEY_NAMES, PRICES_FILE

    stream = stream or sys.stdout
    width = shutil.get_terminal_size((100, 24)).columns
    kind = report["report"]
    first = _FIRST[kind]
    label = {"session": "title", "model": "messages"}.get(kind, "models")
    columns = [first, label, *_NUMBERS]
    places = cost_places([r["cost"] for r in report["rows"]])
    cells = [_cells(kind, r[KEY_NAMES[kind]], r, r, first, label, places) for r in report["rows"]]
    total = _cells(kind, "total", report["totals"], None, first, label, places)
    widths = {c: max([len(c), *(len(r[c]) for r in [*cells, total])]) for c in columns}
    flexible_columns = ((first, 10),) if kind == "model" else ((label, 12), (first, 10))
    for flexible, least in flexible_columns:
        others = sum(widths[c] + 2 for c in columns if c != flexible)
        widths[flexible] = max(min(widths[flexible], width - others), least)
    rule = "  ".join("─" * widths[c] for c in columns)
    left = first if kind == "model" else label  # the model report's label is a count
    lines = [_line({c: c for c in columns}, columns, widths, first, left), rule]
    lines.extend(_line(r, columns, widths, first, left) for r in cells)
    lines += [rule, _line(total, columns, widths, first, left)]
    stream.write("\n".join(lines) + "\n")

    notes = [f"prices: {report['prices']['taken']} (USD per million tokens; cost is an estimate)"]
    if report["unpriced_models"]:
        unknown = ", ".join(
            f"{u['model']} ({u['tokens']:,} tokens)" for u in report["unpriced_models"]
        )
        notes.append(
            f"unpriced (cost marked +?, not counted): {unknown};"
            f" add them to THREADLINE_HOME/{PRICES_FILE}"
        )
    stream.write("\n".join(notes) + "\n")


def _cells(
    kind: str,
    key: str,
    t: dict[str, Any],
    row: dict[str, Any] | None,
    first: str,
    label: str,
    places: int,
) -> dict[str, str]:
    """A row's cells (``t``: its totals, the row itself or the report's totals)."""
    if kind == "session" and row is not None:
        key = key[:8]
    second = ""
    if kind == "model":
        second = f"{t['messages']:,}"
    elif row is not None:
        if kind == "session":
            second = " ".join((row.get("title") or "").split())
        else:
            second = ", ".join(_short_model(m["model"]) for m in row["models"])
    shown = f"${t['cost']:,.{places}f}"
    return {
        first: key,
        label: second,
        "input": f"{t['input_tokens']:,}",
        "output": f"{t['output_tokens']:,}",
        "cache write": f"{t['cache_creation_tokens']:,}",
        "cache read": f"{t['cache_read_tokens']:,}",
        "reasoning": f"{t['reasoning_tokens']:,}",
        "total": f"{t['total_tokens']:,}",
        "cost": shown + (" +?" if t["unpriced_models"] else ""),
    }


def cost_places(costs: list[float]) -> int:
    """Decimal places for a cost column: cents, or four places for all of it when some
    row costs less than a cent but not nothing (so no row reads $0.00 and the column
    lines up)."""
    return 4 if any(0 < cost < 0.005 for cost in costs) else 2


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
