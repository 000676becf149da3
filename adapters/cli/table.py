"""The thread list as a plain aligned table: one line per thread, fitted to the terminal.

Standard library only, so that ``threadline threads`` starts and prints fast
(a rich Table costs ~0.1 s to import and lay out fifty rows).
"""

from __future__ import annotations

import shutil
import sys
from typing import Any, TextIO

from threadline.adapters.cli.text import cut, one_line, short_path, when

WIDE = 140


def threads_table(rows: list[dict[str, Any]], stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    width = shutil.get_terminal_size((100, 24)).columns
    wide = width >= WIDE
    columns = ["id", "title", "cwd", "branch", "updated", "items"]
    if wide:
        columns[2:2] = ["source"]
        columns[-2:-1] = ["created", "updated"]
        columns.append("parent")
    if any(lineage(row) for row in rows):
        columns.append("from")
    cells = []
    for row, depth in in_tree_order(rows):
        archived = "[archived] " if row.get("archived") else ""
        cells.append(
            {
                "id": row["thread_id"][:8],
                "title": ("  " * depth + "↳ " if depth else "") + archived + one_line(row["title"]),
                "source": row["source_agent"],
                "cwd": short_path(row["cwd"] or "", 40 if wide else 24),
                "branch": cut(row["git_branch"] or "", 20),
                "created": when(row["created_at"]),
                "updated": when(row["updated_at"]),
                "items": str(row["item_count"]),
                "parent": (row["parent_thread_id"] or "")[:8],
                "from": lineage(row),
            }
        )
    widths = {c: max([len(c), *(len(r[c]) for r in cells)]) for c in columns}
    others = sum(widths[c] + 2 for c in columns if c != "title")
    widths["title"] = max(min(widths["title"], width - others), 16)
    lines = [_line({c: c for c in columns}, columns, widths)]
    lines.append("  ".join("─" * widths[c] for c in columns))
    lines.extend(_line(r, columns, widths) for r in cells)
    stream.write("\n".join(lines) + "\n")


def lineage(row: dict[str, Any]) -> str:
    """Which thread this one continues or forks (a Claude Code resume or fork), if any."""
    if row.get("continued_from"):
        return f"cont. {row['continued_from'][:8]}"
    if row.get("forked_from"):
        return f"fork {row['forked_from'][:8]}"
    return ""


def _line(cells: dict[str, str], columns: list[str], widths: dict[str, int]) -> str:
    out = []
    for c in columns:
        text = cut(cells[c], widths[c])
        out.append(text.rjust(widths[c]) if c == "items" else text.ljust(widths[c]))
    return "  ".join(out).rstrip()


def in_tree_order(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int]]:
    """Rows in their order, each child thread moved right under its parent."""
    ids = {r["thread_id"] for r in rows}
    children: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["parent_thread_id"] in ids:
            children.setdefault(r["parent_thread_id"], []).append(r)
    ordered: list[tuple[dict[str, Any], int]] = []

    def visit(row: dict[str, Any], depth: int) -> None:
        ordered.append((row, depth))
        for child in children.get(row["thread_id"], []):
            visit(child, depth + 1)

    for r in rows:
        if r["parent_thread_id"] not in ids:
            visit(r, 0)
    return ordered
