"""What ``threadline import`` prints when it is done: counts and any problems, or JSON.

Standard library only: an unchanged re-import (every source skipped) takes
~40 ms in all, and importing rich would add ~30 ms to it, orjson ~10 ms. The
progress bars stay rich (``render``); they are only shown while something is
imported.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from threadline.application.reports import OUTCOMES

if TYPE_CHECKING:
    from threadline.application.reports import ImportReport

MIB = 1024 * 1024
MAX_PROBLEMS_SHOWN = 50


def import_summary(report: ImportReport) -> None:
    """Per agent, the outcomes that happened (a column each, and a total for several);
    then problems, MiB read and seconds in all."""
    problems = report.all_problems
    agents = report.agents
    columns = [*agents, "total"] if len(agents) > 1 else agents or ["sources"]
    rows: list[list[str]] = [["Import", *columns]]
    for outcome in OUTCOMES:
        counts = [report.count(outcome, agent) for agent in agents]
        if any(counts):
            rows.append(
                [outcome, *map(str, counts), *([str(sum(counts))] if len(agents) > 1 else [])]
            )
    blank = [""] * (len(columns) - 1)
    rows += [
        ["problems", *blank, str(len(problems))],
        ["MiB read", *blank, f"{report.bytes_read / MIB:.1f}"],
        ["seconds", *blank, f"{report.seconds:.2f}"],
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            [
                row[0].ljust(widths[0]),
                *(v.rjust(w) for v, w in zip(row[1:], widths[1:], strict=True)),
            ]
        ).rstrip()
        for row in rows
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    if problems:
        shown = [f"{len(problems)} problem(s):"]
        shown += [f"  {problem}" for problem in problems[:MAX_PROBLEMS_SHOWN]]
        if len(problems) > MAX_PROBLEMS_SHOWN:
            shown.append(f"  … and {len(problems) - MAX_PROBLEMS_SHOWN} more (see --json)")
        sys.stderr.write("\n".join(shown) + "\n")


ORJSON_FROM = 2_000
"""Problems and sources listed from which orjson writes the report: below, importing it
(it loads ``dataclasses``, ``uuid`` …) costs more than it saves; 300,000 problems take
the standard library's indenting encoder ~1 s, orjson 0.04 s. The bytes are the same."""


def import_json(report: ImportReport) -> None:
    """``--json``: the report as one indented JSON document."""
    data = report.as_json()
    if len(data["problems"]) + len(data["sources"]) >= ORJSON_FROM:
        import orjson

        encoded = orjson.dumps(data, option=orjson.OPT_INDENT_2)
    else:
        import json

        encoded = json.dumps(data, indent=2, ensure_ascii=False).encode()
    sys.stdout.buffer.write(encoded + b"\n")
    sys.stdout.flush()
