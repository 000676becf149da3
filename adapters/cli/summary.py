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
    problems = report.all_problems
    rows: list[tuple[str, str]] = [(o, str(report.count(o))) for o in OUTCOMES]
    rows += [
        ("problems", str(len(problems))),
        ("MiB read", f"{report.bytes_read / MIB:.1f}"),
        ("seconds", f"{report.seconds:.2f}"),
    ]
    names = max(len(name) for name, _ in rows)
    values = max(len(value) for _, value in rows)
    lines = ["Import", *(f"{name.ljust(names)}  {value.rjust(values)}" for name, value in rows)]
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
